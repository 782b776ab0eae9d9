/**
 * The xception and xresnet recipes through the command line: train a tiny
 * one on synthetic class folders, then evaluate and predict with the saved
 * folder, which plain TensorFlow.js also loads; their new flags, and the
 * options they cannot honour, refused by name.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { fileSystem } from '../src/train/saved-model.js';
import { runCli } from './cli-harness.js';
import { writeSyntheticSet, type SyntheticSet } from './train-synthetic.js';

let set: SyntheticSet;
let work: string;

before(async () => {
  set = await writeSyntheticSet({ train: 24, validation: 8, test: 8 });
  work = await mkdtemp(join(tmpdir(), 'convkit-cli-scratch-'));
});
after(async () => {
  await set?.cleanup();
  await rm(work, { recursive: true, force: true });
});

const common = ['--image-size', '24', '--batch-size', '16', '--seed', '2', '--quiet', '--json', '--no-plots'];

async function trainEvaluatePredict(recipe: string, extra: string[]): Promise<Record<string, any>> {
  const model = join(work, recipe);
  const r = await runCli(['train', '--recipe', recipe, '--data', set.root, '--out', model, ...common, ...extra]);
  assert.equal(r.code, 0, r.err.join('\n'));
  const meta = JSON.parse(readFileSync(join(model, 'convkit.json'), 'utf8'));
  assert.equal(meta.recipe.name, recipe);
  assert.equal(meta.metrics.test.n, 16);

  const e = await runCli(['evaluate', '--model', model, '--data', join(set.root, 'test'), '--json']);
  assert.equal(e.code, 0, e.err.join('\n'));
  const ev = JSON.parse(e.out.join(''));
  assert.equal(ev.n, 16);
  // The same kept model, the same images: the score train recorded.
  assert.equal(ev.accuracy, meta.metrics.test.accuracy);

  const p = await runCli(['predict', '--model', model, '--json', join(set.root, 'test', 'left')]);
  assert.equal(p.code, 0, p.err.join('\n'));
  const lines = p.out.map((l) => JSON.parse(l));
  assert.equal(lines.length, 8);
  for (const l of lines) assert.ok(Math.abs(l.probabilities.left + l.probabilities.right - 1) < 1e-5);

  // Plain TensorFlow.js reads the folder.
  const plain = await tf.loadLayersModel(fileSystem(model));
  assert.deepEqual(plain.inputs[0]!.shape, [null, 24, 24, 3]);
  plain.dispose();
  return meta;
}

test('xresnet, best profile: AdamW, flat-then-cosine rate, label smoothing, resized crops; evaluate and predict take the model', async () => {
  const meta = await trainEvaluatePredict('xresnet', ['--profile', 'best', '--filters', '8,8,16,16', '--epochs', '2', '--steps-per-epoch', '3']);
  const s = meta.recipe.settings;
  assert.equal(s.schedule, 'flat-cosine');
  assert.equal(s.weightDecay, 1e-2);
  assert.equal(s.labelSmoothing, 0.1);
  assert.deepEqual(s.augmentation.cropAreaFactor, [0.35, 1]);
  assert.deepEqual(s.model, { widen: 0.5, filters: [8, 8, 16, 16] });
  // 6 steps: the last epoch ends at step 5 of 6, progress 5/6, a quarter of the way into the cosine.
  const lr = meta.history.history.lr;
  assert.equal(lr[0], 3e-3);
  assert.ok(Math.abs(lr[1] - 3e-3 * (1e-5 + (1 - 1e-5) * 0.5 * (1 + Math.cos((Math.PI * (5 / 6 - 0.75)) / 0.25)))) < 1e-12, String(lr[1]));
});

test('xception, book profile with flags: --schedule, --weight-decay, --label-smoothing recorded and applied', async () => {
  const meta = await trainEvaluatePredict('xception', [
    '--filters',
    '8,16',
    '--epochs',
    '2',
    '--steps-per-epoch',
    '2',
    '--schedule',
    'one-cycle',
    '--weight-decay',
    '0.05',
    '--label-smoothing',
    '0.1',
    '--optimizer',
    'adam',
    '--batch-norm-momentum',
    '0.9',
  ]);
  const s = meta.recipe.settings;
  assert.deepEqual([s.schedule, s.weightDecay, s.labelSmoothing, s.optimizer, s.dropout], ['one-cycle', 0.05, 0.1, 'adam', 0.5]);
  assert.equal(s.model.batchNormMomentum, 0.9);
  const topology = JSON.parse(readFileSync(join(work, 'xception', 'model.json'), 'utf8')).modelTopology;
  const layers = (topology.model_config ?? topology).config.layers as { class_name: string; config: { momentum?: number } }[];
  assert.ok(layers.filter((l) => l.class_name === 'BatchNormalization').every((l) => l.config.momentum === 0.9));
  assert.equal(s.augmentation.rotationRange, 36);
  assert.ok(meta.history.history.lr.every((lr: number) => lr < 1e-3));
});

test('options a recipe cannot honour, and bad values, are refused by name', async () => {
  const out = join(work, 'refused');
  const refuse = async (args: string[], message: RegExp) => {
    const r = await runCli(['train', '--data', set.root, '--out', out, '--quiet', ...args]);
    assert.equal(r.code, 2, r.out.join('\n'));
    assert.match(r.err.join('\n'), message);
  };
  await refuse(['--recipe', 'xresnet', '--dense-units', '64'], /recipe xresnet cannot use --dense-units/);
  await refuse(['--recipe', 'xception', '--widen', '0.5'], /recipe xception cannot use --widen[\s\S]*applies to recipe xresnet/);
  await refuse(['--recipe', 'features', '--weight-decay', '0.01'], /recipe features cannot use --weight-decay/);
  await refuse(['--recipe', 'xresnet', '--schedule', 'zigzag'], /invalid --schedule: "zigzag"[\s\S]*flat-cosine/);
  await refuse(['--recipe', 'xresnet', '--weight-decay', '-1'], /invalid --weight-decay/);
  await refuse(['--recipe', 'xresnet', '--label-smoothing', '1'], /invalid --label-smoothing/);
  await refuse(['--recipe', 'xresnet', '--widen', '0'], /invalid --widen/);
  await refuse(['--recipe', 'augment', '--batch-norm-momentum', '0.9'], /recipe augment cannot use --batch-norm-momentum[\s\S]*xception, xresnet/);
});
