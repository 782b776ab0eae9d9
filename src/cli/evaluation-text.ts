/**
 * `convkit evaluate`'s terminal text. A confusion matrix stays readable up
 * to about twenty classes; beyond that the text shows the classes that do
 * worst and the pairs most often confused, and --json has everything.
 */
import type { EvaluationResult } from '../train/evaluate.js';
import type { ClassMetrics } from '../train/metrics.js';
import { listNames } from '../util/list-names.js';

/** Most classes whose full confusion matrix is printed. */
const MAX_MATRIX_CLASSES = 20;
/** Classes and confused pairs listed when there are more. */
const SHOWN = 10;

export function formatEvaluation(r: EvaluationResult, views: number): string[] {
  const head = `accuracy ${r.accuracy.toFixed(4)}  loss ${r.loss.toFixed(4)}  n ${r.n}${r.rocAuc !== undefined ? `  ROC AUC ${r.rocAuc.toFixed(4)}` : ''}${views > 1 ? `  (${views}-view TTA)` : ''}`;
  if (r.classNames.length <= MAX_MATRIX_CLASSES) return [head, '', ...matrixTable(r), '', ...metricsTable(r.perClass)];
  return [
    head,
    `${r.classNames.length} classes: ${listNames(r.classNames, SHOWN)}`,
    '',
    `the ${SHOWN} classes with the lowest F1:`,
    ...metricsTable(worstClasses(r.perClass, SHOWN)),
    '',
    'most confused (true → predicted: images):',
    ...confusedPairs(r, SHOWN),
    '',
    "the full confusion matrix and every class's metrics: convkit evaluate --json",
  ];
}

function nameWidth(names: readonly string[]): number {
  return Math.max(10, ...names.map((c) => c.length)) + 2;
}

function matrixTable(r: EvaluationResult): string[] {
  const w = nameWidth(r.classNames);
  return [
    'confusion (rows: true, columns: predicted)',
    `${''.padEnd(w)}${r.classNames.map((c) => c.padStart(w)).join('')}`,
    ...r.confusion.map((row, i) => `${r.classNames[i]!.padEnd(w)}${row.map((n) => String(n).padStart(w)).join('')}`),
  ];
}

function metricsTable(classes: readonly ClassMetrics[]): string[] {
  const w = nameWidth(classes.map((c) => c.className));
  return [
    `${'class'.padEnd(w)}${['precision', 'recall', 'f1', 'support'].map((h) => h.padStart(11)).join('')}`,
    ...classes.map(
      (c) => `${c.className.padEnd(w)}${[c.precision, c.recall, c.f1].map((x) => x.toFixed(4).padStart(11)).join('')}${String(c.support).padStart(11)}`,
    ),
  ];
}

/** Lowest F1 first among classes with images (ties: more images first). */
function worstClasses(classes: readonly ClassMetrics[], k: number): ClassMetrics[] {
  return classes
    .filter((c) => c.support > 0)
    .sort((a, b) => a.f1 - b.f1 || b.support - a.support)
    .slice(0, k);
}

/** The `k` largest off-diagonal counts as "true → predicted: count" lines. */
function confusedPairs(r: Pick<EvaluationResult, 'confusion' | 'classNames'>, k: number): string[] {
  const pairs: [number, number, number][] = [];
  r.confusion.forEach((row, t) =>
    row.forEach((n, p) => {
      if (t !== p && n > 0) pairs.push([n, t, p]);
    }),
  );
  pairs.sort((a, b) => b[0] - a[0] || a[1] - b[1] || a[2] - b[2]);
  if (pairs.length === 0) return ['  none'];
  return pairs.slice(0, k).map(([n, t, p]) => `  ${r.classNames[t]} → ${r.classNames[p]}: ${n}`);
}
