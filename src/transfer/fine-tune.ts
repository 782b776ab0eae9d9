/**
 * fastai's `fine_tune` over freeze/fit/unfreeze: train the head with the base
 * frozen for `freezeEpochs`, then unfreeze (all, or the top blocks) and
 * train `epochs` more at half the learning rate, both with a one-cycle schedule.
 */
import * as tf from '@tensorflow/tfjs';
import { fit, type FitOptions, type FitResult } from '../train/fit.js';
import type { BatchData } from '../train/batches.js';
import { freeze, unfreeze, type UnfreezeOptions } from './freeze.js';
import { leafLayers } from './graph.js';

export interface FineTuneOptions extends Omit<FitOptions, 'epochs' | 'learningRate' | 'initialEpoch'> {
  /** Epochs with the base frozen (default 1). */
  freezeEpochs?: number;
  /** Epochs after unfreezing. */
  epochs: number;
  /** Learning rate of the frozen phase; the unfrozen phase uses half (fastai default 2e-3). */
  baseLr?: number;
  /** Divides the unfrozen phase's rate further (default 1; fastai spreads lr_mult=100 over layer groups). */
  lrMult?: number;
  /** Last layer of the frozen part, or how many leading layers (default: every layer before the head). */
  freezeUpTo?: string | number;
  /** What to unfreeze for the second phase (default: the whole model). */
  unfreeze?: UnfreezeOptions;
  /** Training function (default src/train's fit). */
  fitFn?: (model: tf.LayersModel, data: BatchData, options: FitOptions) => Promise<FitResult>;
}

/** Every layer before the head: layers named head_* (convkit's heads), else all but the last layer with weights. */
export function defaultFreezeUpTo(model: tf.LayersModel): number {
  const layers = leafLayers(model);
  const head = layers.findIndex((l) => l.name.startsWith('head_'));
  if (head >= 0) return head;
  let last = layers.length - 1;
  while (last > 0 && layers[last]!.weights.length === 0) last--;
  return last;
}

export interface FineTuneResult {
  frozen: FitResult;
  unfrozen: FitResult;
}

export async function fineTune(model: tf.LayersModel, data: BatchData, options: FineTuneOptions): Promise<FineTuneResult> {
  const { freezeEpochs = 1, epochs, baseLr = 2e-3, lrMult = 1, freezeUpTo, fitFn = fit, ...rest } = options;
  const common = { schedule: 'one-cycle' as const, ...rest };
  freeze(model, { upTo: freezeUpTo ?? defaultFreezeUpTo(model) });
  const frozen = await fitFn(model, data, { ...common, epochs: freezeEpochs, learningRate: baseLr });
  unfreeze(model, options.unfreeze ?? {});
  const unfrozen = await fitFn(model, data, { ...common, epochs, learningRate: baseLr / 2 / lrMult });
  return { frozen, unfrozen };
}
