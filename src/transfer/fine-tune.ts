/**
 * fastai's `fine_tune` over freeze/fit/unfreeze: train the head with the base
 * frozen for `freezeEpochs`, then unfreeze (all, or the top blocks) and
 * train `epochs` more at half the learning rate, both with a one-cycle
 * schedule. With `lrMult` > 1 the unfrozen phase uses discriminative rates
 * as fastai does: the head at half the rate, the earliest unfrozen block
 * `lrMult` times lower, the blocks between spread geometrically.
 */
import * as tf from '@tensorflow/tfjs';
import { fit, type FitOptions, type FitResult } from '../train/fit.js';
import type { BatchData } from '../train/batches.js';
import { freeze, unfreeze, type UnfreezeOptions } from './freeze.js';
import { leafLayers } from './graph.js';
import { discriminativeMultipliers, trainableGroups } from './discriminative.js';

export interface FineTuneOptions extends Omit<FitOptions, 'epochs' | 'learningRate' | 'initialEpoch'> {
  /** Epochs with the base frozen (default 1). */
  freezeEpochs?: number;
  /** Epochs after unfreezing. */
  epochs: number;
  /** Learning rate of the frozen phase; the unfrozen phase uses half (fastai default 2e-3). */
  baseLr?: number;
  /**
   * Ratio of the head's rate to the earliest unfrozen block's in the
   * unfrozen phase (default 1: one rate; fastai uses 100). A model without
   * blocks has one rate, divided by lrMult.
   */
  lrMult?: number;
  /** The block of a layer, for the discriminative rates (default: the shipped bases' block names). */
  blockOf?: (layerName: string) => string | undefined;
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
  const { freezeEpochs = 1, epochs, baseLr = 2e-3, lrMult = 1, freezeUpTo, fitFn = fit, blockOf, ...rest } = options;
  const common = { schedule: 'one-cycle' as const, ...rest };
  freeze(model, { upTo: freezeUpTo ?? defaultFreezeUpTo(model) });
  const frozen = await fitFn(model, data, { ...common, epochs: freezeEpochs, learningRate: baseLr });
  unfreeze(model, { blockOf, ...options.unfreeze });
  const top = baseLr / 2;
  const spread = lrMult > 1 && trainableGroups(model, blockOf).length >= 2;
  const rates = spread
    ? { learningRate: top, lrMultipliers: discriminativeMultipliers(model, { lowest: top / lrMult, highest: top }, blockOf) }
    : { learningRate: top / lrMult };
  const unfrozen = await fitFn(model, data, { ...common, epochs, ...rates });
  return { frozen, unfrozen };
}
