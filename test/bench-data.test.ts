import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { benchData, formatBenchTable } from '../src/bench/data.js';
import { makeClassFolder, tempDir } from './data-fixtures.js';

test('benchData times decode, cached and transformed epochs and leaks no tensors', async () => {
  await tf.setBackend('cpu');
  const { dir, cleanup } = tempDir();
  try {
    await makeClassFolder(dir, { cats: 9, dogs: 8 }, [20, 20]);
    let calls = 0;
    const before = tf.memory().numTensors;
    const r = await benchData({
      dir,
      targetSize: [15, 15],
      batchSize: 4,
      epochs: 2,
      print: false,
      transforms: [
        {
          label: 'flip',
          transform: (x) => {
            calls++;
            return tf.reverse(x, 2);
          },
        },
      ],
    });
    assert.equal(tf.memory().numTensors, before);
    assert.equal(r.decode.images, 17);
    assert.equal(r.cached.images, 34);
    assert.equal(r.augmented[0]!.images, 34);
    assert.equal(calls, 10, '5 batches × 2 epochs');
    for (const p of [r.decode, r.cached, r.augmented[0]!]) assert.ok(p.imagesPerSecond > 0 && p.seconds > 0);
    assert.ok(Math.abs(r.cacheMiB * 2 ** 20 - 17 * 15 * 15 * 3) < 1);
    const table = formatBenchTable(r);
    assert.match(table, /first epoch \(decode \+ resize to 15×15\)\s+17\s/);
    assert.match(table, /cached batches \+ flip\s+34\s/);
  } finally {
    cleanup();
  }
});
