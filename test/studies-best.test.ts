/**
 * The study's best model (REPORT_DIR/model/) is chosen by validation
 * accuracy, ties by validation loss, then the later step; the test set
 * never chooses. Finished steps are laid out by hand, so nothing trains.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStudy, bestStep, DONE_FILE, RECORD_FILE, type StudyStepOutcome } from '../src/studies/study.js';
import type { StepRecord } from '../src/studies/run-step.js';
import type { StepName, StudyDefinition } from '../src/studies/steps.js';
import { saveModel } from '../src/train/saved-model.js';
import { writeSyntheticSet, type SyntheticSet } from './train-synthetic.js';

let set: SyntheticSet;
const work = mkdtempSync(join(tmpdir(), 'convkit-best-'));
before(async () => {
  await tf.setBackend('cpu');
  set = await writeSyntheticSet({ train: 3, validation: 2, test: 2 }, 16);
});
after(async () => {
  await set?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

function record(name: StepName, scores: { test: number; val: number; valLoss: number }): StepRecord {
  return {
    name,
    recipe: name,
    settings: {},
    testAccuracy: scores.test,
    valAccuracy: scores.val,
    valLoss: scores.valLoss,
    epochs: 1,
    wallSeconds: 1,
    trainSeconds: 1,
    trainImages: 6,
    params: { trainable: 17, total: 17 },
    history: { epoch: [0], history: { loss: [0.5], acc: [0.8], val_loss: [scores.valLoss], val_acc: [scores.val] } },
    classNames: ['left', 'right'],
    wrong: [],
    finishedAt: new Date(0).toISOString(),
  };
}

/** A finished step: a tiny saved model (its recipe names the step), step.json and DONE. */
async function finishedStep(stepsDir: string, r: StepRecord): Promise<void> {
  const input = tf.input({ shape: [16, 16, 3] });
  const output = tf.layers.dense({ units: 1, activation: 'sigmoid' }).apply(tf.layers.globalAveragePooling2d({}).apply(input)) as tf.SymbolicTensor;
  const dir = join(stepsDir, r.name);
  await saveModel(tf.model({ inputs: input, outputs: output }), dir, {
    classNames: ['left', 'right'],
    inputSize: [16, 16],
    colorMode: 'rgb',
    classMode: 'binary',
    preprocessing: { input: 'RGB 0..255' },
    recipe: { name: r.name, settings: {} },
  });
  writeFileSync(join(dir, RECORD_FILE), JSON.stringify(r));
  writeFileSync(join(dir, DONE_FILE), r.finishedAt);
}

test('the best model is the best by validation accuracy, not by test accuracy, and the report says so', async () => {
  const out = join(work, 'report');
  mkdirSync(join(out, 'steps'), { recursive: true });
  writeFileSync(join(out, '.convkit-study'), '');
  writeFileSync(join(out, 'results.json'), '{}');
  // scratch scores higher on test, augment on validation.
  await finishedStep(join(out, 'steps'), record('scratch', { test: 0.9, val: 0.7, valLoss: 0.5 }));
  await finishedStep(join(out, 'steps'), record('augment', { test: 0.8, val: 0.75, valLoss: 0.6 }));
  const study: StudyDefinition = {
    name: 'two',
    title: 'two steps',
    privateImages: true,
    steps: [
      { name: 'scratch', description: 'scratch' },
      { name: 'augment', description: 'augment' },
    ],
  };
  const r = await runStudy({ study, data: set.root, out, cacheDir: join(work, 'cache'), verbose: false, log: () => undefined });
  assert.ok(r.steps.every((s) => s.status === 'reused'));
  assert.equal(r.best, 'augment');
  assert.equal(JSON.parse(readFileSync(join(out, 'model', 'convkit.json'), 'utf8')).recipe.name, 'augment');
  const notes = (JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { notes: string[] }).notes;
  assert.ok(
    notes.some((n) => /best model \(augment, chosen by validation accuracy/.test(n)),
    notes.join('\n'),
  );
  assert.ok(!notes.some((n) => /by test accuracy/.test(n)));
});

test('ties in validation accuracy go to the lower validation loss, then to the later step', () => {
  const outcome = (name: StepName, val: number, valLoss: number): StudyStepOutcome => ({
    name,
    status: 'reused',
    record: record(name, { test: 1 - val, val, valLoss }),
  });
  assert.equal(bestStep([outcome('scratch', 0.8, 0.4), outcome('augment', 0.8, 0.5)])?.name, 'scratch');
  assert.equal(bestStep([outcome('scratch', 0.8, 0.5), outcome('augment', 0.8, 0.5)])?.name, 'augment');
  assert.equal(bestStep([outcome('features', 0.9, 0.9), outcome('finetune', 0.8, 0.1)])?.name, 'features');
  assert.equal(bestStep([]), undefined);
});
