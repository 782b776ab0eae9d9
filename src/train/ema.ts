/**
 * An exponential moving average of the weights (Polyak averaging, Keras's
 * optimizer `use_ema`): after every optimizer step each trainable weight's
 * shadow becomes decay · shadow + (1 − decay) · weight, starting from the
 * weights training began with. The average of a noisy trajectory usually
 * validates better than its last point, late in training and at high rates.
 *
 * As in Keras, only the trainable weights are averaged: the model's other
 * weights (BatchNormalization's moving mean and variance) are copied as they
 * are when the averaged weights are put in the model.
 */
import * as tf from '@tensorflow/tfjs';
import { check } from '../util/errors.js';
import { resolveMode, type MonitorMode } from './callbacks.js';

export interface EmaOptions {
  /** Weight of the old average at each step (e.g. 0.999): about 1 / (1 − decay) steps are averaged. */
  decay: number;
  /** The validation metric that picks, each epoch, between the averaged and the trained weights (default 'val_loss'). */
  monitor?: string;
  mode?: MonitorMode;
}

export class WeightEma {
  readonly decay: number;
  /** Optimizer steps averaged so far. */
  updates = 0;
  private readonly shadow: tf.Variable[];
  private saved?: tf.Tensor[];

  constructor(
    private readonly vars: readonly tf.Variable[],
    decay: number,
  ) {
    check(decay > 0 && decay < 1, 'ema decay', decay, 'a number between 0 and 1, such as 0.999');
    this.decay = decay;
    this.shadow = vars.map((v) => tf.tidy(() => tf.variable(v.clone(), false)));
  }

  /** One step of the average, after an optimizer step. */
  update(): void {
    const d = this.decay;
    tf.tidy(() => this.vars.forEach((v, i) => this.shadow[i]!.assign(tf.add(tf.mul(this.shadow[i]!, d), tf.mul(v, 1 - d)))));
    this.updates++;
  }

  /** The averaged weights, copied (for tests and reports). */
  averages(): tf.Tensor[] {
    return this.shadow.map((s) => s.clone());
  }

  /** True while the model holds the averaged weights. */
  get swappedIn(): boolean {
    return this.saved !== undefined;
  }

  /** Puts the averaged weights in the model, keeping the trained ones aside. */
  swapIn(): void {
    if (this.saved) return;
    this.saved = this.vars.map((v) => v.clone());
    this.vars.forEach((v, i) => v.assign(this.shadow[i]!));
  }

  /** Puts the trained weights back. */
  swapOut(): void {
    if (!this.saved) return;
    const saved = this.saved;
    this.vars.forEach((v, i) => v.assign(saved[i]!));
    tf.dispose(saved);
    this.saved = undefined;
  }

  /** Leaves the averaged weights in the model for good. */
  commit(): void {
    this.swapIn();
    tf.dispose(this.saved);
    this.saved = undefined;
  }

  dispose(): void {
    tf.dispose(this.saved);
    this.saved = undefined;
    tf.dispose(this.shadow);
  }
}

/**
 * Which weights an epoch offers: the averaged ones when they validate better
 * on `monitor` (ties keep the trained ones). The epoch's `val_*` logs become
 * the chosen weights' scores; both sets stay in `raw_val_*` and `ema_val_*`,
 * and `ema` is 1 when the average was chosen.
 */
export function chooseEmaLogs(
  raw: { loss: number; acc: number },
  averaged: { loss: number; acc: number },
  options: { monitor?: string; mode?: MonitorMode },
): { chosen: boolean; logs: Record<string, number> } {
  const monitor = options.monitor ?? 'val_loss';
  const key = monitor.replace(/^val_/, '') === 'acc' ? 'acc' : 'loss';
  const better = resolveMode(monitor, options.mode) === 'max' ? averaged[key] > raw[key] : averaged[key] < raw[key];
  const pick = better ? averaged : raw;
  return {
    chosen: better,
    logs: {
      val_loss: pick.loss,
      val_acc: pick.acc,
      raw_val_loss: raw.loss,
      raw_val_acc: raw.acc,
      ema_val_loss: averaged.loss,
      ema_val_acc: averaged.acc,
      ema: better ? 1 : 0,
    },
  };
}

/** One log line: which weights the kept epoch holds and how both validated; undefined when the run kept no average. */
export function describeEmaChoice(history: { epoch: number[]; history: Record<string, number[]> }, keptEpoch: number): string | undefined {
  const at = history.epoch.indexOf(keptEpoch);
  const h = history.history;
  if (at < 0 || !h.ema || h.ema[at] === undefined) return undefined;
  const acc = (k: string) => h[k]![at]!.toFixed(4);
  return `kept epoch ${keptEpoch + 1}: its ${h.ema[at] ? 'averaged (EMA)' : 'trained'} weights, chosen by validation (val_acc ${acc('ema_val_acc')} averaged, ${acc('raw_val_acc')} trained)`;
}
