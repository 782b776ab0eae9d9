import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, mkdir, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { runCli, snapshot } from './cli-harness.js';
import { writeSyntheticSet, type SyntheticSet } from './train-synthetic.js';
import { saveModel } from '../src/train/saved-model.js';
import { claimOutputDir, ensureDir, lockOutput, undoOutputOnFailure } from '../src/util/output-guard.js';
import { isMarkedPng, markPng } from '../src/report/png-mark.js';

process.env.CONVKIT_BACKEND = 'cpu';

let set: SyntheticSet;
let work: string;

before(async () => {
  set = await writeSyntheticSet({ train: 6, validation: 4, test: 4 }, 16);
  work = await mkdtemp(join(tmpdir(), 'convkit-guard-'));
});
after(async () => {
  await set?.cleanup();
  await rm(work, { recursive: true, force: true });
});

const TINY = ['--recipe', 'scratch', '--epochs', '1', '--image-size', '16', '--filters', '4,4', '--dense-units', '8', '--quiet', '--no-plots'];
const train = (out: string, data = set.root) => runCli(['train', '--data', data, '--out', out, ...TINY]);

/** A refused run: exit 2, one line naming `mention`, and the data set byte for byte as before. */
async function assertRefused(run: Promise<{ code: number; err: string[] }>, mention: string, untouched: string[]): Promise<void> {
  const before = await Promise.all(untouched.map(snapshot));
  const r = await run;
  assert.equal(r.code, 2, r.err.join('\n'));
  assert.match(r.err.join('\n'), new RegExp(mention.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  assert.doesNotMatch(r.err.join('\n'), /\n\s+at /, 'no stack trace');
  assert.deepEqual(await Promise.all(untouched.map(snapshot)), before, 'nothing touched');
}

test('train --out equal to --data is refused and the data set is untouched', async () => {
  await assertRefused(train(set.root), 'lies inside --data', [set.root]);
});

test('train --out inside train/ (it would become a class) is refused', async () => {
  await assertRefused(train(join(set.root, 'train', 'model')), 'lies inside --data', [set.root]);
  assert.ok(!existsSync(join(set.root, 'train', 'model')));
});

test('train --out holding the data set (its parent) is refused', async () => {
  const parent = await mkdtemp(join(work, 'parent-'));
  const inner = await writeSyntheticSet({ train: 2, validation: 2, test: 0 }, 16);
  try {
    await assertRefused(train(join(inner.root, '..'), inner.root), 'holds --data', [inner.root]);
  } finally {
    await inner.cleanup();
    await rm(parent, { recursive: true, force: true });
  }
});

test('train --out on a folder of unrelated files is refused, the files kept', async () => {
  const photos = join(work, 'photos');
  await mkdir(photos);
  await writeFile(join(photos, 'holiday.jpg'), 'my only copy');
  await assertRefused(train(photos), 'already holds files that are not a model folder', [photos]);
  assert.equal(readFileSync(join(photos, 'holiday.jpg'), 'utf8'), 'my only copy');
});

test('train --out on an existing file is refused, the file kept', async () => {
  const file = join(work, 'notes.txt');
  await writeFile(file, 'keep me');
  const r = await train(file);
  assert.equal(r.code, 2);
  assert.match(r.err.join('\n'), /is a file, not a folder/);
  assert.equal(readFileSync(file, 'utf8'), 'keep me');
});

test('train --out on an empty folder works, and a second run replaces its own model folder', async () => {
  const out = join(work, 'model');
  await mkdir(out);
  const first = await train(out);
  assert.equal(first.code, 0, first.err.join('\n'));
  assert.ok(existsSync(join(out, 'convkit.json')));
  const second = await train(out);
  assert.equal(second.code, 0, second.err.join('\n'));
  assert.ok(existsSync(join(out, 'model.json')));
});

test('train --out and --cache-dir under /proc fail at once with one line instead of spinning', { timeout: 20_000 }, async () => {
  const out = await train('/proc/convkit-nowhere/model');
  assert.equal(out.code, 2);
  assert.match(out.err.join('\n'), /--out \/proc\/convkit-nowhere\/model cannot be written/);
  const cache = await runCli(['train', '--data', set.root, '--out', join(work, 'm-cache'), '--cache-dir', '/proc/convkit-cache', ...TINY]);
  assert.equal(cache.code, 2);
  assert.match(cache.err.join('\n'), /--cache-dir \/proc\/convkit-cache cannot be written/);
  assert.ok(!existsSync(join(work, 'm-cache')), 'nothing written before the check');
});

/** Makes `dir` read-only even for root (chattr +i, where the file system and the process allow it). */
function immutable(dir: string, on: boolean): boolean {
  return spawnSync('chattr', [on ? '+i' : '-i', dir]).status === 0;
}

test('train --out under a read-only folder fails before the first epoch with one line', async (t) => {
  const parent = join(work, 'read-only');
  await mkdir(parent);
  // Tests run as root, whom permission bits do not stop: an immutable folder does.
  if (!immutable(parent, true)) return t.skip('chattr +i is not available here');
  try {
    const r = await train(join(parent, 'model'));
    assert.equal(r.code, 2, r.err.join('\n'));
    assert.match(r.err.join('\n'), /--out .*read-only.*model cannot be written/);
    assert.doesNotMatch(r.err.join('\n'), /^\s+at /m, 'one line, no stack');
  } finally {
    immutable(parent, false);
  }
});

test('study --out equal to --data, or holding unrelated files, is refused before any work', async () => {
  await assertRefused(runCli(['study', 'cats-vs-dogs', '--data', set.root, '--out', set.root, '--quiet']), 'lies inside --data', [set.root]);
  const photos = join(work, 'report-photos');
  await mkdir(photos);
  await writeFile(join(photos, 'a.jpg'), 'x');
  await assertRefused(runCli(['study', 'cats-vs-dogs', '--data', set.root, '--out', photos, '--quiet']), 'not a study report folder', [photos]);
});

test('prepare --overwrite replaces only a folder that prepare made', async () => {
  const dest = join(work, 'mine');
  await mkdir(dest);
  await writeFile(join(dest, 'thesis.pdf'), 'years of work');
  const src = join(set.root, 'train');
  const r = await runCli(['prepare', src, dest, '--split', '0.5,0.5', '--overwrite']);
  assert.equal(r.code, 2, r.err.join('\n'));
  assert.equal(readFileSync(join(dest, 'thesis.pdf'), 'utf8'), 'years of work');
});

test('library: saveModel never replaces a folder it did not write', async () => {
  const dir = join(work, 'lib-photos');
  await mkdir(dir);
  await writeFile(join(dir, 'cat.jpg'), 'photo');
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [2], activation: 'sigmoid' })] });
  const meta = {
    classNames: ['a', 'b'],
    inputSize: [2, 2] as [number, number],
    colorMode: 'rgb' as const,
    classMode: 'binary' as const,
    preprocessing: { input: 'test' },
  };
  await assert.rejects(saveModel(model, dir, meta), /already holds files that are not a model folder/);
  assert.deepEqual(await readdir(dir), ['cat.jpg']);
  model.dispose();
});

