/**
 * convkit's on-disk caches under damage and concurrency: a damaged feature
 * cache entry (NaN, truncated, altered) is recomputed with a notice, never
 * trained on; writers sharing a cache (in one process or several) leave a
 * valid entry, and a reader never sees a half-written one.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImageCache, type ResolvedDecodeOptions } from '../src/data/cache.js';
import { flowFromDirectory } from '../src/data/index.js';
import { extractFeatures, readFeatureSet, writeFeatureSet, type FeatureSet } from '../src/transfer/feature-cache.js';
import { truncate } from '../src/transfer/head.js';
import { freeze } from '../src/transfer/freeze.js';
import { makePhotoSet, tinyBase } from './transfer-fixtures.js';

await tf.setBackend('cpu');
const root = await makePhotoSet(4);
const work = mkdtempSync(join(tmpdir(), 'convkit-cache-integrity-'));
after(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

const open = () => flowFromDirectory(join(root, 'data', 'train'), { targetSize: [12, 12], batchSize: 3, shuffle: false, classMode: 'binary' });
const features = truncate((await tinyBase().load()).model, 'block2_pool');
freeze(features);

test('a damaged feature cache entry (altered, NaN with a matching checksum, truncated) is recomputed with a notice', async () => {
  const cacheDir = join(work, 'features');
  const notices: string[] = [];
  const run = async () => extractFeatures(features, await open(), { baseName: 'tiny', cacheDir, silent: true, log: (l) => notices.push(l) });
  const first = await run();
  const bin = join(cacheDir, `${first.key}.bin`),
    header = join(cacheDir, `${first.key}.json`);
  const nanBody = () => Buffer.from(new Float32Array(first.x.length + first.y.length).fill(NaN).buffer);
  const damages: [() => void, RegExp][] = [
    [() => writeFileSync(bin, nanBody()), /does not match its sha256/],
    [
      () => {
        // NaN written by a writer as if it were features: the checksum agrees, the values do not.
        const body = nanBody();
        const h = JSON.parse(readFileSync(header, 'utf8'));
        writeFileSync(header, JSON.stringify({ ...h, sha256: createHash('sha256').update(body).digest('hex') }));
        writeFileSync(bin, body);
      },
      /non-finite value/,
    ],
    [() => truncateSync(bin, 40), /holds 40 bytes instead of/],
    [() => writeFileSync(header, '{"format": "convkit-feat'), /header is not valid JSON/],
  ];
  for (const [damage, reason] of damages) {
    damage();
    notices.length = 0;
    const again = await run();
    assert.equal(again.hit, false, `a damaged entry was used (${reason})`);
    assert.equal(notices.length, 1);
    assert.match(notices[0]!, new RegExp(`feature cache entry .*${first.key} is damaged \\(.*\\); computing it again`));
    assert.match(notices[0]!, reason);
    assert.deepEqual(Array.from(again.x), Array.from(first.x));
    // The recomputed entry replaced the damaged one.
    assert.equal((await run()).hit, true);
  }
});

test('non-finite features a base computes are refused, not cached', async () => {
  const cacheDir = join(work, 'features-nan');
  const broken = truncate((await tinyBase().load()).model, 'block2_pool');
  const conv = broken.getLayer('block2_conv1');
  conv.setWeights(conv.getWeights().map((w) => tf.fill(w.shape, NaN)));
  await assert.rejects(
    extractFeatures(broken, await open(), { baseName: 'tiny', cacheDir, silent: true }),
    /the base tiny gives (NaN|-Infinity) as a feature of .*cats\.0\.png/,
  );
  assert.equal(existsSync(cacheDir), false, 'nothing was cached');
});

test('writers of one feature cache key at once (interleaved in one process) leave one valid entry', async () => {
  const cacheDir = join(work, 'features-race');
  const [a, b] = await Promise.all([0, 1].map(async () => extractFeatures(features, await open(), { baseName: 'tiny', cacheDir, silent: true })));
  assert.equal(a!.key, b!.key);
  // Many writes of the key started together: some share a millisecond, none may share a temp file.
  await Promise.all(Array.from({ length: 16 }, () => writeFeatureSet(cacheDir, a!, {})));
  const damaged: string[] = [];
  const read = await readFeatureSet(cacheDir, a!.key, (r) => damaged.push(r));
  assert.deepEqual(damaged, []);
  assert.deepEqual(Array.from(read!.x), Array.from(a!.x));
  assert.deepEqual(readdirSync(cacheDir).sort(), [`${a!.key}.bin`, `${a!.key}.json`], 'no temp file is left behind');
});

/** A 2 MB feature set, so a torn write would be visible. */
function bigSet(key: string): FeatureSet {
  const n = 64,
    shape = [8192];
  const x = new Float32Array(n * 8192).map((_, i) => Math.sin(i));
  return {
    x,
    shape,
    y: new Float32Array(n).fill(1),
    yShape: [1],
    n,
    files: Array.from({ length: n }, (_, i) => `/img/${i}.png`),
    classNames: ['a', 'b'],
    key,
    hit: false,
  };
}

