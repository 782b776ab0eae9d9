/**
 * `convkit features` in shards: three processes (one of them placed by
 * JOB_COMPLETION_INDEX, as in a Kubernetes Indexed Job, and killed halfway
 * once) extract 24 cats-and-dogs images through MobileNet v1; `merge` joins
 * them into exactly the feature-cache entries one process writes, and the
 * features recipe trains on them without running the base.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { spawn } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../src/backend/index.js';
import { flowFromDirectory } from '../src/data/index.js';
import { getBase } from '../src/transfer/bases.js';
import { truncate } from '../src/transfer/head.js';
import { runTransferRecipe } from '../src/transfer/recipes.js';
import type { PretrainedBase } from '../src/transfer/bases.js';
import { packageRoot } from '../src/util/paths.js';
import { runCli } from './cli-harness.js';
import { countCalls } from './transfer-fixtures.js';

const source = join(packageRoot(), '..', 'shared', 'data', 'cats_and_dogs_small');
const models = join(packageRoot(), '..', 'shared', 'models', 'mobilenet_v1_0.75_224');
const skip = !existsSync(source) ? `${source} not found` : !existsSync(models) ? `${models} not found` : false;

const SIZE = 128;
const work = mkdtempSync(join(tmpdir(), 'convkit-feature-shards-'));
after(() => rmSync(work, { recursive: true, force: true }));
const data = join(work, 'data'),
  feat = join(work, 'feat'),
  shards = join(feat, 'shards');

if (!skip) {
  await initBackend();
  // 4 images per class and split: 24 in all, 8 per shard.
  for (const split of ['train', 'validation', 'test'])
    for (const cls of ['cats', 'dogs']) {
      mkdirSync(join(data, split, cls), { recursive: true });
      for (const name of readdirSync(join(source, split, cls))
        .sort()
        .slice(0, 4))
        copyFileSync(join(source, split, cls, name), join(data, split, cls, name));
    }
}

/** `convkit features ARGS` in a process of its own (one OpenMP thread, as each pod of a Job would have its share). */
function spawnFeatures(args: string[], env: Record<string, string> = {}) {
  const script = "import { main } from './src/cli/main.ts'; process.exitCode = await main(process.argv.slice(1));";
  const childEnv: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: '1', ...env };
  if (!('JOB_COMPLETION_INDEX' in env)) delete childEnv.JOB_COMPLETION_INDEX;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', script, 'features', '--data', data, '--out', feat, '--image-size', String(SIZE), ...args],
    {
      cwd: packageRoot(),
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '',
    err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, out, err })),
  );
  return { child, done, stderr: () => err };
}

const stamp = (path: string) => {
  const st = statSync(path);
  return `${st.ino}:${st.mtimeMs}:${st.size}`;
};

