/**
 * Aborting a study in-process (what Ctrl-C does) stops it within about a
 * second, whatever the running step is doing: the transfer steps hear the
 * signal in their passes of the base over the images and between batches.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStudy, DONE_FILE } from '../src/studies/study.js';
import type { StepName, StudyDefinition } from '../src/studies/steps.js';
import { makePhotoSet, tinyBase } from './transfer-fixtures.js';

await tf.setBackend('cpu');
const root = await makePhotoSet(4, 16);
const work = mkdtempSync(join(tmpdir(), 'convkit-abort-'));
after(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

/** Runs a one-step study of `name` (epochs enough for minutes), aborts it when the step starts, and returns the seconds the abort took. */
async function abortedAfter(name: StepName, out: string): Promise<number> {
  const study: StudyDefinition = { name: 'one', title: name, steps: [{ name, description: name }] };
  const controller = new AbortController();
  let abortedAt = 0;
  const log = (line: string) => {
    if (!abortedAt && line.includes(`[1/1] ${name}:`)) {
      abortedAt = performance.now();
      controller.abort();
    }
  };
  await assert.rejects(
    runStudy({
      study,
      data: join(root, 'data'),
      out,
      base: tinyBase(16),
      profile: 'book',
      cacheDir: join(work, 'cache'),
      verbose: false,
      log,
      signal: controller.signal,
      overrides: { [name]: { imageSize: 16, epochs: 2000, batchSize: 2, variants: 1 } },
    }),
    (err: Error) => err.name === 'AbortError',
  );
  assert.ok(abortedAt > 0, 'the step never started');
  assert.ok(!existsSync(join(out, 'steps', name, DONE_FILE)));
  return (performance.now() - abortedAt) / 1000;
}

for (const name of ['features', 'features-augment'] as const) {
  test(`aborting a study during its ${name} step stops it within about a second`, async () => {
    const seconds = await abortedAfter(name, join(work, name));
    assert.ok(seconds < 1.5, `the study took ${seconds.toFixed(1)} s to stop`);
  });
}
