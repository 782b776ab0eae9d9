/**
 * `convkit train` refuses an option its recipe cannot honour, naming both,
 * before reading any data (no training: every case fails at once).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './cli-harness.js';

process.env.CONVKIT_BACKEND = 'cpu';

test('train refuses options the recipe cannot honour, naming the option and the recipe', async () => {
  const work = mkdtempSync(join(tmpdir(), 'convkit-train-options-'));
  try {
    const args = (recipe: string, ...extra: string[]) => ['train', '--recipe', recipe, '--data', join(work, 'data'), '--out', join(work, 'out'), ...extra];
    const cases: [string[], RegExp][] = [
      [args('scratch', '--from', join(work, 'no-such-model')), /recipe scratch cannot use --from[\s\S]*applies to recipe features-augment, finetune/],
      [args('scratch', '--base', 'mobilenet_v2'), /recipe scratch cannot use --base/],
      [args('augment', '--unfreeze-blocks', '2'), /recipe augment cannot use --unfreeze-blocks/],
      [args('scratch', '--variants', '3'), /recipe scratch cannot use --variants/],
      [args('scratch', '--no-prefix-cache'), /recipe scratch cannot use --no-prefix-cache/],
      [args('features', '--filters', '8,16'), /recipe features cannot use --filters[\s\S]*applies to recipe scratch, augment/],
      [args('finetune', '--dense-units', '16'), /recipe finetune cannot use --dense-units/],
      [args('features', '--from', join(work, 'no-such-model')), /recipe features cannot use --from/],
      [args('features-augment', '--unfreeze-blocks', '1'), /recipe features-augment cannot use --unfreeze-blocks/],
    ];
    for (const [argv, message] of cases) {
      const r = await runCli(argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.match(r.err.join('\n'), message, argv.join(' '));
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