test('shards run in separate processes; JOB_COMPLETION_INDEX picks one; a killed shard is redone alone and leaves no half-written file', { skip }, async () => {
  const p0 = spawnFeatures(['--shard', '0/3']);
  const p1 = spawnFeatures(['--shard', '1/3']);
  // Batches of one: the base is still running when the kill arrives.
  const p2 = spawnFeatures(['--shards', '3', '--batch-size', '1'], { JOB_COMPLETION_INDEX: '2' });
  let killed = false;
  p2.child.stderr.on('data', () => {
    if (!killed && /shard 2\/3: 8 of 24 images/.test(p2.stderr())) {
      killed = true;
      p2.child.kill('SIGKILL');
    }
  });
  const [r0, r1, r2] = await Promise.all([p0.done, p1.done, p2.done]);
  assert.equal(r0.code, 0, r0.err);
  assert.equal(r1.code, 0, r1.err);
  assert.match(r0.out, /shard 0\/3: 8 images \(train 3, validation 2, test 3\)/);
  assert.ok(killed, `shard 2/3 never started:\n${r2.err}`);
  assert.equal(r2.signal, 'SIGKILL', `shard 2/3 finished before it was killed:\n${r2.out}`);
  assert.deepEqual(readdirSync(shards).sort(), ['shard-0-of-3.bin', 'shard-0-of-3.json', 'shard-1-of-3.bin', 'shard-1-of-3.json']);

  // Merging now names the missing shard.
  const early = await runCli(['features', 'merge', feat]);
  assert.equal(early.code, 2);
  assert.match(early.err.join('\n'), /lacks shard 2\/3 of 3 \(2 finished\)/);
  assert.match(early.err.join('\n'), /--shard 2\/3 --out/);

  // The Job runs every index again: finished shards are left as they are …
  const before = [0, 1].flatMap((i) => ['bin', 'json'].map((ext) => stamp(join(shards, `shard-${i}-of-3.${ext}`))));
  for (const i of [0, 1]) {
    const again = await runCli(['features', '--data', data, '--out', feat, '--image-size', String(SIZE), '--shard', `${i}/3`, '--json']);
    assert.equal(again.code, 0, again.err.join('\n'));
    assert.equal(JSON.parse(again.out[0]!).skipped, true);
  }
  assert.deepEqual(
    [0, 1].flatMap((i) => ['bin', 'json'].map((ext) => stamp(join(shards, `shard-${i}-of-3.${ext}`)))),
    before,
  );
  // … and the killed one is extracted, clearing the temp file a kill during its write would leave.
  writeFileSync(join(shards, '.shard-2-of-3.bin.tmp-99999-x-0'), Buffer.alloc(1000, 7));
  const saved = process.env.JOB_COMPLETION_INDEX;
  process.env.JOB_COMPLETION_INDEX = '2';
  let rerun;
  try {
    rerun = await runCli(['features', '--data', data, '--out', feat, '--image-size', String(SIZE), '--shards', '3']);
  } finally {
    if (saved === undefined) delete process.env.JOB_COMPLETION_INDEX;
    else process.env.JOB_COMPLETION_INDEX = saved;
  }
  assert.equal(rerun.code, 0, rerun.err.join('\n'));
  assert.match(rerun.out.join('\n'), /shard 2\/3: 8 images \(train 3, validation 3, test 2\)/);
  const manifest = JSON.parse(readFileSync(join(shards, 'shard-2-of-3.json'), 'utf8'));
  assert.deepEqual(manifest.shard, { index: 2, count: 3 });
  // Files k ≡ 2 (mod 3) of the sorted paths: test/ sorts first, so test/cats/ holds k = 0 … 3.
  assert.deepEqual(
    manifest.files.slice(0, 2).map((f: { path: string }) => f.path),
    [`test/cats/${readdirSync(join(data, 'test', 'cats')).sort()[2]}`, `test/dogs/${readdirSync(join(data, 'test', 'dogs')).sort()[1]}`],
  );
  assert.deepEqual(
    readdirSync(shards).filter((n) => n.includes('.tmp-')),
    [],
  );
});

test('merged shards are byte for byte the feature cache one process writes, and equal the base on the images', { skip }, async () => {
  const merged = await runCli(['features', 'merge', feat, '--json', '--quiet']);
  assert.equal(merged.code, 0, merged.err.join('\n'));
  const result = JSON.parse(merged.out[0]!);
  assert.deepEqual(Object.fromEntries(Object.entries(result.splits as Record<string, { n: number }>).map(([s, e]) => [s, e.n])), {
    train: 8,
    validation: 8,
    test: 8,
  });

  // One process: the features recipe's own extraction into its cache.
  const single = join(work, 'single-cache');
  const r = await runTransferRecipe('features', { data, out: join(work, 'single-model'), inputSize: [SIZE, SIZE], cacheDir: single, epochs: 1, silent: true });
  r.model.dispose();
  const bins = (dir: string) =>
    readdirSync(dir)
      .filter((n) => n.endsWith('.bin'))
      .sort();
  assert.equal(bins(single).length, 3);
  assert.deepEqual(bins(join(feat, 'features')), bins(single), 'the merged entries are not under the keys the recipe computes');
  for (const name of bins(single)) assert.ok(readFileSync(join(feat, 'features', name)).equals(readFileSync(join(single, name))), `${name} differs`);

  // Independent of both: the base over all test images in one batch.
  const loaded = await getBase('mobilenet_v1').load({ inputSize: [SIZE, SIZE] });
  const features = truncate(loaded.model, loaded.featureLayer);
  const images = await (await flowFromDirectory(join(data, 'test'), { targetSize: [SIZE, SIZE], shuffle: false, classMode: 'binary' })).loadAll();
  const expected = tf.tidy(() => (features.predict(images.x) as tf.Tensor).dataSync() as Float32Array);
  tf.dispose([images.x, images.y!]);
  loaded.model.dispose();
  const testBin = readFileSync(join(feat, 'features', `${result.splits.test.key}.bin`));
  assert.ok(testBin.subarray(0, expected.byteLength).equals(Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength)));
  // Labels after the features: 4 cats (0) then 4 dogs (1).
  assert.deepEqual(
    Array.from(new Float32Array(testBin.buffer.slice(testBin.byteOffset + expected.byteLength, testBin.byteOffset + testBin.byteLength))),
    [0, 0, 0, 0, 1, 1, 1, 1],
  );
});

