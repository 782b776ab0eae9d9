import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseRanges, parseSplit, prepareSplits, fileNumber } from '../src/data/prepare.js';
import { main } from '../src/cli/main.js';
import { ConvkitError } from '../src/util/errors.js';
import { solidPng, tempDir } from './data-fixtures.js';

/** A flat folder like the book's Kaggle download: cat.0.png … cat.{n-1}.png, dog.0.png … */
async function flatFolder(root: string, n: number): Promise<void> {
  await fs.mkdir(root, { recursive: true });
  for (const cls of ['cat', 'dog']) for (let i = 0; i < n; i++) await solidPng(join(root, `${cls}.${i}.png`), [i, cls === 'cat' ? 0 : 255, 9], 3, 3);
}

async function listing(root: string): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  // Dot files are convkit's marker of its own folder, not a part.
  for (const part of (await fs.readdir(root)).filter((p) => !p.startsWith('.')).sort()) {
    for (const cls of (await fs.readdir(join(root, part))).sort()) {
      out[`${part}/${cls}`] = (await fs.readdir(join(root, part, cls))).sort((a, b) => fileNumber(a)! - fileNumber(b)!);
    }
  }
  return out;
}

const quietly = async (argv: string[]): Promise<{ code: number; out: string; err: string }> => {
  const out: string[] = [],
    err: string[] = [];
  const log = console.log,
    error = console.error;
  console.log = (m: string) => out.push(m);
  console.error = (m: string) => err.push(m);
  try {
    return { code: await main(argv), out: out.join('\n'), err: err.join('\n') };
  } finally {
    console.log = log;
    console.error = error;
  }
};

test('split flags parse into counts, fractions and ranges, and bad ones are named', () => {
  assert.deepEqual(parseSplit('1000,500,500'), { kind: 'counts', counts: [1000, 500, 500] });
  assert.deepEqual(parseSplit('0.5,0.25,0.25'), { kind: 'fractions', fractions: [0.5, 0.25, 0.25] });
  assert.deepEqual(parseRanges('0-999,1000-1499,1500-1999'), {
    kind: 'ranges',
    ranges: [
      [0, 999],
      [1000, 1499],
      [1500, 1999],
    ],
  });
  assert.throws(() => parseSplit('0.6,0.6'), /invalid --split: "0.6,0.6" \(fractions add up to 1.2, over 1\)/);
  assert.throws(() => parseSplit('10,x'), /invalid --split/);
  assert.throws(() => parseSplit('10.5,3'), /invalid --split/);
  assert.throws(() => parseRanges('0-10,5-20'), /invalid --ranges: .*overlap/);
  assert.throws(() => parseRanges('10-5'), /runs backwards/);
  assert.equal(fileNumber('cat.12.jpg'), 12);
  assert.equal(fileNumber('IMG_2023_0042.jpeg'), 42);
  assert.equal(fileNumber('cat.jpg'), undefined);
});

test("the book's ranges on a flat folder (CLI), and refusal to overwrite", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const src = join(dir, 'kaggle'),
      dest = join(dir, 'small');
    await flatFolder(src, 10);
    await fs.writeFile(join(src, 'README.txt'), 'not an image: ignored');
    const r = await quietly(['prepare', src, dest, '--ranges', '0-3,4-5,6-7']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /4 images unused/);
    const got = await listing(dest);
    assert.deepEqual(Object.keys(got), ['test/cat', 'test/dog', 'train/cat', 'train/dog', 'validation/cat', 'validation/dog']);
    assert.deepEqual(got['train/cat'], ['cat.0.png', 'cat.1.png', 'cat.2.png', 'cat.3.png']);
    assert.deepEqual(got['validation/dog'], ['dog.4.png', 'dog.5.png']);
    assert.deepEqual(got['test/dog'], ['dog.6.png', 'dog.7.png']);
    assert.equal(statSync(join(dest, 'train', 'cat', 'cat.0.png')).nlink, 1, 'copied');

    const again = await quietly(['prepare', src, dest, '--ranges', '0-4,5-9']);
    assert.equal(again.code, 2);
    assert.match(again.err, /small is not empty .*\n.*--overwrite/);
    assert.deepEqual(await listing(dest), got, 'left untouched');
    const over = await quietly(['prepare', src, dest, '--ranges', '0-4,5-9', '--overwrite', '--link', '--json']);
    assert.equal(over.code, 0, over.err);
    assert.deepEqual(JSON.parse(over.out).counts, { train: { cat: 5, dog: 5 }, validation: { cat: 5, dog: 5 } });
    assert.deepEqual(Object.keys(await listing(dest)), ['train/cat', 'train/dog', 'validation/cat', 'validation/dog']);
    assert.equal(statSync(join(dest, 'train', 'cat', 'cat.0.png')).nlink, 2, 'hard-linked');
    assert.deepEqual((await fs.readdir(dir)).sort(), ['kaggle', 'small'], 'no temp folders left');
  } finally {
    cleanup();
  }
});

