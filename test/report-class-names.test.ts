/**
 * Class folders may be named anything, "__proto__" and "constructor"
 * included: metrics, evaluation, charts and the report treat them as names.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { confusionMatrixChart, writeReport } from '../src/report/index.js';
import { evaluate } from '../src/train/evaluate.js';
import { confusionMatrix, perClassMetrics } from '../src/train/metrics.js';

const NAMES = ['__proto__', 'constructor', 'toString'];

before(async () => {
  await tf.setBackend('cpu');
});

test('metrics and evaluate keep classes named __proto__, constructor and toString', async () => {
  const m = confusionMatrix([0, 1, 2, 2], [0, 1, 1, 2], 3);
  assert.deepEqual(
    perClassMetrics(m, NAMES).map((c) => [c.className, c.support]),
    [
      ['__proto__', 1],
      ['constructor', 1],
      ['toString', 2],
    ],
  );
  // Softmax over the three input "pixels" taken as logits.
  const input = tf.input({ shape: [1, 1, 3] });
  const model = tf.model({
    inputs: input,
    outputs: tf.layers.activation({ activation: 'softmax' }).apply(tf.layers.flatten().apply(input)) as tf.SymbolicTensor,
  });
  const x = tf.tensor4d([5, 0, 0, 0, 5, 0, 0, 5, 0, 0, 0, 5], [4, 1, 1, 3]);
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 2], 'int32'), 3);
  const r = await evaluate(model, { x, y }, { classNames: NAMES });
  assert.deepEqual(r.classNames, NAMES);
  assert.deepEqual(r.confusion, m);
  assert.deepEqual(
    r.perClass.map((c) => c.className),
    NAMES,
  );
  tf.dispose([x, y]);
  model.dispose();
});

test('confusionMatrixChart labels and places classes named __proto__, constructor and toString', async () => {
  const fig = await confusionMatrixChart(
    [
      [5, 1, 0],
      [2, 7, 0],
      [0, 0, 9],
    ],
    NAMES,
  );
  for (const name of NAMES) assert.match(fig.svg, new RegExp(`>${name}</text>`));
  // Cells keep their class order: true "constructor" predicted as "__proto__" holds 2.
  assert.match(fig.svg, /; true: constructor; predicted: __proto__; count: 2;/);
  assert.match(fig.svg, /; true: toString; predicted: toString; count: 9;/);
});

test('writeReport draws a step whose classes are named __proto__ and constructor', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'convkit-report-names-'));
  try {
    const names = NAMES.slice(0, 2);
    const { indexPath } = await writeReport(
      dir,
      {
        title: 'odd class names',
        dataset: { name: 'odd', classNames: names, counts: { train: 4 } },
        steps: [
          {
            name: 'scratch',
            testAccuracy: 0.75,
            confusion: [
              [1, 1],
              [0, 2],
            ],
            classNames: names,
          },
        ],
      },
      { figures: false },
    );
    const html = await readFile(indexPath, 'utf8');
    assert.match(html, /2 classes: __proto__, constructor/);
    assert.match(html, /true: constructor; predicted: constructor; count: 2/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
