import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng } from '../src/util/rng.js';

test('same seed gives the same stream, another seed differs', () => {
  const a = createRng(7),
    b = createRng(7),
    c = createRng(8);
  const sa = Array.from({ length: 50 }, () => a.next());
  const sb = Array.from({ length: 50 }, () => b.next());
  const sc = Array.from({ length: 50 }, () => c.next());
  assert.deepEqual(sa, sb);
  assert.notDeepEqual(sa, sc);
  assert.ok(sa.every((x) => x >= 0 && x < 1));
});

test('uniform draws fill [0,1) evenly and shuffle is a permutation', () => {
  const r = createRng(1);
  const bins = new Array(10).fill(0);
  for (let i = 0; i < 100000; i++) bins[Math.floor(r.next() * 10)]++;
  for (const b of bins) assert.ok(Math.abs(b - 10000) < 500, `bin count ${b}`);
  const perm = r.shuffle(Array.from({ length: 100 }, (_, i) => i));
  assert.deepEqual(
    [...perm].sort((x, y) => x - y),
    Array.from({ length: 100 }, (_, i) => i),
  );
});
