/** The native backend's pool of kernel output buffers: what may be reused, and training that stays bit for bit the same with it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { BufferPool } from '../src/backend/buffer-pool.js';
import { setup, skipReason } from './backend-native-util.js';

const MB = 2 ** 20;
const floats = (mb: number) => (mb * MB) / 4;

test('a disposed output is reused for the next of its size; small ones never are', () => {
  const pool = new BufferPool({ capBytes: 64 * MB });
  const a = pool.alloc(floats(2));
  pool.hold(a);
  pool.release(a);
  const b = pool.alloc(floats(2));
  assert.equal(b.buffer, a.buffer, 'the same memory');
  assert.notEqual(pool.alloc(floats(4)).buffer, a.buffer, 'another size gets fresh memory');
  const small = pool.alloc(1000);
  pool.hold(small);
  pool.release(small);
  assert.notEqual(pool.alloc(1000).buffer, small.buffer);
  assert.deepEqual(pool.stats, { reused: 1, fresh: 2 });
});

test('a buffer is reused only when no tensor holds it or a view of it, and never once it was read out', () => {
  const pool = new BufferPool({ capBytes: 64 * MB });
  const a = pool.alloc(floats(2));
  const view = a.subarray(10, 20); // a slice tensor sharing the memory
  pool.hold(a);
  pool.hold(view);
  pool.release(a);
  assert.equal(pool.pooledBytes, 0, 'the view still holds it');
  pool.release(view);
  assert.equal(pool.pooledBytes, 2 * MB);

  const read = pool.alloc(floats(3));
  pool.hold(read);
  pool.expose(read); // dataSync handed it to a caller
  pool.release(read);
  assert.equal(pool.pooledBytes, 2 * MB, 'an array read out is never reused');
  assert.notEqual(pool.alloc(floats(3)).buffer, read.buffer);

  const foreign = new Float32Array(floats(2)); // a caller's array, not the pool's
  pool.hold(foreign);
  pool.release(foreign);
  assert.equal(pool.pooledBytes, 2 * MB);
});

test('the pool keeps at most its cap, dropping the oldest first; a cap of 0 turns it off', () => {
  const pool = new BufferPool({ capBytes: 5 * MB });
  const made = [2, 2, 3].map((mb) => pool.alloc(floats(mb)));
  for (const a of made) {
    pool.hold(a);
    pool.release(a);
  }
  assert.equal(pool.pooledBytes, 5 * MB, 'the first 2 MB went to make room for 3 MB');
  assert.equal(pool.alloc(floats(2)).buffer, made[1]!.buffer);
  assert.equal(pool.alloc(floats(3)).buffer, made[2]!.buffer);

  const off = new BufferPool({ capBytes: 0 });
  const a = off.alloc(floats(2));
  off.hold(a);
  off.release(a);
  assert.equal(off.pooledBytes, 0);
  assert.notEqual(off.alloc(floats(2)).buffer, a.buffer);
});

test('poisoned buffers come filled with NaN', () => {
  const pool = new BufferPool({ capBytes: 8 * MB, poison: true });
  const a = pool.alloc(floats(2));
  assert.ok(Number.isNaN(a[0]) && Number.isNaN(a[a.length - 1]));
});

test('on the native backend: an array from dataSync keeps its values after the tensor is disposed', { skip: skipReason }, async () => {
  await setup();
  await tf.setBackend('native');
  const x = tf.fill([64, 64, 64, 4], 1.5); // 4 MiB, pooled size
  const y = tf.relu(x);
  const kept = y.dataSync();
  y.dispose();
  for (let i = 0; i < 4; i++) tf.dispose(tf.relu(tf.neg(x)));
  assert.ok(
    kept.every((v) => v === 1.5),
    'the caller’s array was overwritten',
  );
  x.dispose();
  await tf.setBackend('cpu');
});

/** A child process that trains a few steps on the native backend and prints a digest of the weights, predictions and pool stats. */
const TRAIN = fileURLToPath(new URL('./buffer-pool-train.ts', import.meta.url));

function trainDigest(env: Record<string, string>): { digest: string; reused: number } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', TRAIN], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 240_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { digest: string; reused: number };
}

test('training with the pool, even with every buffer poisoned, gives the same weights to the bit as without it', { skip: skipReason, timeout: 300_000 }, () => {
  const off = trainDigest({ CONVKIT_BUFFER_POOL_MB: '0' });
  const on = trainDigest({ CONVKIT_BUFFER_POOL_MB: '1024' });
  const poisoned = trainDigest({ CONVKIT_BUFFER_POOL_MB: '1024', CONVKIT_BUFFER_POOL_POISON: '1' });
  assert.equal(off.reused, 0);
  assert.ok(on.reused > 100, `the pool served ${on.reused} outputs`);
  assert.equal(on.digest, off.digest);
  assert.equal(poisoned.digest, off.digest, 'a kernel reads an output element it did not write');
});
