/**
 * Optimizers by Keras name and learning-rate schedules. A schedule maps
 * training progress (0 → 1) to a multiplier of the base learning rate.
 */
import * as tf from '@tensorflow/tfjs';
import { ConvkitError } from '../util/errors.js';
import { FusedAdam, FusedRMSProp } from './fused-optimizers.js';

export type OptimizerName = 'rmsprop' | 'adam' | 'sgd';
export const OPTIMIZERS: readonly OptimizerName[] = ['rmsprop', 'adam', 'sgd'];

export interface OptimizerOptions {
  learningRate: number;
  /** SGD momentum (0 = plain SGD); RMSprop momentum. */
  momentum?: number;
  nesterov?: boolean;
}

export function makeOptimizer(name: string, options: OptimizerOptions): tf.Optimizer {
  const { learningRate, momentum = 0, nesterov = false } = options;
  if (!(learningRate > 0) || !Number.isFinite(learningRate)) {
    throw new ConvkitError(`invalid learning rate ${learningRate}`, 'use a positive number such as 1e-4 (--learning-rate)');
  }
  switch (name) {
    case 'rmsprop':
      // Keras's RMSprop defaults: rho 0.9, epsilon 1e-7.
      return new FusedRMSProp(learningRate, 0.9, momentum, 1e-7);
    case 'adam':
      return new FusedAdam(learningRate, 0.9, 0.999, 1e-7);
    case 'sgd':
      return momentum > 0 ? tf.train.momentum(learningRate, momentum, nesterov) : tf.train.sgd(learningRate);
    default:
      throw new ConvkitError(`unknown optimizer ${JSON.stringify(name)}`, `use one of ${OPTIMIZERS.join(', ')}`);
  }
}

/** Reads an optimizer's current learning rate. */
export function getLearningRate(opt: tf.Optimizer): number {
  return (opt as unknown as { learningRate: number }).learningRate;
}

/** Changes an optimizer's learning rate in place (SGD keeps it in a tensor). */
export function setLearningRate(opt: tf.Optimizer, lr: number): void {
  const o = opt as unknown as { learningRate: number; setLearningRate?: (lr: number) => void };
  if (typeof o.setLearningRate === 'function') o.setLearningRate(lr);
  else o.learningRate = lr;
}

export type ScheduleName = 'constant' | 'cosine' | 'one-cycle' | 'flat-cosine';
export const SCHEDULES: readonly ScheduleName[] = ['constant', 'cosine', 'one-cycle', 'flat-cosine'];

export interface ScheduleOptions {
  /** Fraction of training spent warming up linearly (cosine), rising (one-cycle) or flat (flat-cosine); default 0.05 / 0.3 / 0.75. */
  warmup?: number;
  /** Final multiplier; default 0.01 for cosine, 1e-4 for one-cycle and 1e-5 for flat-cosine. */
  floor?: number;
}

/** Multiplier of the base learning rate at progress `t` ∈ [0, 1]. */
export type Schedule = (t: number) => number;

export function makeSchedule(name: ScheduleName | undefined, options: ScheduleOptions = {}): Schedule {
  switch (name ?? 'constant') {
    case 'constant':
      return () => 1;
    case 'cosine': {
      const warm = options.warmup ?? 0.05,
        floor = options.floor ?? 0.01;
      return (t) => {
        if (t < warm) return (t + 1e-3) / (warm + 1e-3);
        const u = (t - warm) / Math.max(1e-9, 1 - warm);
        return floor + (1 - floor) * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, u)));
      };
    }
    case 'one-cycle': {
      // fastai's one-cycle: cosine up from lr/25 to lr, then cosine down to ~0.
      const warm = options.warmup ?? 0.3,
        floor = options.floor ?? 1e-4,
        start = 1 / 25;
      const cos = (a: number, b: number, u: number) => b + (a - b) * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, Math.max(0, u))));
      return (t) => (t < warm ? cos(start, 1, t / warm) : cos(1, floor, (t - warm) / Math.max(1e-9, 1 - warm)));
    }
    case 'flat-cosine': {
      // fastai's fit_flat_cos (the Imagenette leaderboard's): the base rate for the first 75 %, then cosine down to lr/1e5.
      const flat = options.warmup ?? 0.75,
        floor = options.floor ?? 1e-5;
      return (t) => (t < flat ? 1 : floor + (1 - floor) * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, (t - flat) / Math.max(1e-9, 1 - flat)))));
    }
    default:
      throw new ConvkitError(`unknown learning-rate schedule ${JSON.stringify(name)}`, `use one of ${SCHEDULES.join(', ')}`);
  }
}
