/**
 * The training stage every transfer recipe shares: fit the trainable part
 * of the model (a head on cached features, the suffix after a cached frozen
 * prefix, or the whole model on images) with the run's settings and the
 * user's hooks, keep its best epoch, and score that epoch on the whole
 * validation set and the test set.
 */
import type * as tf from '@tensorflow/tfjs';
import { ConvkitError } from '../util/errors.js';
import { fit, evaluateLossAcc, type FitOptions, type FitResult } from '../train/fit.js';
import { KeepBestWeights } from '../train/callbacks.js';
import type { BatchData } from '../train/batches.js';
import { plateauCallbacks } from '../train/callbacks.js';
import { CachedActivations } from './prefix-cache.js';
import type { FeatureSet } from './feature-cache.js';
import type { TransferOptions } from './options.js';

/** The recipe's progress lines (none when silent). */
export const say = (o: TransferOptions) => (line: string) => {
  if (!o.silent) (o.log ?? ((l: string) => console.error(l)))(line);
};

/** The numbers of one fit. */
export interface RunSettings {
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
}

/** What every transfer fit shares: the run's settings, the kept best epoch, early stopping, plateaus and the user's hooks. */
function fitOptions(o: TransferOptions, s: RunSettings, classMode: 'binary' | 'categorical', keep: KeepBestWeights): FitOptions {
  const plateau = plateauCallbacks(o, keep.monitor, say(o));
  return {
    epochs: s.epochs,
    batchSize: s.batchSize,
    learningRate: s.learningRate,
    seed: s.seed,
    optimizer: o.optimizer ?? 'rmsprop',
    momentum: o.momentum,
    schedule: o.schedule,
    labelSmoothing: o.labelSmoothing,
    stepsPerEpoch: o.stepsPerEpoch,
    validationSteps: o.validationSteps,
    classMode,
    verbose: !o.silent,
    signal: o.signal,
    callbacks: [keep, ...plateau.callbacks, ...(o.callbacks ?? [])],
  };
}

/** Where the trainable part of a model trains and is scored: its cached inputs, or images through the whole model. */
export interface Stage {
  /** What fit() trains: the suffix after the frozen prefix, a head, or the whole model. */
  net: tf.LayersModel;
  train: BatchData;
  /** The whole validation set, in order. */
  validation: BatchData;
  /** Validation sets served in a seeded random order, for validationSteps (the sorted files would give one class only). */
  shuffledValidation: () => BatchData | Promise<BatchData>;
  /** The test set the same way, prepared only when asked for. */
  test?: () => Promise<BatchData>;
}

/**
 * Trains `stage.net` keeping its best epoch, then scores that epoch on the
 * whole validation set and the test set. An interrupted run skips the
 * scoring (long passes over the images after Ctrl-C) and keeps its best
 * epoch so far, like a checkpoint.
 */
export async function trainStage(
  stage: Stage,
  o: TransferOptions,
  s: RunSettings,
  classMode: 'binary' | 'categorical',
): Promise<{ history: FitResult; metrics: Record<string, number> }> {
  const keep = new KeepBestWeights({ monitor: o.monitor });
  const validationData = o.validationSteps === undefined ? stage.validation : await stage.shuffledValidation();
  const history = await fit(stage.net, stage.train, { ...fitOptions(o, s, classMode, keep), validationData });
  if (history.epoch.length === 0) {
    o.signal?.throwIfAborted();
    throw new ConvkitError('training stopped before the first epoch ended; no model was saved', 'let at least one epoch finish');
  }
  const metrics: Record<string, number> = { bestEpoch: keep.bestEpoch + 1 };
  if (history.stopReason === 'interrupted') return { history, metrics };
  const v = await evaluateLossAcc(stage.net, stage.validation, { batchSize: s.batchSize });
  Object.assign(metrics, { val_loss: v.loss, val_acc: v.acc });
  if (stage.test) {
    const t = await evaluateLossAcc(stage.net, await stage.test(), { batchSize: s.batchSize });
    Object.assign(metrics, { test_loss: t.loss, test_acc: t.acc });
  }
  return { history, metrics };
}

/** Cached activations served as batches, in order or shuffled anew each pass (seeded). */
export function batchesOf(sets: FeatureSet[], batchSize: number, seed: number, shuffle: boolean, classMode: string): CachedActivations {
  return new CachedActivations(sets, { batchSize, seed, shuffle, classMode });
}