test('two writer processes on one feature cache key: a concurrent reader only ever sees whole entries', async () => {
  const cacheDir = join(work, 'features-processes');
  const key = 'k'.repeat(32);
  const script = `
    import { writeFeatureSet } from ${JSON.stringify(new URL('../src/transfer/feature-cache.ts', import.meta.url).href)};
    const n = 64, x = new Float32Array(n * 8192).map((_, i) => Math.sin(i));
    const set = { x, shape: [8192], y: new Float32Array(n).fill(1), yShape: [1], n, files: Array.from({ length: n }, (_, i) => '/img/' + i + '.png'), classNames: ['a', 'b'], key: ${JSON.stringify(key)}, hit: false };
    for (let i = 0; i < 8; i++) await writeFeatureSet(${JSON.stringify(cacheDir)}, set, { writer: process.pid });
  `;
  const writer = () =>
    new Promise<number>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'inherit'] });
      child.on('error', reject);
      child.on('exit', (code) => resolve(code ?? 1));
    });
  const writers = Promise.all([writer(), writer()]);
  let done = false;
  void writers.finally(() => {
    done = true;
  });
  const damaged: string[] = [];
  let whole = 0;
  while (!done) {
    const set = await readFeatureSet(cacheDir, key, (r) => damaged.push(r));
    if (set) whole++;
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.deepEqual(await writers, [0, 0]);
  assert.deepEqual(damaged, [], 'a reader saw a half-written or mixed entry');
  const last = await readFeatureSet(cacheDir, key);
  assert.deepEqual(Array.from(last!.x.subarray(0, 100)), Array.from(bigSet(key).x.subarray(0, 100)));
  assert.deepEqual(readdirSync(cacheDir).sort(), [`${key}.bin`, `${key}.json`]);
  assert.ok(whole > 0, 'the reader never saw an entry');
});

test('two decoded-image caches writing the same entries at once leave valid entries and no temp files', async () => {
  const cacheDir = join(work, 'pixels');
  const files = readdirSync(join(root, 'data', 'train', 'cats')).map((f) => join(root, 'data', 'train', 'cats', f));
  const options: ResolvedDecodeOptions = { targetSize: [12, 12], colorMode: 'rgb', interpolation: 'bilinear' };
  const [a, b] = [new ImageCache({ cacheDir }), new ImageCache({ cacheDir })];
  const [ra, rb] = await Promise.all([a.getMany(files, options), b.getMany(files, options)]);
  assert.equal(a.stats.decoded + b.stats.decoded + a.stats.diskHits + b.stats.diskHits, 2 * files.length);
  const reader = new ImageCache({ cacheDir });
  const rc = await reader.getMany(files, options);
  assert.equal(reader.stats.diskHits, files.length);
  assert.equal(reader.stats.decoded, 0);
  for (const [i, img] of rc.entries()) {
    assert.ok(!(img instanceof Error));
    assert.deepEqual(img, ra[i]);
    assert.deepEqual(img, rb[i]);
  }
  assert.equal(readdirSync(cacheDir).filter((f) => f.includes('.tmp-')).length, 0);
});

test('a feature set over 2 GiB (the size of MobileNet v2 features of 9,469 images) is stored and read back whole', async () => {
  const cacheDir = join(work, 'features-large');
  const n = 4,
    size = 2 ** 27 + 2 ** 18; // 4 × 537 MB: past fs.readFile's and a hash update's 2 GiB limits
  const x = new Float32Array(n * size);
  for (let i = 0; i < x.length; i += 4099) x[i] = (i % 1000) / 7; // spread over every 256 MiB chunk
  x[x.length - 1] = -3.5;
  const set: FeatureSet = {
    x,
    shape: [size],
    y: new Float32Array([0, 1, 1, 0]),
    yShape: [1],
    n,
    files: ['a', 'b', 'c', 'd'],
    classNames: ['a', 'b'],
    key: 'large',
    hit: false,
  };
  await writeFeatureSet(cacheDir, set, {});
  const damaged: string[] = [];
  const read = await readFeatureSet(cacheDir, 'large', (r) => damaged.push(r));
  assert.deepEqual(damaged, []);
  assert.ok(read, 'the entry reads back');
  assert.equal(read.x.length, x.length);
  let differs = -1;
  for (let i = 0; i < x.length && differs < 0; i++) if (read.x[i] !== x[i]) differs = i;
  assert.equal(differs, -1, 'every feature reads back');
  assert.deepEqual(Array.from(read.y), [0, 1, 1, 0]);
  rmSync(cacheDir, { recursive: true, force: true });
});
