/**
 * `convkit preview`: deterministic PNG grids from class folders and plain
 * folders, flag errors, and the book's cats-and-dogs command when the
 * shared data is present.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { initBackend } from '../src/backend/index.js';
import { main } from '../src/cli/main.js';

let dir = '';
const SHARED = join(import.meta.dirname, '..', '..', 'shared', 'data', 'cats_and_dogs_small', 'train');

/** A 40×30 image with a diagonal gradient and a coloured square, different per (k). */
async function writeImage(path: string, k: number): Promise<void> {
  const w = 40,
    h = 30,
    data = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3,
        inSquare = x > 5 + k && x < 18 + k && y > 4 && y < 15;
      data[i] = inSquare ? 250 : (x * 6) % 256;
      data[i + 1] = inSquare ? 40 * k : (y * 8) % 256;
      data[i + 2] = (x + y + 30 * k) % 256;
    }
  await sharp(data, { raw: { width: w, height: h, channels: 3 } })
    .png()
    .toFile(path);
}

async function quiet(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [],
    err: string[] = [];
  const log = console.log,
    error = console.error;
  console.log = (...a: unknown[]) => out.push(a.join(' '));
  console.error = (...a: unknown[]) => err.push(a.join(' '));
  try {
    return { code: await main(argv), out: out.join('\n'), err: err.join('\n') };
  } finally {
    console.log = log;
    console.error = error;
  }
}

before(async () => {
  await initBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'convkit-preview-'));
  for (const [c, cls] of ['cats', 'dogs'].entries()) {
    await mkdir(join(dir, 'train', cls), { recursive: true });
    for (let i = 0; i < 3; i++) await writeImage(join(dir, 'train', cls, `${cls}.${i}.png`), c * 3 + i);
  }
  await mkdir(join(dir, 'plain'));
  for (let i = 0; i < 4; i++) await writeImage(join(dir, 'plain', `photo${i}.png`), i);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('same seed gives identical PNG bytes; another seed differs', async () => {
  const run = async (seed: number, out: string) => {
    const r = await quiet([
      'preview',
      '--data',
      join(dir, 'train'),
      '--out',
      out,
      '--seed',
      String(seed),
      '--count',
      '3',
      '--image-size',
      '32',
      '--images',
      '2',
    ]);
    assert.equal(r.code, 0, r.err);
    return readFile(out);
  };
  const a = await run(1, join(dir, 'a.png'));
  const b = await run(1, join(dir, 'b.png'));
  const c = await run(2, join(dir, 'c.png'));
  assert.ok(a.equals(b), 'same seed, same bytes');
  assert.ok(!a.equals(c), 'another seed, another picture');
  const meta = await sharp(a).metadata();
  assert.equal(meta.format, 'png');
  // 4 columns (original + 3) and 2 rows of 32 px tiles with 4 px gaps, plus a caption strip per row.
  assert.equal(meta.width, 4 + 4 * (32 + 4));
  assert.ok(meta.height! > 4 + 2 * (32 + 4));
  // The first tile is the first image in sorted order, unaugmented.
  const tile = await sharp(a).extract({ left: 4, top: 4, width: 32, height: 32 }).removeAlpha().raw().toBuffer();
  const ref = await sharp(join(dir, 'train', 'cats', 'cats.0.png'))
    .resize(32, 32, { fit: 'fill', kernel: 'linear' })
    .raw()
    .toBuffer();
  let diff = 0;
  for (let i = 0; i < tile.length; i++) diff = Math.max(diff, Math.abs(tile[i]! - ref[i]!));
  assert.ok(diff <= 2, `first tile is the original image (max diff ${diff})`);
  assert.deepEqual(
    (await readdir(dir)).filter((f) => f.includes('.tmp')),
    [],
    'written atomically, no temp files left',
  );
});

