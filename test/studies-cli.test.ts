/** `convkit study` flag handling (no training: every case fails before any work). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../src/cli/main.js';

async function run(argv: string[]): Promise<{ code: number; err: string; out: string }> {
  const err: string[] = [],
    out: string[] = [];
  const e = console.error,
    l = console.log;
  console.error = (...a: unknown[]) => {
    err.push(a.join(' '));
  };
  console.log = (...a: unknown[]) => {
    out.push(a.join(' '));
  };
  try {
    return { code: await main(argv), err: err.join('\n'), out: out.join('\n') };
  } finally {
    console.error = e;
    console.log = l;
  }
}

test('study --help lists the studies, steps and profiles', async () => {
  const r = await run(['study', '--help']);
  assert.equal(r.code, 0);
  for (const word of ['cats-vs-dogs', 'gender', 'features-augment', 'quick|book|best', '--skip-bad', '--include-images']) assert.ok(r.out.includes(word), word);
});

test('study names the bad study, base, profile or missing flag', async () => {
  const cases: [string[], RegExp][] = [
    [['study', 'horses', '--data', 'd', '--out', 'o'], /unknown study "horses"/],
    [['study', 'cats-vs-dogs', '--out', 'o'], /--data is required/],
    [['study', 'cats-vs-dogs', '--data', 'd'], /--out is required/],
    [['study', 'cats-vs-dogs', '--data', 'd', '--out', 'o', '--base', 'resnet50'], /unknown --base "resnet50"/],
    [['study', 'cats-vs-dogs', '--data', 'd', '--out', 'o', '--profile', 'fast'], /unknown --profile "fast"/],
    [['study', '--data', 'd', '--out', 'o'], /give one study name/],
  ];
  for (const [argv, message] of cases) {
    const r = await run(argv);
    assert.equal(r.code, 2, argv.join(' '));
    assert.match(r.err, message);
  }
});

test('study auto: --help describes it; a bad --budget, --validation-split or a lecture-only flag is named', async () => {
  const help = await run(['study', '--help']);
  for (const word of ['convkit study auto', '--budget MINUTES', '--validation-split']) assert.ok(help.out.includes(word), word);
  const cases: [string[], RegExp][] = [
    [['study', 'auto', '--data', 'd', '--out', 'o', '--budget', '0'], /invalid --budget: "0"/],
    [['study', 'auto', '--data', 'd', '--out', 'o', '--budget', 'soon'], /--budget/],
    [['study', 'auto', '--data', 'd', '--out', 'o', '--validation-split', '1.5'], /invalid --validation-split: "1.5"/],
    [['study', 'auto', '--data', 'd', '--out', 'o', '--base', 'vgg16'], /--base is not an option of "convkit study auto"/],
    [['study', 'auto', '--data', 'd', '--out', 'o', '--profile', 'book'], /--profile is not an option of "convkit study auto"/],
    [['study', 'cats-vs-dogs', '--data', 'd', '--out', 'o', '--budget', '10'], /--budget is for "convkit study auto" only/],
  ];
  for (const [argv, message] of cases) {
    const r = await run(argv);
    assert.equal(r.code, 2, argv.join(' '));
    assert.match(r.err, message);
  }
});