test('the features recipe trains on merged features without running the base; a mismatch is refused', { skip }, async () => {
  const real = getBase('mobilenet_v1');
  const counters: { count: number }[] = [];
  const watched: PretrainedBase = {
    ...real,
    async load(options) {
      const loaded = await real.load(options);
      counters.push(countCalls(loaded.model.layers.find((l) => l.getClassName() === 'Conv2D')!));
      return loaded;
    },
  };
  const cacheDir = join(work, 'unused-cache');
  const r = await runTransferRecipe('features', {
    data,
    out: join(work, 'from-merged'),
    base: watched,
    inputSize: [SIZE, SIZE],
    features: feat,
    cacheDir,
    epochs: 2,
    batchSize: 4,
    silent: true,
  });
  r.model.dispose();
  assert.equal(counters.length, 1);
  assert.equal(counters[0]!.count, 0, 'the base ran');
  assert.equal(existsSync(cacheDir), false, 'features were cached again');
  assert.equal(r.history.epoch.length, 2);
  assert.equal(r.meta.recipe?.name, 'features');

  await assert.rejects(
    runTransferRecipe('features', { data, out: join(work, 'wrong-size'), inputSize: [96, 96], features: feat, epochs: 1, silent: true }),
    /--features .* was extracted at 128×128 px; this run reads images at 96×96[\s\S]*--image-size 128/,
  );
  const refused = await runCli(['train', '--recipe', 'features-augment', '--data', data, '--out', join(work, 'aug'), '--features', feat]);
  assert.equal(refused.code, 2);
  assert.match(refused.err.join('\n'), /recipe features-augment cannot use --features/);
});

test('merge refuses a shard extracted with other settings, naming it and the setting', { skip }, async () => {
  const other = join(work, 'mixed');
  mkdirSync(join(other, 'shards'), { recursive: true });
  cpSync(join(feat, '.convkit-features'), join(other, '.convkit-features'));
  for (const i of [0, 2]) for (const ext of ['bin', 'json']) cpSync(join(shards, `shard-${i}-of-3.${ext}`), join(other, 'shards', `shard-${i}-of-3.${ext}`));
  const tensors = tf.memory().numTensors;
  const odd = await runCli(['features', '--data', data, '--out', other, '--image-size', '96', '--shard', '1/3', '--quiet']);
  assert.equal(odd.code, 0, odd.err.join('\n'));
  assert.equal(tf.memory().numTensors, tensors, 'the extraction left tensors behind');
  const r = await runCli(['features', 'merge', other]);
  assert.equal(r.code, 2);
  assert.match(
    r.err.join('\n'),
    /shard 1\/3 \(.*shard-1-of-3\.json\) was extracted with input shape \(--image-size\) \[96,96,3\] instead of \[128,128,3\] of shard 0\/3/,
  );
  assert.equal(existsSync(join(other, 'features.json')), false);
});
