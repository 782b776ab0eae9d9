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
import { chooseClassWeights, classCounts, type ClassWeightChoice } from '../train/class-balance.js';
import { describeLrFind, lrFind, summarizeLrFind, type LrFindOptions, type LrFindResult } from '../train/lr-find.js';
import type { DirectoryIterator } from '../data/iterator.js';
import { describeEmaChoice } from '../train/ema.js';
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
  /** One loss weight per class (classWeightsFor). */
  classWeights?: number[];
  /** Discriminative rates: multipliers of learningRate by layer name. */
  lrMultipliers?: ReadonlyMap<string, number>;
}

/** The class weights of a run from its training split and the options, logged (as a warning when 'auto' turned them on). */
export function classWeightsFor(o: TransferOptions, train: DirectoryIterator): ClassWeightChoice {
  const choice = chooseClassWeights(classCounts(train.labels, train.classNames.length), o.classWeight ?? 'auto', train.classNames, {
    balancedSampling: o.sampling === 'balanced',
  });
  if (choice.warn || choice.weights) say(o)(`${choice.warn ? 'warning: ' : ''}${choice.reason}`);
  return choice;
}

/** What convkit.json records of the class weights. */
export function classWeightMeta(c: ClassWeightChoice): Record<string, unknown> {
  return { mode: c.mode, weights: c.weights ?? null, counts: c.counts, reason: c.reason };
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
    classWeights: s.classWeights,
    lrMultipliers: s.lrMultipliers,
    ema: o.ema === undefined ? undefined : { decay: o.ema, monitor: keep.monitor },
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
  /** Another stream of the training batches, for the learning-rate finder, so that training sees the batches it would see without it. */
  freshTrain?: () => BatchData | Promise<BatchData>;
}

/** The range test on the stage's trainable part and training data (the weights are put back afterwards). */
export async function findStageLr(
  stage: Stage,
  o: TransferOptions,
  s: RunSettings,
  classMode: 'binary' | 'categorical',
  finder: LrFindOptions = {},
): Promise<LrFindResult> {
  return lrFind(stage.net, (await stage.freshTrain?.()) ?? stage.train, {
    optimizer: o.optimizer ?? 'rmsprop',
    momentum: o.momentum,
    batchSize: s.batchSize,
    classMode,
    labelSmoothing: o.labelSmoothing,
    classWeights: s.classWeights,
    seed: s.seed,
    verbose: !o.silent,
    signal: o.signal,
    ...finder,
  });
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
): Promise<{ history: FitResult; metrics: Record<string, number>; learningRate: number; lrFinder?: Record<string, unknown> }> {
  let lrFinder: Record<string, unknown> | undefined;
  if (o.autoLearningRate) {
    const found = await findStageLr(stage, o, s, classMode);
    say(o)(`${describeLrFind(found)}; training at it`);
    s = { ...s, learningRate: found.suggestion };
    lrFinder = summarizeLrFind(found);
  }
  const keep = new KeepBestWeights({ monitor: o.monitor });
  const validationData = o.validationSteps === undefined ? stage.validation : await stage.shuffledValidation();
  const history = await fit(stage.net, stage.train, { ...fitOptions(o, s, classMode, keep), validationData });
  if (history.epoch.length === 0) {
    o.signal?.throwIfAborted();
    throw new ConvkitError('training stopped before the first epoch ended; no model was saved', 'let at least one epoch finish');
  }
  const metrics: Record<string, number> = { bestEpoch: keep.bestEpoch + 1 };
  const done = { history, metrics, learningRate: s.learningRate, lrFinder };
  if (o.ema !== undefined) {
    metrics.ema = history.history.ema?.[history.epoch.indexOf(keep.bestEpoch)] ?? 0;
    const line = describeEmaChoice(history, keep.bestEpoch);
    if (line) say(o)(line);
  }
  if (history.stopReason === 'interrupted') return done;
  const v = await evaluateLossAcc(stage.net, stage.validation, { batchSize: s.batchSize });
  Object.assign(metrics, { val_loss: v.loss, val_acc: v.acc });
  if (stage.test) {
    const t = await evaluateLossAcc(stage.net, await stage.test(), { batchSize: s.batchSize });
    Object.assign(metrics, { test_loss: t.loss, test_acc: t.acc });
  }
  return done;
}

/** Cached activations served as batches, in order or shuffled anew each pass (seeded). */
export function batchesOf(sets: FeatureSet[], batchSize: number, seed: number, shuffle: boolean, classMode: string): CachedActivations {
  return new CachedActivations(sets, { batchSize, seed, shuffle, classMode });
}
