/**
 * The learning-rate range test (Leslie Smith, 2015; fastai's lr_find): train
 * for up to `numIt` mini-batches while the rate grows exponentially from
 * `startLr` to `endLr`, record the loss after each, and stop once the
 * smoothed loss passes `divergence` × its minimum. The model's weights
 * (BatchNormalization statistics included) are put back afterwards and the
 * optimizer is a fresh one, so the test leaves nothing behind.
 *
 * As fastai: batch i runs at startLr · (endLr/startLr)^(i/numIt); the loss is
 * smoothed by a debiased exponential average (β = 0.98); the suggestion is
 * fastai's default, the `valley` — the longest stretch of falling loss, at
 * roughly two thirds of the way down it — computed on the curve without its
 * first tenth and last five points. The steepest-slope and minimum/10 rates
 * are given beside it.
 */
import * as tf from '@tensorflow/tfjs';
import { ConvkitError, check } from '../util/errors.js';
import { Progress } from '../util/progress.js';
import type { BatchData } from './batches.js';
import { fit, NonFiniteLossError } from './fit.js';
import type { LabelMode } from './losses.js';
import { getLearningRate, makeOptimizer, type OptimizerName } from './optimizers.js';

export interface LrFindOptions {
  /** First rate (default 1e-7, fastai's). */
  startLr?: number;
  /** Last rate (default 10). */
  endLr?: number;
  /** Mini-batches at most (default 100). */
  numIt?: number;
  /** Stop once the smoothed loss exceeds this multiple of its minimum (default 4). */
  divergence?: number;
  /** Smoothing of the loss (default 0.98). */
  beta?: number;
  optimizer?: OptimizerName;
  momentum?: number;
  /** Batch size for in-memory tensors (default 32). */
  batchSize?: number;
  classMode?: LabelMode;
  labelSmoothing?: number;
  classWeights?: readonly number[];
  /** Seeds the dropout masks and the order of in-memory tensors (default 1). */
  seed?: number;
  /** Show a progress line (default true). */
  verbose?: boolean;
  signal?: AbortSignal;
}

export type LrSuggestionMethod = 'valley' | 'steepest' | 'minimum';

export interface LrFindResult {
  /** Rate of each batch run. */
  lrs: number[];
  /** Training loss of each batch. */
  losses: number[];
  /** Debiased exponential average of the losses. */
  smoothed: number[];
  /** The rate to train at: `valley`, unless the curve is too short for it (then `minimum`). */
  suggestion: number;
  method: LrSuggestionMethod;
  valley?: number;
  steepest?: number;
  /** Rate of the lowest smoothed loss, divided by 10. */
  minimum: number;
  /** The smoothed loss passed `divergence` × its minimum (or became NaN) before numIt batches. */
  diverged: boolean;
  /** Stopped by Ctrl-C or the signal. */
  interrupted: boolean;
  seconds: number;
}

/** fastai's debiased exponential average of a loss sequence. */
export function smoothLosses(losses: readonly number[], beta = 0.98): number[] {
  let avg = 0;
  return losses.map((l, i) => {
    avg = beta * avg + (1 - beta) * l;
    return avg / (1 - beta ** (i + 1));
  });
}

/** fastai's `valley`: index of the point about two thirds down the longest run of falling losses. */
export function valleyIndex(losses: readonly number[]): number {
  const n = losses.length;
  let maxStart = 0,
    maxEnd = 0;
  const lds = new Array<number>(n).fill(1);
  for (let i = 1; i < n; i++) {
    for (let j = 0; j < i; j++) {
      if (losses[i]! < losses[j]! && lds[i]! < lds[j]! + 1) lds[i] = lds[j]! + 1;
      if (lds[maxEnd]! < lds[i]!) {
        maxEnd = i;
        maxStart = maxEnd - lds[maxEnd]!;
      }
    }
  }
  const sections = (maxEnd - maxStart) / 3;
  return maxStart + Math.trunc(sections) + Math.trunc(sections / 2);
}

/** fastai's `steep`: index of the most negative slope of loss against log(rate). */
export function steepestIndex(lrs: readonly number[], losses: readonly number[]): number {
  let best = 0,
    bestSlope = Infinity;
  for (let i = 0; i + 1 < losses.length; i++) {
    const slope = (losses[i + 1]! - losses[i]!) / (Math.log(lrs[i + 1]!) - Math.log(lrs[i]!));
    if (slope < bestSlope) {
      bestSlope = slope;
      best = i;
    }
  }
  return best;
}

