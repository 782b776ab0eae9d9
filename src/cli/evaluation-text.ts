/**
 * `convkit evaluate`'s terminal text. A confusion matrix stays readable up
 * to about a dozen classes; beyond that the text shows the per-class table
 * worst recall first (cut after a screenful, saying how many are left out)
 * and the pairs most often confused, and --json has everything. The text
 * stays a few kB whatever the number of classes.
 */
import type { EvaluationResult } from '../train/evaluate.js';
import { mostConfusedPairs, type ClassMetrics } from '../train/metrics.js';
import { listNames } from '../util/list-names.js';

/** Most classes whose full confusion matrix is printed. */
const MAX_MATRIX_CLASSES = 12;
/** Rows of the per-class table when there are more classes than that. */
const SHOWN_CLASSES = 20;
/** Confused pairs listed. */
const SHOWN_PAIRS = 10;
/** Class names longer than this are cut in tables (--json has them whole). */
const MAX_NAME = 40;

export function formatEvaluation(r: EvaluationResult, views: number): string[] {
  const n = r.classNames.length;
  if (n <= MAX_MATRIX_CLASSES) return [headline(r, views), '', ...matrixTable(r), '', ...metricsTable(r.perClass)];
  const worst = byRecall(r.perClass);
  const shown = worst.slice(0, SHOWN_CLASSES);
  const left = r.perClass.length - shown.length;
  return [
    headline(r, views),
    `${n} classes: ${listNames(r.classNames.map(cut), 10)}`,
    '',
    left > 0 ? `the ${shown.length} classes with the lowest recall (of ${n}):` : 'classes, lowest recall first:',
    ...metricsTable(shown),
    ...(left > 0 ? [`… and ${left} more classes`] : []),
    '',
    'most confused (true → predicted: images, share of the true class):',
    ...confusedPairs(r, SHOWN_PAIRS),
    '',
    "the full confusion matrix and every class's metrics: convkit evaluate --json",
  ];
}

function headline(r: EvaluationResult, views: number): string {
  const parts = [`accuracy ${r.accuracy.toFixed(4)}`];
  if (r.classNames.length > 2) parts.push(`balanced ${r.balancedAccuracy.toFixed(4)}`);
  if (r.topK) parts.push(`top-${r.topK.k} ${r.topK.accuracy.toFixed(4)}`);
  parts.push(`loss ${r.loss.toFixed(4)}`, `n ${r.n}`);
  if (r.rocAuc !== undefined) parts.push(`ROC AUC ${r.rocAuc.toFixed(4)}`);
  if (views > 1) parts.push(`(${views}-view TTA)`);
  return parts.join('  ');
}

function cut(name: string): string {
  return name.length <= MAX_NAME ? name : `${name.slice(0, MAX_NAME - 1)}…`;
}

function nameWidth(names: readonly string[]): number {
  return Math.max(10, ...names.map((c) => cut(c).length)) + 2;
}

function matrixTable(r: EvaluationResult): string[] {
  const w = nameWidth(r.classNames);
  return [
    'confusion (rows: true, columns: predicted)',
    `${''.padEnd(w)}${r.classNames.map((c) => cut(c).padStart(w)).join('')}`,
    ...r.confusion.map((row, i) => `${cut(r.classNames[i]!).padEnd(w)}${row.map((n) => String(n).padStart(w)).join('')}`),
  ];
}

function metricsTable(classes: readonly ClassMetrics[]): string[] {
  const w = nameWidth(classes.map((c) => c.className));
  return [
    `${'class'.padEnd(w)}${['precision', 'recall', 'f1', 'support'].map((h) => h.padStart(11)).join('')}`,
    ...classes.map(
      (c) => `${cut(c.className).padEnd(w)}${[c.precision, c.recall, c.f1].map((x) => x.toFixed(4).padStart(11)).join('')}${String(c.support).padStart(11)}`,
    ),
  ];
}

/** Lowest recall first among classes with images (ties: lower F1, then more images, then name order); classes without images last. */
function byRecall(classes: readonly ClassMetrics[]): ClassMetrics[] {
  const withImages = classes.filter((c) => c.support > 0);
  withImages.sort((a, b) => a.recall - b.recall || a.f1 - b.f1 || b.support - a.support);
  return [...withImages, ...classes.filter((c) => c.support === 0)];
}

/** The `k` largest off-diagonal counts as "true → predicted: count (share)" lines. */
function confusedPairs(r: Pick<EvaluationResult, 'confusion' | 'classNames'>, k: number): string[] {
  const pairs = mostConfusedPairs(r.confusion, k);
  if (pairs.length === 0) return ['  none'];
  return pairs.map((p) => `  ${cut(r.classNames[p.trueIndex]!)} → ${cut(r.classNames[p.predIndex]!)}: ${p.count} (${(p.share * 100).toFixed(1)} %)`);
}
