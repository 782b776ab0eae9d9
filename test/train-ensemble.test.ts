import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../src/backend/index.js';
import { evaluate, type EvaluationResult } from '../src/train/evaluate.js';
import { evaluateEnsemble, predictEnsemble } from '../src/train/ensemble.js';
import { predict } from '../src/train/predict.js';
import { loadModel, saveModel } from '../src/train/saved-model.js';
import { runCli } from './cli-harness.js';
import { linkSubset } from './audit-fixtures.js';

let work: string;
let data: string;

before(async () => {
  await initBackend();
  work = await mkdtemp(join(tmpdir(), 'convkit-ensemble-'));
  data = join(work, 'data');
  // test/'s first 8 cats and 8 dogs, as data/cats and data/dogs.
  linkSubset(data, { test: 8 }, () => '');
});
after(() => rm(work, { recursive: true, force: true }));

/** A fixed "classifier" of one input size: sigmoid of a weighted mean colour (weights chosen, not trained). */
function colourModel(size: number, weights: [number, number, number], bias: number): tf.LayersModel {
  const input = tf.input({ shape: [size, size, 3] });
  const pooled = tf.layers.globalAveragePooling2d({}).apply(input) as tf.SymbolicTensor;
  const dense = tf.layers.dense({ units: 1, activation: 'sigmoid' });
  const out = dense.apply(pooled) as tf.SymbolicTensor;
  dense.setWeights([tf.tensor2d(weights.map((w) => [w / 255])), tf.tensor1d([bias])]);
  return tf.model({ inputs: input, outputs: out });
}

const meta = (size: number, classNames = ['cats', 'dogs']) => ({
  classNames,
  inputSize: [size, size] as [number, number],
  colorMode: 'rgb' as const,
  classMode: 'binary' as const,
  preprocessing: { input: 'RGB pixels 0..255' },
});

test('soft voting: each member reads the images at its own size; the ensemble averages their probabilities per image', async () => {
  const a = { model: colourModel(16, [4, -2, -3], 0.5), meta: meta(16), name: 'a' };
  const b = { model: colourModel(40, [-3, 1, 2], 0.2), meta: meta(40), name: 'b' };
  const own: EvaluationResult[] = [];
  for (const m of [a, b]) {
    own.push(await evaluate(m.model, data, { classNames: m.meta.classNames, inputSize: m.meta.inputSize, keepPredictions: true }));
  }
  const r = await evaluateEnsemble([a as never, b as never], data, { keepPredictions: true });
  assert.equal(r.n, 16);
  assert.deepEqual(
    r.members.map((m) => [m.name, m.accuracy]),
    [
      ['a', own[0]!.accuracy],
      ['b', own[1]!.accuracy],
    ],
  );
  let right = 0;
  r.predictions!.forEach((p, i) => {
    const pa = own[0]!.predictions![i]!,
      pb = own[1]!.predictions![i]!;
    assert.equal(p.file, pa.file);
    const dog = (pa.probabilities[1]! + pb.probabilities[1]!) / 2;
    assert.ok(Math.abs(p.probabilities[1]! - dog) < 1e-9, `${p.file}: ${p.probabilities[1]} vs ${dog}`);
    if ((dog > 0.5 ? 1 : 0) === p.trueIndex) right++;
  });
  assert.equal(r.accuracy, right / 16);
  // The members really disagree somewhere, or the average would prove nothing.
  assert.ok(own[0]!.predictions!.some((p, i) => p.predIndex !== own[1]!.predictions![i]!.predIndex));
});

test('an ensemble refuses members with other classes, naming both; fewer than two members is an error', async () => {
  const a = { model: colourModel(16, [1, 0, 0], 0), meta: meta(16), name: 'model-a' };
  const b = { model: colourModel(16, [1, 0, 0], 0), meta: meta(16, ['dogs', 'cats']), name: 'model-b' };
  await assert.rejects(evaluateEnsemble([a as never, b as never], data), /model-b has classes \[dogs, cats\] but model-a has \[cats, dogs\]/);
  await assert.rejects(evaluateEnsemble([a as never], data), /at least 2 models/);
});

test('convkit evaluate with --model twice prints the ensemble and each model; --json holds the members', async () => {
  const dirs = [join(work, 'm16'), join(work, 'm40')];
  await saveModel(colourModel(16, [4, -2, -3], 0.5), dirs[0]!, meta(16));
  await saveModel(colourModel(40, [-3, 1, 2], 0.2), dirs[1]!, meta(40));
  const text = await runCli(['evaluate', '--model', dirs[0]!, '--model', dirs[1]!, '--data', data]);
  assert.equal(text.code, 0, text.err.join('\n'));
  const out = text.out.join('\n');
  assert.match(out, /ensemble of 2 models \(probabilities averaged\):/);
  for (const d of dirs) assert.match(out, new RegExp(`${d}: accuracy \\d\\.\\d{4}`));
  const json = await runCli(['evaluate', '--model', dirs[0]!, '--model', dirs[1]!, '--data', data, '--json']);
  const r = JSON.parse(json.out.join('\n'));
  assert.deepEqual(
    r.members.map((m: { name: string }) => m.name),
    dirs,
  );
  const loaded = await loadModel(dirs[0]!);
  const alone = await evaluate(loaded.model, data, { classNames: ['cats', 'dogs'], inputSize: [16, 16] });
  assert.equal(r.members[0].accuracy, alone.accuracy);
});

test('predict with several models: per file the averaged probabilities and their most probable class; --model twice on the CLI', async () => {
  const a = { model: colourModel(16, [4, -2, -3], 0.5), meta: meta(16), name: 'a' };
  const b = { model: colourModel(40, [-3, 1, 2], 0.2), meta: meta(40), name: 'b' };
  const files = (await readdir(join(data, 'cats'))).map((f) => join(data, 'cats', f));
  const [pa, pb] = [await predict(a as never, files), await predict(b as never, files)];
  const both = await predictEnsemble([a as never, b as never], files);
  both.forEach((p, i) => {
    const dog = (pa[i]!.probabilities.dogs! + pb[i]!.probabilities.dogs!) / 2;
    assert.ok(Math.abs(p.probabilities.dogs! - dog) < 1e-9);
    assert.equal(p.label, dog > 0.5 ? 'dogs' : 'cats');
  });
  const dirs = [join(work, 'p16'), join(work, 'p40')];
  await saveModel(a.model, dirs[0]!, meta(16));
  await saveModel(b.model, dirs[1]!, meta(40));
  const cli = await runCli(['predict', '--model', dirs[0]!, '--model', dirs[1]!, '--json', files[0]!]);
  assert.equal(cli.code, 0, cli.err.join('\n'));
  assert.ok(Math.abs(JSON.parse(cli.out[0]!).probabilities.dogs - both[0]!.probabilities.dogs!) < 1e-6);
});