test('claimOutputDir follows symbolic links when it compares output and data', async () => {
  const { symlink } = await import('node:fs/promises');
  const link = join(work, 'data-link');
  await symlink(set.root, link);
  await assert.rejects(
    claimOutputDir({ path: join(link, 'train'), flag: '--out', what: 'a model folder', owns: async () => true, inputs: [{ path: set.root, flag: '--data' }] }),
    /lies inside --data/,
  );
});

test('ensureDir creates nested folders and names the level it cannot create', async () => {
  await ensureDir(join(work, 'a', 'b', 'c'));
  assert.ok(existsSync(join(work, 'a', 'b', 'c')));
  await writeFile(join(work, 'plain'), '');
  await assert.rejects(ensureDir(join(work, 'plain', 'x')), /is a file, not a folder/);
});

test('preview --out replaces its own PNG but never a user file or a file inside --data', async () => {
  const out = join(work, 'preview.png');
  const args = (o: string) => ['preview', '--data', join(set.root, 'train'), '--out', o, '--image-size', '16', '--count', '2'];
  const first = await runCli(args(out));
  assert.equal(first.code, 0, first.err.join('\n'));
  assert.ok(isMarkedPng(readFileSync(out)));
  const again = await runCli(args(out));
  assert.equal(again.code, 0, again.err.join('\n'));
  const photo = join(work, 'photo.png');
  await writeFile(photo, readFileSync(join(set.root, 'train', 'left', 'left_000.png')));
  const refused = await runCli(args(photo));
  assert.equal(refused.code, 2);
  assert.match(refused.err.join('\n'), /already exists and is not a preview PNG convkit wrote/);
  assert.deepEqual(readFileSync(photo), readFileSync(join(set.root, 'train', 'left', 'left_000.png')));
  await assertRefused(runCli(args(join(set.root, 'train', 'left', 'grid.png'))), 'lies inside --data', [set.root]);
});

test('markPng keeps the image decodable and is recognized', async () => {
  const sharp = (await import('sharp')).default;
  const png = await sharp({ create: { width: 3, height: 2, channels: 3, background: { r: 60, g: 1, b: 2 } } })
    .png()
    .toBuffer();
  assert.equal(isMarkedPng(png), false);
  const marked = markPng(png);
  assert.equal(isMarkedPng(marked), true);
  const { data, info } = await sharp(marked).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height, data[0]], [3, 2, 60]);
});

test("lockOutput refuses a second writer, takes over a dead process's lock and releases", async () => {
  const out = join(work, 'locked');
  const release = await lockOutput(out, '--out');
  await assert.rejects(lockOutput(out, '--out'), /--out .*locked is being written by another convkit run \(process \d+\)/);
  await release();
  assert.deepEqual(
    (await readdir(work)).filter((n) => n.includes('convkit-lock')),
    [],
  );
  // A lock left by a killed run (a pid that no longer exists) is stale.
  await writeFile(join(work, '.locked.convkit-lock'), '2147483646\n');
  const again = await lockOutput(out, '--out');
  await again();
});

test('undoOutputOnFailure removes what a failed run created, keeps a folder that held files, and keeps on request', async () => {
  const fresh = join(work, 'undo-fresh');
  const fail = () => Promise.reject(new Error('refused'));
  await assert.rejects(
    undoOutputOnFailure(fresh, async () => {
      await ensureDir(join(fresh, 'steps'));
      return fail();
    }),
    /refused/,
  );
  assert.equal(existsSync(fresh), false);
  const kept = join(work, 'undo-kept');
  await mkdir(kept);
  await writeFile(join(kept, 'mine.txt'), 'x');
  await assert.rejects(
    undoOutputOnFailure(kept, async () => {
      await writeFile(join(kept, 'new.txt'), 'y');
      return fail();
    }),
    /refused/,
  );
  assert.deepEqual((await readdir(kept)).sort(), ['mine.txt', 'new.txt']);
  const resumable = join(work, 'undo-resumable');
  await assert.rejects(
    undoOutputOnFailure(
      resumable,
      async () => {
        await ensureDir(resumable);
        return fail();
      },
      () => true,
    ),
    /refused/,
  );
  assert.equal(existsSync(resumable), true);
});
