/**
 * Classification metrics from true and predicted class indices and scores:
 * confusion matrix ([true][pred], as sklearn), per-class precision, recall
 * and F1, balanced and top-k accuracy, the most confused pairs, and ROC AUC
 * (binary).
 */
import { ConvkitError } from '../util/errors.js';

/** counts[t][p]: images of true class t predicted as p. */
export function confusionMatrix(trueIdx: readonly number[], predIdx: readonly number[], numClasses: number): number[][] {
  if (trueIdx.length !== predIdx.length) throw new ConvkitError(`${trueIdx.length} labels but ${predIdx.length} predictions`, 'pass one prediction per label');
  const m = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  trueIdx.forEach((t, i) => {
    const p = predIdx[i]!;
    if (!(t >= 0 && t < numClasses && p >= 0 && p < numClasses))
      throw new ConvkitError(`class index out of range: true ${t}, predicted ${p} (${numClasses} classes)`, 'check the labels');
    m[t]![p]!++;
  });
  return m;
}

export interface ClassMetrics {
  className: string;
  precision: number;
  recall: number;
  f1: number;
  /** Images of this class. */
  support: number;
}

/** Precision, recall and F1 per class (0 where undefined, as sklearn's zero_division=0). */
export function perClassMetrics(confusion: readonly (readonly number[])[], classNames: readonly string[]): ClassMetrics[] {
  const n = confusion.length;
  return Array.from({ length: n }, (_, c) => {
    const tp = confusion[c]![c]!;
    const support = confusion[c]!.reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((s, row) => s + row[c]!, 0);
    const precision = predicted > 0 ? tp / predicted : 0;
    const recall = support > 0 ? tp / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    return { className: classNames[c] ?? String(c), precision, recall, f1, support };
  });
}

export function accuracyOf(confusion: readonly (readonly number[])[]): number {
  let right = 0,
    all = 0;
  confusion.forEach((row, t) =>
    row.forEach((v, p) => {
      all += v;
      if (t === p) right += v;
    }),
  );
  return all > 0 ? right / all : 0;
}

/**
 * Mean recall over the classes that have images, as sklearn's
 * balanced_accuracy_score: every class counts the same however many images
 * it has, so a model that ignores a rare class cannot hide behind accuracy.
 */
export function balancedAccuracy(confusion: readonly (readonly number[])[]): number {
  let sum = 0,
    classes = 0;
  confusion.forEach((row, c) => {
    const support = row.reduce((a, b) => a + b, 0);
    if (support === 0) return;
    sum += row[c]! / support;
    classes++;
  });
  return classes > 0 ? sum / classes : 0;
}

/**
 * Share of images whose true class is among the `k` most probable. As
 * tf.math.in_top_k, classes tied with the k-th probability count as in the
 * top k: an image is a hit when fewer than k classes score strictly higher
 * than its true class.
 */
export function topKAccuracy(trueIdx: readonly number[], probabilities: readonly (readonly number[])[], k: number): number {
  if (trueIdx.length !== probabilities.length)
    throw new ConvkitError(`${trueIdx.length} labels but ${probabilities.length} rows of probabilities`, 'pass one row of probabilities per label');
  if (!(Number.isInteger(k) && k >= 1)) throw new ConvkitError(`top-k accuracy with k = ${k}`, 'k is a whole number ≥ 1');
  let hits = 0;
  trueIdx.forEach((t, i) => {
    const row = probabilities[i]!;
    const own = row[t]!;
    let higher = 0;
    for (const p of row) if (p > own) higher++;
    if (higher < k) hits++;
  });
  return trueIdx.length ? hits / trueIdx.length : 0;
}

/** Images of one true class predicted as another. */
export interface ConfusedPair {
  trueIndex: number;
  predIndex: number;
  count: number;
  /** count / images of the true class. */
  share: number;
}

/** The `k` largest off-diagonal cells of a confusion matrix, largest first (ties: lower true, then predicted index). */
export function mostConfusedPairs(confusion: readonly (readonly number[])[], k: number): ConfusedPair[] {
  const pairs: ConfusedPair[] = [];
  confusion.forEach((row, t) => {
    const support = row.reduce((a, b) => a + b, 0);
    row.forEach((count, p) => {
      if (t !== p && count > 0) pairs.push({ trueIndex: t, predIndex: p, count, share: count / support });
    });
  });
  pairs.sort((a, b) => b.count - a.count || a.trueIndex - b.trueIndex || a.predIndex - b.predIndex);
  return pairs.slice(0, k);
}

/**
 * Area under the ROC curve for binary labels (1 = positive) and scores,
 * as the Mann–Whitney statistic with tied scores counted half.
 * Undefined when only one class is present.
 */
export function rocAuc(labels: readonly number[], scores: readonly number[]): number | undefined {
  const n = labels.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  const ranks = new Array<number>(n);
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]!] === scores[order[i]!]) j++;
    const avg = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k]!] = avg;
    i = j + 1;
  }
  let pos = 0,
    rankSum = 0;
  labels.forEach((l, i) => {
    if (l === 1) {
      pos++;
      rankSum += ranks[i]!;
    }
  });
  const neg = n - pos;
  if (pos === 0 || neg === 0) return undefined;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/** Mean cross-entropy of class probabilities (Keras's clipping at 1e-7). */
export function crossEntropy(trueIdx: readonly number[], probabilities: readonly (readonly number[])[]): number {
  const eps = 1e-7;
  let sum = 0;
  trueIdx.forEach((t, i) => {
    const p = Math.min(1 - eps, Math.max(eps, probabilities[i]![t]!));
    sum -= Math.log(p);
  });
  return trueIdx.length ? sum / trueIdx.length : NaN;
}
