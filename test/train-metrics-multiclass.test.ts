/**
 * Balanced and top-k accuracy and the most confused pairs, against cases
 * worked out by hand; and how a report shows the confusion matrix of 10–20
 * classes (a row-normalized heat map) and of more (tables of the most
 * confused pairs and the worst recalls).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { balancedAccuracy, mostConfusedPairs, topKAccuracy } from '../src/train/metrics.js';
import { confusionMatrixSpec } from '../src/report/plots.js';
import { confusionMatrixChart, confusionTablesHtml, worstRecalls, writeReport } from '../src/report/index.js';
import { ConvkitError } from '../src/util/errors.js';

test('balanced accuracy is the mean recall of the classes that have images', () => {
  // Recalls 3/4, 2/4 and 1/1: (0.75 + 0.5 + 1) / 3 = 0.75, while accuracy is 6/9.
  assert.equal(
    balancedAccuracy([
      [3, 1, 0],
      [2, 2, 0],
      [0, 0, 1],
    ]),
    0.75,
  );
  // A class without images does not count: recalls 1/2 and 2/2 → 0.75.
  assert.equal(
    balancedAccuracy([
      [1, 1, 0],
      [0, 2, 0],
      [0, 0, 0],
    ]),
    0.75,
  );
  assert.equal(balancedAccuracy([]), 0);
});

test('top-k accuracy counts an image when fewer than k classes score above its true class (ties count as in)', () => {
  const labels = [0, 1, 2, 2, 1];
  const probs = [
    [0.5, 0.3, 0.2], // true 0 ranked 1st
    [0.6, 0.3, 0.1], // true 1 ranked 2nd
    [0.4, 0.4, 0.2], // true 2 ranked 3rd
    [0.3, 0.3, 0.4], // true 2 ranked 1st
    [0.4, 0.4, 0.2], // true 1 tied for 1st: in the top 1, as tf.math.in_top_k
  ];
  assert.equal(topKAccuracy(labels, probs, 1), 3 / 5);
  assert.equal(topKAccuracy(labels, probs, 2), 4 / 5);
  assert.equal(topKAccuracy(labels, probs, 3), 1);
  assert.throws(() => topKAccuracy(labels, probs, 0), ConvkitError);
  assert.throws(() => topKAccuracy([0], probs, 1), ConvkitError);
});

test('the most confused pairs: largest off-diagonal counts first, with the share of the true class', () => {
  const m = [
    [5, 3, 2],
    [1, 8, 1],
    [0, 3, 7],
  ];
  assert.deepEqual(mostConfusedPairs(m, 3), [
    { trueIndex: 0, predIndex: 1, count: 3, share: 0.3 },
    { trueIndex: 2, predIndex: 1, count: 3, share: 0.3 },
    { trueIndex: 0, predIndex: 2, count: 2, share: 0.2 },
  ]);
  assert.deepEqual(
    mostConfusedPairs(
      [
        [4, 0],
        [0, 4],
      ],
      5,
    ),
    [],
  );
  assert.deepEqual(
    worstRecalls(m, ['a', 'b', 'c']).map((c) => [c.className, c.recall]),
    [
      ['a', 0.5],
      ['c', 0.7],
      ['b', 0.8],
    ],
  );
});

/** n classes, 20 images each: class i keeps 20 − (i % 5) and gives i % 5 to class i + 1. */
function matrix(n: number): { m: number[][]; names: string[] } {
  const names = Array.from({ length: n }, (_, i) => `class ${i}`);
  const m = names.map((_, t) => {
    const row = new Array<number>(n).fill(0);
    row[t] = 20 - (t % 5);
    row[(t + 1) % n]! += t % 5;
    return row;
  });
  return { m, names };
}

test('15 classes: the heat map is coloured by the row share and labels each non-empty cell with it', async () => {
  const { m, names } = matrix(15);
  const spec = confusionMatrixSpec(m, names) as unknown as { layer: { encoding: { text?: { field: string } } }[]; width: number };
  assert.equal(spec.layer[1]!.encoding.text!.field, 'share');
  const fig = await confusionMatrixChart(m, names);
  const cells = /<g class="mark-text role-mark[^"]*"[^>]*>((?:(?!<g[ >]).)*?)<\/g>/s.exec(fig.svg)![1]!;
  const texts = [...cells.matchAll(/<text[^>]*>([^<]+)<\/text>/g)].map((x) => x[1]);
  // 15 diagonal cells + the 12 classes that give some images away (i % 5 ≠ 0).
  assert.equal(texts.length, 15 + 12);
  assert.ok(texts.includes('100%') && texts.includes('80%') && texts.includes('20%'), texts.join(' '));
});

test('a report of 30 classes lists the most confused pairs and the worst recalls instead of a heat map', async () => {
  const { m, names } = matrix(30);
  const html = confusionTablesHtml(m, names, { pairs: 5, classes: 4 });
  assert.match(html, /<td>class 4<\/td><td>class 5<\/td><td class="num">4<\/td><td class="num">20\.0 %<\/td>/);
  // 24 classes give some away; 5 are listed.
  assert.match(html, /… and 19 more confused pairs/);
  assert.match(html, /… and 26 more classes/);

  const dir = mkdtempSync(join(tmpdir(), 'convkit-many-classes-'));
  try {
    await writeReport(dir, { title: 't', dataset: 'd', steps: [{ name: 'thirty', confusion: m, classNames: names, testAccuracy: 0.9 }] }, { figures: false });
    const page = readFileSync(join(dir, 'index.html'), 'utf8');
    assert.match(page, /<h3>Most confused \(test set\)<\/h3>/);
    assert.doesNotMatch(page, /<h3>Confusion matrix<\/h3>/);
    const results = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as { steps: { confusion: number[][] }[] };
    assert.deepEqual(results.steps[0]!.confusion, m, 'results.json keeps the whole matrix');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