test('counts and fractions with a seed: disjoint, per-class, reproducible', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const src = join(dir, 'flat');
    await flatFolder(src, 12);
    const a = await prepareSplits({ source: src, dest: join(dir, 'a'), split: parseSplit('6,3,3'), seed: 1 });
    assert.equal(a.layout, 'flat');
    assert.deepEqual(a.counts, { train: { cat: 6, dog: 6 }, validation: { cat: 3, dog: 3 }, test: { cat: 3, dog: 3 } });
    const la = await listing(join(dir, 'a'));
    const cats = [...la['train/cat']!, ...la['validation/cat']!, ...la['test/cat']!].sort();
    assert.deepEqual(cats, Array.from({ length: 12 }, (_, i) => `cat.${i}.png`).sort(), 'each file in exactly one part');
    assert.notDeepEqual(
      la['train/cat'],
      Array.from({ length: 6 }, (_, i) => `cat.${i}.png`),
      'shuffled',
    );
    await prepareSplits({ source: src, dest: join(dir, 'b'), split: parseSplit('6,3,3'), seed: 1 });
    assert.deepEqual(await listing(join(dir, 'b')), la, 'same seed, same split');
    await prepareSplits({ source: src, dest: join(dir, 'c'), split: parseSplit('6,3,3'), seed: 2 });
    assert.notDeepEqual(await listing(join(dir, 'c')), la);

    const f = await prepareSplits({ source: src, dest: join(dir, 'f'), split: parseSplit('0.5,0.25,0.25'), names: ['tr', 'va', 'te'] });
    assert.deepEqual(f.counts, { tr: { cat: 6, dog: 6 }, va: { cat: 3, dog: 3 }, te: { cat: 3, dog: 3 } });
    assert.equal(f.unused, 0);
    await assert.rejects(
      prepareSplits({ source: src, dest: join(dir, 'g'), split: parseSplit('10,3') }),
      (e: unknown) => e instanceof ConvkitError && /class "cat" has 12 images, but --split 10,3 needs 13/.test(e.message),
    );
  } finally {
    cleanup();
  }
});

test('class sub-folders as the source; pattern and source errors are named', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const src = join(dir, 'byclass');
    for (const cls of ['roses', 'tulips']) {
      await fs.mkdir(join(src, cls), { recursive: true });
      for (let i = 0; i < 4; i++) await solidPng(join(src, cls, `img${i}.png`), [i, 1, 2], 3, 3);
    }
    const r = await prepareSplits({ source: src, dest: join(dir, 'out'), split: parseSplit('0.5,0.5') });
    assert.equal(r.layout, 'folders');
    assert.deepEqual(r.classNames, ['roses', 'tulips']);
    assert.deepEqual(r.counts, { train: { roses: 2, tulips: 2 }, validation: { roses: 2, tulips: 2 } });

    const flat = join(dir, 'flat');
    await flatFolder(flat, 3);
    await solidPng(join(flat, 'noclass.png'), [1, 2, 3]);
    const cases: [Parameters<typeof prepareSplits>[0], RegExp][] = [
      [{ source: flat, dest: join(dir, 'x'), split: parseSplit('1,1'), pattern: '^[a-z]+\\.' }, /has no capture group/],
      [{ source: flat, dest: join(dir, 'x'), split: parseSplit('1,1'), pattern: '^(cat|dog)\\.' }, /noclass\.png does not match --pattern/],
      [{ source: join(dir, 'nope'), dest: join(dir, 'x'), split: parseSplit('1,1') }, /nope does not exist/],
      [{ source: src, dest: join(src, 'inside'), split: parseSplit('1,1') }, /overlap/],
      [{ source: src, dest: join(dir, 'x'), split: parseSplit('1,1,1,1') }, /invalid --names/],
    ];
    for (const [opts, re] of cases) {
      await assert.rejects(prepareSplits(opts), (e: unknown) => e instanceof ConvkitError && re.test(e.message), re.source);
    }
    await fs.rm(join(flat, 'noclass.png'));
    await assert.rejects(
      prepareSplits({ source: flat, dest: join(dir, 'x'), split: parseRanges('0-0,5-9') }),
      /part "validation" would get no images of class "cat"/,
    );
  } finally {
    cleanup();
  }
});