test('--batch: one labelled batch; plain folders and --image files work too', async () => {
  const out = join(dir, 'batch.png');
  const r = await quiet(['preview', '--data', join(dir, 'train'), '--out', out, '--batch', '--batch-size', '6', '--image-size', '24', '--seed', '3']);
  assert.equal(r.code, 0, r.err);
  const meta = await sharp(out).metadata();
  assert.equal(meta.width, 4 + 6 * (24 + 4));
  const again = join(dir, 'batch2.png');
  await quiet(['preview', '--data', join(dir, 'train'), '--out', again, '--batch', '--batch-size', '6', '--image-size', '24', '--seed', '3']);
  assert.ok((await readFile(out)).equals(await readFile(again)));

  const plain = await quiet([
    'preview',
    '--data',
    join(dir, 'plain'),
    '--out',
    join(dir, 'plain.png'),
    '--random',
    '--images',
    '2',
    '--count',
    '2',
    '--image-size',
    '24',
    '--vertical-flip',
    '--fill-mode',
    'reflect',
    '--brightness-range',
    '0.5,1.5',
  ]);
  assert.equal(plain.code, 0, plain.err);
  assert.match(plain.out, /photo\d\.png[\s\S]*photo\d\.png/);
  const plainBatch = await quiet([
    'preview',
    '--data',
    join(dir, 'plain'),
    '--out',
    join(dir, 'plainb.png'),
    '--batch',
    '--batch-size',
    '3',
    '--image-size',
    '24',
  ]);
  assert.equal(plainBatch.code, 0, plainBatch.err);
  const files = await quiet([
    'preview',
    join(dir, 'plain', 'photo1.png'),
    '--image',
    join(dir, 'plain', 'photo2.png'),
    '--out',
    join(dir, 'files.png'),
    '--count',
    '1',
    '--image-size',
    '24',
  ]);
  assert.equal(files.code, 0, files.err);
  assert.equal((await sharp(join(dir, 'files.png')).metadata()).width, 4 + 2 * (24 + 4));
});

test('bad flags exit 2 with a message naming the flag', async () => {
  const cases: [string[], RegExp][] = [
    [['--rotation-range', '-5'], /--rotation-range/],
    [['--fill-mode', 'mirror'], /--fill-mode/],
    [['--zoom-range', '1,2,3'], /--zoom-range/],
    [['--count', '0'], /--count/],
    [['--brightness-range', 'x,1'], /--brightness-range/],
  ];
  for (const [flags, pattern] of cases) {
    const r = await quiet(['preview', '--data', join(dir, 'train'), '--out', join(dir, 'bad.png'), ...flags]);
    assert.equal(r.code, 2, flags.join(' '));
    assert.match(r.err, pattern);
  }
  const none = await quiet(['preview', '--data', join(dir, 'nowhere'), '--out', join(dir, 'bad.png')]);
  assert.equal(none.code, 2);
  assert.match(none.err, /nowhere/);
  assert.equal(existsSync(join(dir, 'bad.png')), false);
});

test("the book's command on cats_and_dogs_small", async (t) => {
  if (!existsSync(SHARED)) return t.skip(`shared data not found at ${SHARED}`);
  const out = join(dir, 'cats.png');
  const r = await quiet(['preview', '--data', SHARED, '--out', out, '--seed', '1']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /cat\.0\.jpg/);
  const meta = await sharp(out).metadata();
  assert.equal(meta.width, 4 + 9 * (150 + 4));
});

test('an image whose first red value is 60 (the "<" of an SVG) previews like any other', async () => {
  const file = join(dir, 'red60.png');
  await sharp({ create: { width: 20, height: 20, channels: 3, background: { r: 60, g: 120, b: 200 } } })
    .png()
    .toFile(file);
  const r = await quiet(['preview', file, '--out', join(dir, 'red60-grid.png'), '--count', '2', '--image-size', '16']);
  assert.equal(r.code, 0, r.err);
  const tile = await sharp(join(dir, 'red60-grid.png')).extract({ left: 4, top: 4, width: 1, height: 1 }).removeAlpha().raw().toBuffer();
  assert.deepEqual(Array.from(tile), [60, 120, 200]);
});

test('--image-size above 1024 and an --out that is a folder are refused before any work', async () => {
  const big = await quiet(['preview', '--data', join(dir, 'train'), '--out', join(dir, 'big.png'), '--image-size', '20000']);
  assert.equal(big.code, 2);
  assert.match(big.err, /invalid --image-size: "20000"[\s\S]*from 2 to 1024/);
  const folder = await quiet(['preview', '--data', join(dir, 'train'), '--image-size', '16', '--out', dir]);
  assert.equal(folder.code, 2);
  assert.match(folder.err, /--out .* is a folder/);
  assert.equal(folder.err.split('\n').length, 2, 'message and fix only');
});
