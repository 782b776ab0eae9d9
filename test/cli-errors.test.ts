/**
 * Bad input on the command line: one message naming the flag or path and
 * exit 2; a bug: "internal error" and exit 1; --verbose or CONVKIT_VERBOSE=1
 * adds the stack trace.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../src/cli/main.js';
import { intFlag, intListFlag, numberFlag, takeVerbose } from '../src/cli/args.js';
import { inputErrorMessage, reportError } from '../src/cli/report-error.js';
import { ConvkitError } from '../src/util/errors.js';

let dir = '';
before(async () => {
  delete process.env.CONVKIT_VERBOSE;
  dir = await mkdtemp(join(tmpdir(), 'convkit-cli-errors-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs `fn` with console.error captured; returns its result and what it printed. */
async function capture<T>(fn: () => T | Promise<T>): Promise<{ value: T; err: string }> {
  const lines: string[] = [];
  const error = console.error,
    log = console.log;
  console.error = (...a: unknown[]) => {
    lines.push(a.join(' '));
  };
  console.log = () => {};
  try {
    return { value: await fn(), err: lines.join('\n') };
  } finally {
    console.error = error;
    console.log = log;
  }
}

const STACK = /^\s+at /m;

test('intFlag and numberFlag take plain decimals only and name the flag otherwise', () => {
  assert.equal(intFlag('12', 'epochs', 1), 12);
  assert.equal(intFlag('+3', 'epochs', 1), 3);
  assert.equal(intFlag(undefined, 'epochs', 7), 7);
  for (const bad of ['0x1', '0b1', '1e3', '1.5', ' 5', '', '5 ', 'Infinity', '99999999999999999999']) {
    assert.throws(
      () => intFlag(bad, 'epochs', 1),
      (e: Error) => e instanceof ConvkitError && e.message.includes(`invalid --epochs: ${JSON.stringify(bad)}`),
      bad,
    );
  }
  assert.throws(() => intFlag('5000', 'image-size', 150, 8, 4096), /--image-size must be a decimal integer from 8 to 4096/);
  assert.equal(intFlag('4096', 'image-size', 150, 8, 4096), 4096);
  for (const [s, n] of [
    ['1e-4', 1e-4],
    ['-0.5', -0.5],
    ['.5', 0.5],
    ['3.', 3],
    ['2E3', 2000],
  ] as const)
    assert.equal(numberFlag(s, 'learning-rate', 0), n, s);
  for (const bad of ['0x1', '1_000', 'Infinity', '1e999', '', '1e', 'NaN']) {
    assert.throws(() => numberFlag(bad, 'learning-rate', 0), /invalid --learning-rate/, bad);
  }
});

test('train: --epochs 0x1 and --image-size 100000 exit 2 with one message naming the flag', async () => {
  const base = ['train', '--recipe', 'scratch', '--data', join(dir, 'none'), '--out', join(dir, 'out')];
  const hex = await capture(() => main([...base, '--epochs', '0x1']));
  assert.equal(hex.value, 2);
  assert.match(hex.err, /^convkit train: invalid --epochs: "0x1"\n {2}fix: --epochs must be a decimal integer/);
  const big = await capture(() => main([...base, '--image-size', '100000']));
  assert.equal(big.value, 2);
  assert.match(big.err, /invalid --image-size: "100000"[\s\S]*from 8 to 4096/);
  assert.doesNotMatch(big.err, STACK);
});

test('train: --filters takes decimal integers only; a negative value reaches the range check that names its flag', async () => {
  assert.deepEqual(intListFlag('32, 64,128', 'filters'), [32, 64, 128]);
  for (const bad of ['0x10,8', '8,,8', '8,0', '1e2', '']) assert.throws(() => intListFlag(bad, 'filters'), /invalid --filters/, bad);
  const base = ['train', '--recipe', 'scratch', '--data', join(dir, 'none'), '--out', join(dir, 'out')];
  const negative = await capture(() => main([...base, '--seed', '-1']));
  assert.equal(negative.value, 2);
  assert.match(negative.err, /^convkit train: invalid --seed: "-1"/);
});

