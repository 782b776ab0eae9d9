/**
 * Ctrl-C on `convkit study` (the built CLI, as a user runs it): it stops at
 * once with exit code 130 and a line saying how to continue; the step that
 * was running has no DONE marker, so the next run redoes it, and every step
 * that has one had finished.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { makeClassFolder, tempDir } from './data-fixtures.js';
import { packageRoot } from '../src/util/paths.js';

const cli = join(packageRoot(), 'bin', 'convkit.js');
const models = join(packageRoot(), '..', 'shared', 'models', 'mobilenet_v1_0.75_224');
const skip = !existsSync(join(packageRoot(), 'dist', 'src', 'cli', 'main.js'))
  ? 'the CLI is not built (npm run build)'
  : !existsSync(models)
    ? `${models} not found`
    : false;

test('Ctrl-C stops a study at once; the running step is left without DONE', { skip }, async () => {
  const { dir, cleanup } = tempDir('convkit-interrupt-');
  try {
    for (const split of ['train', 'validation', 'test']) await makeClassFolder(join(dir, 'data', split), { cats: 30, dogs: 30 }, [40, 40]);
    const out = join(dir, 'report');
    const child = spawn(process.execPath, [cli, 'study', 'cats-vs-dogs', '--data', join(dir, 'data'), '--out', out, '--cache-dir', join(dir, 'cache')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    let sent = false;
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      // The first step has started: interrupt it.
      if (!sent && /\[1\/5\] scratch: /.test(err)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    assert.ok(sent, `the study never started its first step:\n${err}`);
    assert.equal(code, 130, err);
    assert.match(err, /interrupted; finished steps are kept, the same command continues from the interrupted step/);
    const started = [...err.matchAll(/\[\d\/5\] ([a-z-]+): /g)].map((m) => m[1]!);
    const running = started[started.length - 1]!;
    assert.ok(!existsSync(join(out, 'steps', running, 'DONE')), `${running} was interrupted but marked done`);
    for (const name of ['scratch', 'augment', 'features', 'features-augment', 'finetune']) {
      if (existsSync(join(out, 'steps', name, 'DONE'))) assert.match(err, new RegExp(`${name} done in`), `${name} has DONE but never finished`);
    }
    assert.ok(!existsSync(join(out, 'index.html')), 'a report was written for an interrupted study');
  } finally {
    cleanup();
  }
});