/** The suggestions from a recorded curve, as fastai computes them (first tenth and last five points left out). */
export function suggestLearningRate(
  lrs: readonly number[],
  smoothed: readonly number[],
  numIt: number,
): Pick<LrFindResult, 'suggestion' | 'method' | 'valley' | 'steepest' | 'minimum'> {
  const finite = smoothed.findIndex((l) => !Number.isFinite(l));
  const end = finite < 0 ? smoothed.length : finite;
  let lowest = 0;
  for (let i = 1; i < end; i++) if (smoothed[i]! < smoothed[lowest]!) lowest = i;
  const minimum = lrs[lowest]! / 10;
  const from = Math.floor(numIt / 10),
    to = Math.min(end, smoothed.length - 5);
  if (to - from < 3) return { suggestion: minimum, method: 'minimum', minimum };
  const l = lrs.slice(from, to),
    s = smoothed.slice(from, to);
  const valley = l[valleyIndex(s)]!;
  return { suggestion: valley, method: 'valley', valley, steepest: l[steepestIndex(l, s)]!, minimum };
}

/**
 * Runs the range test on `model` with `data` and returns the curve and the
 * suggested rate; the model's weights are the same afterwards, bit for bit.
 */
export async function lrFind(model: tf.LayersModel, data: BatchData, options: LrFindOptions = {}): Promise<LrFindResult> {
  const { startLr = 1e-7, endLr = 10, numIt = 100, divergence = 4, beta = 0.98, verbose = true } = options;
  check(startLr > 0 && endLr > startLr && Number.isFinite(endLr), 'lrFind startLr/endLr', [startLr, endLr], 'two rates with 0 < startLr < endLr');
  check(Number.isInteger(numIt) && numIt >= 6, 'lrFind numIt', numIt, 'an integer ≥ 6');
  check(divergence > 1, 'lrFind divergence', divergence, 'a number > 1');
  const t0 = performance.now();
  const saved = model.getWeights().map((w) => w.clone());
  const optimizer = makeOptimizer(options.optimizer ?? 'rmsprop', { learningRate: startLr, momentum: options.momentum });
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([stop.signal, options.signal]) : stop.signal;
  const lrs: number[] = [],
    losses: number[] = [],
    smoothed: number[] = [];
  let avg = 0,
    best = Infinity,
    diverged = false;
  const progress = new Progress({ total: numIt, label: 'lr-find', unit: 'batch', silent: !verbose });
  const ratio = endLr / startLr;
  try {
    await fit(model, data, {
      epochs: 1,
      stepsPerEpoch: numIt,
      optimizer,
      schedule: (t) => ratio ** t,
      batchSize: options.batchSize ?? 32,
      classMode: options.classMode,
      labelSmoothing: options.labelSmoothing,
      classWeights: options.classWeights,
      seed: options.seed ?? 1,
      verbose: false,
      signal,
      callbacks: [
        {
          onBatchEnd(i, logs) {
            const loss = logs.batch_loss!;
            // The rate this batch ran at, as the optimizer held it.
            lrs.push(getLearningRate(optimizer));
            losses.push(loss);
            avg = beta * avg + (1 - beta) * loss;
            const s = avg / (1 - beta ** (i + 1));
            smoothed.push(s);
            best = Math.min(best, s);
            progress.tick(1, `lr ${lrs[lrs.length - 1]!.toExponential(2)} loss ${s.toFixed(4)}`);
            if (s > divergence * best || !Number.isFinite(s)) {
              diverged = true;
              stop.abort();
            }
          },
        },
      ],
    });
  } catch (err) {
    if (!(err instanceof NonFiniteLossError) || lrs.length === 0) throw err;
    diverged = true;
  } finally {
    progress.finish(diverged ? `stopped: the loss diverged at lr ${lrs[lrs.length - 1]?.toExponential(2)}` : undefined);
    model.setWeights(saved);
    tf.dispose(saved);
    optimizer.dispose();
  }
  if (lrs.length === 0) {
    options.signal?.throwIfAborted();
    throw new ConvkitError('the learning-rate finder ran no batch', 'check that the training data holds images');
  }
  return {
    lrs,
    losses,
    smoothed,
    ...suggestLearningRate(lrs, smoothed, numIt),
    diverged,
    interrupted: !diverged && lrs.length < numIt,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** What convkit.json and the log keep of a range test: the chosen rate and how it was found. */
export function summarizeLrFind(r: LrFindResult): Record<string, unknown> {
  return {
    suggestion: r.suggestion,
    method: r.method,
    ...(r.valley !== undefined && { valley: r.valley }),
    ...(r.steepest !== undefined && { steepest: r.steepest }),
    minimum: r.minimum,
    batches: r.lrs.length,
    from: r.lrs[0],
    to: r.lrs[r.lrs.length - 1],
    diverged: r.diverged,
  };
}

/** One log line about a range test. */
export function describeLrFind(r: LrFindResult): string {
  const others = [r.steepest !== undefined && `steepest ${r.steepest.toExponential(1)}`, `minimum/10 ${r.minimum.toExponential(1)}`].filter(Boolean).join(', ');
  const span = `${r.lrs.length} batches, lr ${r.lrs[0]!.toExponential(0)} → ${r.lrs[r.lrs.length - 1]!.toExponential(1)}${r.diverged ? ', stopped when the loss diverged' : ''}`;
  return `learning-rate finder: suggestion ${r.suggestion.toExponential(2)} (${r.method}; ${others}; ${span}, ${r.seconds.toFixed(1)} s)`;
}