test('--verbose is taken out of argv anywhere before "--"; CONVKIT_VERBOSE=1 does the same', () => {
  assert.deepEqual(takeVerbose(['--verbose', 'train', '--epochs', '2'], {}), { argv: ['train', '--epochs', '2'], verbose: true });
  assert.deepEqual(takeVerbose(['predict', 'a.jpg', '--verbose', '--', '--verbose'], {}), { argv: ['predict', 'a.jpg', '--', '--verbose'], verbose: true });
  assert.deepEqual(takeVerbose(['doctor'], {}), { argv: ['doctor'], verbose: false });
  assert.equal(takeVerbose(['doctor'], { CONVKIT_VERBOSE: '1' }).verbose, true);
  assert.equal(takeVerbose(['doctor'], { CONVKIT_VERBOSE: '0' }).verbose, false);
});

test('bad input is one message without a stack; --verbose or CONVKIT_VERBOSE=1 adds it', async () => {
  const argv = ['preview', '--data', dir, '--count', 'x'];
  const plain = await capture(() => main(argv));
  assert.equal(plain.value, 2);
  assert.doesNotMatch(plain.err, STACK);
  const verbose = await capture(() => main([...argv, '--verbose']));
  assert.equal(verbose.value, 2);
  assert.match(verbose.err, /invalid --count[\s\S]*ConvkitError[\s\S]*\n\s+at /);
  process.env.CONVKIT_VERBOSE = '1';
  try {
    assert.match((await capture(() => main(argv))).err, STACK);
  } finally {
    delete process.env.CONVKIT_VERBOSE;
  }
});

test('an unexpected error is "internal error" in one line with a --verbose hint, exit 1', async () => {
  const bug = new TypeError("Cannot read properties of undefined (reading 'shape')\nsecond line");
  const plain = await capture(() => reportError('train', bug, false));
  assert.equal(plain.value, 1);
  assert.equal(plain.err.split('\n')[0], "convkit train: internal error: Cannot read properties of undefined (reading 'shape')");
  assert.match(plain.err, /rerun with --verbose/);
  assert.doesNotMatch(plain.err, STACK);
  const verbose = await capture(() => reportError('train', bug, true));
  assert.equal(verbose.value, 1);
  assert.match(verbose.err, STACK);
});

test('file errors caused by the path given are one message naming the path, exit 2', async () => {
  const file = join(dir, 'file.txt');
  await writeFile(file, 'x');
  const errorOf = (p: Promise<unknown>): Promise<unknown> =>
    p.then(
      () => assert.fail('no error'),
      (e: unknown) => e,
    );
  const cases: [unknown, string, RegExp][] = [
    [await errorOf(readFile(join(dir, 'missing.png'))), join(dir, 'missing.png'), /no such file or folder \(open\)/],
    [await errorOf(writeFile(dir, 'x')), dir, /is a folder, not a file \(open\)/],
    [await errorOf(readFile(join(file, 'x'))), join(file, 'x'), /not a folder/],
    // What writing a file onto an output folder that holds files ends with.
    [await errorOf(rename(file, tmpdir())), `${file} → ${tmpdir()}`, /not empty is in the way \(rename\)/],
  ];
  for (const [err, path, reason] of cases) {
    const r = await capture(() => reportError('predict', err, false));
    assert.equal(r.value, 2);
    assert.ok(r.err.startsWith(`convkit predict: ${path}: `), r.err);
    assert.match(r.err, reason);
    assert.doesNotMatch(r.err, /internal error|\n\s+at /);
  }
  // Without a path it is not the user's input.
  assert.equal(inputErrorMessage(Object.assign(new Error('x'), { code: 'ENOENT' })), undefined);
});

test('"constructor" and "__proto__" are unknown commands', async () => {
  for (const name of ['constructor', '__proto__', 'toString']) {
    const r = await capture(() => main([name]));
    assert.equal(r.value, 2, name);
    assert.match(r.err, new RegExp(`unknown command "${name}"`));
  }
});
