/**
 * Classification metrics from true and predicted class indices and scores:
 * confusion matrix ([true][pred], as sklearn), per-class precision, recall
 * and F1, and ROC AUC (binary).
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
