/**
 * Terminal text stays readable with many classes: names are listed up to
 * ten, the confusion matrix is printed only up to twelve classes, and
 * beyond that the per-class table is sorted worst recall first and cut.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatEvaluation } from '../src/cli/evaluation-text.js';
import type { EvaluationResult } from '../src/train/evaluate.js';
import { accuracyOf, balancedAccuracy, perClassMetrics } from '../src/train/metrics.js';
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
  return {
    loss: 0.5,
    accuracy: accuracyOf(confusion),
    n: n * 10,
    classNames,
    confusion,
    perClass,
    macroF1: 0.7,
    balancedAccuracy: balancedAccuracy(confusion),
    topK: n > 5 ? { k: 5, accuracy: 0.99 } : undefined,
    ttaViews: 1,
  };
}

test('listNames shows up to max names, then how many more', () => {
  assert.equal(listNames(['a', 'b']), 'a, b');
  const many = Array.from({ length: 1000 }, (_, i) => `n${i}`);
  assert.equal(listNames(many, 3), 'n0, n1, n2, … and 997 more');
  assert.ok(listNames(many).length < 120);
});

test('up to 12 classes: the whole confusion matrix and every class, in class order', () => {
  const text = formatEvaluation(result(12), 1).join('\n');
  assert.match(text, /confusion \(rows: true, columns: predicted\)/);
  assert.equal(text.split('\n').filter((l) => l.startsWith('class_')).length, 24, 'a matrix row and a metrics row per class');
  assert.match(text, /^accuracy 0\.\d{4}  balanced 0\.\d{4}  top-5 0\.9900  loss 0\.5000  n 120$/m);
});

test('13 classes: no matrix; every class, lowest recall first; the most confused pairs with their share', () => {
  const lines = formatEvaluation(result(13), 1);
  const text = lines.join('\n');
  assert.doesNotMatch(text, /confusion \(rows/);
  const rows = lines.filter((l) => l.startsWith('class_'));
  assert.equal(rows.length, 13);
  const recalls = rows.map((l) => Number(l.trim().split(/\s+/)[2]));
  assert.deepEqual(
    recalls,
    [...recalls].sort((a, b) => a - b),
    'sorted by recall',
  );
  // Of 13 classes only class_0006 has i % 7 === 6: recall 0.4, the lowest.
  assert.match(rows[0]!, /^class_0006\s+\S+\s+0\.4000\s/);
  assert.doesNotMatch(text, /more classes/);
  assert.match(text, /class_0006 → class_0007: 6 \(60\.0 %\)/);
});

test('1,000 classes: a few kB with the worst classes, how many are left out, the most confused pairs and a pointer to --json', () => {
  const lines = formatEvaluation(result(1000), 4);
  const text = lines.join('\n');
  assert.ok(text.length < 10_000, `${text.length} characters`);
  assert.ok(
    lines.every((l) => l.length < 200),
    'no long lines',
  );
  assert.doesNotMatch(text, /confusion \(rows/);
  assert.match(text, /^accuracy .* \(4-view TTA\)$/m);
  assert.match(text, /1000 classes: class_0000, .*… and 990 more/);
  // The worst have 6 of 10 wrong (i % 7 === 6); the first listed is class_0006.
  const worst = lines.slice(lines.findIndex((l) => /lowest recall/.test(l)) + 2).filter((l) => l.startsWith('class_'));
  assert.equal(worst.length, 20);
  assert.match(worst[0]!, /^class_0006\s/);
  assert.ok(
    worst.every((l) => /\s0\.4000\s/.test(l)),
    'all 20 shown have the lowest recall, 0.4',
  );
  assert.match(text, /… and 980 more classes/);
  assert.match(text, /most confused[^\n]*\n\s+class_0006 → class_0007: 6 \(60\.0 %\)\n/);
  assert.match(text, /--json/);
});

test('long class names are cut in the tables', () => {
  const r = result(14);
  r.classNames[3] = 'x'.repeat(500);
  r.perClass[3]!.className = r.classNames[3];
  const lines = formatEvaluation(r, 1);
  assert.ok(
    lines.every((l) => l.length < 200),
    'no long lines',
  );
});
