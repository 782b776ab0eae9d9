/**
 * The whole-model bench workloads: FLOP counting on graphs against
 * hand-computed values, and PyTorch's rebuild of a topology file against
 * TF.js's (same trainable parameters, same output) when torch is installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { graphFlops, prepareGraphWorkloads } from '../src/bench/graph-workloads.js';
import { miniXception } from '../src/models/xception.js';
import { packageRoot } from '../src/util/paths.js';

/** 8×8×3 → conv 3×3 same (4) → depthwise 3×3/2 same → separable 3×3 (6) ⊕ strided 1×1 conv (6) → GAP → dense 1. */
function tinyGraph(frozenStem: boolean): tf.LayersModel {
  const input = tf.input({ shape: [8, 8, 3] });
  const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) => layer.apply(x) as tf.SymbolicTensor;
  const stem = apply(tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', trainable: !frozenStem }), input); // 64·4·27 = 6912
  const dw = apply(tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same' }), stem); // 16·4·9 = 576
  const sep = apply(tf.layers.separableConv2d({ filters: 6, kernelSize: 3, padding: 'same' }), dw); // 16·4·9 + 16·4·6 = 960
  const shortcut = apply(tf.layers.conv2d({ filters: 6, kernelSize: 1, strides: 2, padding: 'same' }), stem); // 16·6·4 = 384
  let x = apply(tf.layers.add(), [sep, shortcut]);
  x = apply(tf.layers.batchNormalization(), x);
  x = apply(tf.layers.globalAveragePooling2d({}), x);
  return tf.model({ inputs: input, outputs: apply(tf.layers.dense({ units: 1 }), x) }); // 6
}

test('graph FLOPs: forward, weight gradients and input gradients after the first trainable layer', () => {
  const layers = { stem: 6912, dw: 576, sep: 960, shortcut: 384, dense: 6 };
  const forward = Object.values(layers).reduce((a, b) => a + b, 0);
  const model = tinyGraph(false);
  assert.equal(graphFlops(model, 3, 'forward'), 2 * 3 * forward);
  // Every layer trains; every layer but the stem needs its input gradient.
  assert.equal(graphFlops(model, 3, 'train'), 2 * 3 * (3 * forward - layers.stem));
  const frozen = tinyGraph(true);
  // A frozen stem: no weight gradient for it, and the layers reading its output need no input gradient.
  assert.equal(graphFlops(frozen, 1, 'train'), 2 * (forward + (forward - layers.stem) + layers.sep + layers.dense));
  model.dispose();
  frozen.dispose();
});

test("mini-Xception's training step: 3× forward minus the 5×5 stem's input gradient, from the topology file every backend reads", async () => {
  const dir = mkdtempSync(join(os.tmpdir(), 'convkit-graph-test-'));
  try {
    const { ready, failed } = await prepareGraphWorkloads(['mini_xception_epoch'], dir);
    assert.deepEqual(failed, {});
    const [w] = ready;
    assert.ok(w && existsSync(w.topology));
    const model = miniXception({ inputShape: w.input, numClasses: 2 });
    const stem = 176 * 176 * 32 * 25 * 3;
    assert.equal(w.flops, 2 * w.batch * (3 * (graphFlops(model, 1, 'forward') / 2) - stem));
    model.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const python = '/usr/bin/python3';
const torchMissing = spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status !== 0;

test(
  "PyTorch's network from a topology file has TF.js's trainable parameters and output",
  { skip: torchMissing ? `${python} cannot import torch (apt-get install -y python3-torch)` : false },
  () => {
    const dir = mkdtempSync(join(os.tmpdir(), 'convkit-graph-test-'));
    try {
      const model = miniXception({ inputShape: [40, 36, 3], numClasses: 2, filters: [8, 16, 24] });
      const file = join(dir, 'model.json');
      writeFileSync(file, JSON.stringify(model.toJSON(null, false)));
      const r = spawnSync(python, [join(packageRoot(), 'bench', 'pytorch_workloads.py'), '--describe', file, '40', '36'], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const described = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { trainable_params: number; output_shape: number[] };
      const trainable = model.trainableWeights.reduce((n, w) => n + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
      assert.equal(described.trainable_params, trainable);
      assert.deepEqual(described.output_shape, [2, 1]);
      model.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
