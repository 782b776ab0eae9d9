/**
 * The audit's numerics on hand-checked cases: confident learning's
 * thresholds and issues on a small probability table, stratified folds,
 * the perceptual hash of a mirror image, the robust outlier score, and the
 * class-balance warning.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classBalance } from '../src/audit/balance.js';
import { classThresholds, confidentLabelIssues, stratifiedFolds } from '../src/audit/label-issues.js';
import { hammingDistance, hashBytes, perceptualHashes } from '../src/audit/phash.js';
import type { AuditImage } from '../src/audit/types.js';

// Five images, three classes. Rows: out-of-sample probabilities; labels 0, 0, 1, 2, 1.
const P = Float32Array.from([0.8, 0.1, 0.1, 0.2, 0.7, 0.1, 0.1, 0.6, 0.3, 0.1, 0.2, 0.7, 0.45, 0.4, 0.15]);
const LABELS = [0, 0, 1, 2, 1];

test('class thresholds are the mean probability of each class over its own images', () => {
  const t = classThresholds(P, LABELS, 3);
  assert.deepEqual(
    Array.from(t, (v) => Number(v.toFixed(6))),
    [0.5, 0.5, 0.7],
  );
});

test('label issues: a confident other class, or another class with most of the probability, ranked by the own class', () => {
  // Thresholds [0.5, 0.5, 0.7]. Image 1 (labelled a): p = [0.2, 0.7, 0.1], b's 0.7 ≥ 0.5 and > 0.2 → an issue, b.
  // Image 4 (labelled b): p = [0.45, 0.4, 0.15], no class reaches its threshold, but a has the most → an issue, a.
  // Images 0, 2, 3: their own class is confident and the most probable: no issue.
  const issues = confidentLabelIssues(P, LABELS, 3, ['a', 'b', 'c'], ['f0', 'f1', 'f2', 'f3', 'f4']);
  assert.deepEqual(
    issues.map((i) => [i.file, i.givenClass, i.suggestedClass]),
    [
      ['f1', 'a', 'b'],
      ['f4', 'b', 'a'],
    ],
  );
  assert.deepEqual(
    issues.map((i) => Number(i.score.toFixed(6))),
    [0.8, 0.6],
  );
});

test('stratified folds spread each class evenly and repeat with the seed', () => {
  const labels = [...Array(10).fill(0), ...Array(5).fill(1)];
  const folds = stratifiedFolds(labels, 5, 3);
  for (let f = 0; f < 5; f++) {
    const members = labels.filter((_, i) => folds[i] === f);
    assert.deepEqual([members.filter((l) => l === 0).length, members.filter((l) => l === 1).length], [2, 1]);
  }
  assert.deepEqual(stratifiedFolds(labels, 5, 3), folds);
  assert.notDeepEqual(stratifiedFolds(labels, 5, 4), folds);
});

test('the mirror hash of an image is the hash of its mirror image', () => {
  const gray = Array.from({ length: 32 * 32 }, (_, i) => ((i % 32) * 7 + Math.floor(i / 32) * 3 + ((i * 2654435761) % 97)) % 256);
  const flipped = gray.map((_, i) => gray[Math.floor(i / 32) * 32 + (31 - (i % 32))]!);
  const a = perceptualHashes(gray),
    b = perceptualHashes(flipped);
  assert.equal(b.hash, a.mirror);
  assert.ok(hammingDistance(hashBytes(a.hash), hashBytes(b.hash)) > 8, 'a mirror image is not a near copy by the plain hash');
});

test('class balance warns when one class dominates, naming both and the remedy', () => {
  const img = (split: string, className: string): AuditImage => ({ path: '', file: '', split, className, label: 0 });
  const images = [...Array(30).fill(img('train', 'a')), ...Array(10).fill(img('train', 'b')), img('test', 'a'), img('test', 'b')];
  const b = classBalance(images, ['a', 'b'], ['train', 'test'], 1.5);
  assert.deepEqual(b.counts, { train: { a: 30, b: 10 }, test: { a: 1, b: 1 } });
  assert.equal(b.ratio.train, 3);
  assert.equal(b.warnings.length, 1);
  assert.match(b.warnings[0]!, /train\/ is imbalanced: a has 30 images, b 10 \(3\.0×\).*collect more images of b/);
});
