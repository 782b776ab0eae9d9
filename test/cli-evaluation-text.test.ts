/**
 * Terminal text stays readable with many classes: names are listed up to
 * ten, and the confusion matrix is printed only up to twenty classes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatEvaluation } from '../src/cli/evaluation-text.js';
import type { EvaluationResult } from '../src/train/evaluate.js';
import { accuracyOf, perClassMetrics } from '../src/train/metrics.js';
import { listNames } from '../src/util/list-names.js';

/** An evaluation of `n` classes where class i is mistaken for class i+1 in i % 7 of its 10 images. */
function result(n: number): EvaluationResult {
  const classNames = Array.from({ length: n }, (_, i) => `class_${String(i).padStart(4, '0')}`);
  const confusion = classNames.map((_, t) => {
    const row = new Array<number>(n).fill(0);
    row[t] = 10 - (t % 7);
    row[(t + 1) % n] += t % 7;
    return row;
  });
  const perClass = perClassMetrics(confusion, classNames);
  return { loss: 0.5, accuracy: accuracyOf(confusion), n: n * 10, classNames, confusion, perClass, macroF1: 0.7, ttaViews: 1 };
}

test('listNames shows up to max names, then how many more', () => {
  assert.equal(listNames(['a', 'b']), 'a, b');
  const many = Array.from({ length: 1000 }, (_, i) => `n${i}`);
  assert.equal(listNames(many, 3), 'n0, n1, n2, … and 997 more');
  assert.ok(listNames(many).length < 120);
});

test('up to 20 classes: the whole confusion matrix and every class', () => {
  const text = formatEvaluation(result(20), 1).join('\n');
  assert.match(text, /confusion \(rows: true, columns: predicted\)/);
  assert.equal(text.split('\n').filter((l) => l.startsWith('class_')).length, 40, 'a matrix row and a metrics row per class');
});

test('1,000 classes: a few kB with the worst classes, the most confused pairs and a pointer to --json', () => {
  const lines = formatEvaluation(result(1000), 4);
  const text = lines.join('\n');
  assert.ok(text.length < 4000, `${text.length} characters`);
  assert.ok(
    lines.every((l) => l.length < 200),
    'no long lines',
  );
  assert.doesNotMatch(text, /confusion \(rows/);
  assert.match(text, /^accuracy .* \(4-view TTA\)$/m);
  assert.match(text, /1000 classes: class_0000, .*… and 990 more/);
  // The worst have 6 of 10 wrong (i % 7 === 6); the first listed is class_0006.
  const worst = lines
    .slice(lines.findIndex((l) => /lowest F1/.test(l)) + 2)
    .filter((l) => l.startsWith('class_'))
    .slice(0, 10);
  assert.equal(worst.length, 10);
  assert.match(worst[0]!, /^class_0006\s/);
  assert.match(text, /most confused[^\n]*\n\s+class_0006 → class_0007: 6\n/);
  assert.match(text, /--json/);
});
