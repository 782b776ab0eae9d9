import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { buildVgg16, CAFFE_MEAN_BGR, loadVgg16, VGG16_BLOCKS, VGG16_IMAGENET, vgg16ImagenetWeights } from '../src/models/vgg16.js';
import { h5wasmModule, readKerasH5Weights } from '../src/models/keras-h5.js';
import { ConvkitError } from '../src/util/errors.js';
import { fileSystem } from '../src/models/fs-io.js';

await tf.setBackend('cpu');

const WIDTH = 1 / 32; // 2, 4, 8, 16, 16 filters
const tmp = mkdtempSync(join(tmpdir(), 'convkit-h5-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

/** Deterministic, distinct, non-round float32 values for weight `seed`. */
function values(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.fround(Math.sin(seed * 1000 + i * 0.731) * 0.5));
}

interface Layout {
  layer: string;
  shapes: number[][];
}

/** The Keras VGG16 layers at width multiplier WIDTH (no preprocessing layer: Keras has none). */
function vggLayout(top: boolean, classes = 5): Layout[] {
  const w = (n: number) => Math.max(1, Math.round(n * WIDTH));
  const out: Layout[] = [];
  let inC = 3;
  VGG16_BLOCKS.forEach((filters, b) =>
    filters.forEach((f, i) => {
      out.push({ layer: `block${b + 1}_conv${i + 1}`, shapes: [[3, 3, inC, w(f)], [w(f)]] });
      inC = w(f);
    }),
  );
  if (top) {
    out.push(
      { layer: 'fc1', shapes: [[inC, w(4096)], [w(4096)]] },
      { layer: 'fc2', shapes: [[w(4096), w(4096)], [w(4096)]] },
      { layer: 'predictions', shapes: [[w(4096), classes], [classes]] },
    );
  }
  return out;
}

/**
 * Writes a Keras-layout weight file: root attr layer_names (pool layers too,
 * with empty weight_names, as Keras does); each weighted layer's datasets
 * named old-style (block1_conv1_W_1:0, in the group) or new-style
 * (block1_conv1/kernel:0, in a subgroup).
 */
async function writeKerasH5(path: string, layout: Layout[], style: 'old' | 'new'): Promise<Map<string, Float32Array[]>> {
  const h5 = await h5wasmModule();
  const f = new h5.File(path, 'w');
  const expected = new Map<string, Float32Array[]>();
  const names: string[] = [];
  let seed = 1;
  for (const { layer, shapes } of layout) {
    names.push(layer);
    const g = f.create_group(layer);
    const wnames = shapes.map((_, i) => (style === 'old' ? `${layer}_${i === 0 ? 'W' : 'b'}_1:0` : `${layer}/${i === 0 ? 'kernel' : 'bias'}:0`));
    g.create_attribute('weight_names', wnames, null, `S${Math.max(...wnames.map((n) => n.length))}`);
    const parent = style === 'old' ? g : g.create_group(layer);
    const arrays = shapes.map((shape, i) => {
      const data = values(
        shape.reduce((a, b) => a * b, 1),
        seed++,
      );
      parent.create_dataset({ name: wnames[i].split('/').pop()!, data, shape, dtype: '<f' });
      return data;
    });
    expected.set(layer, arrays);
    if (layer.endsWith('_conv3') || layer === 'block1_conv2' || layer === 'block2_conv2') {
      const pool = layer.replace(/_conv\d$/, '_pool');
      names.push(pool);
      f.create_group(pool).create_attribute('weight_names', [], null, 'S1');
    }
  }
  f.create_attribute('layer_names', names, null, `S${Math.max(...names.map((n) => n.length))}`);
  f.create_attribute('backend', 'tensorflow');
  f.close();
  return expected;
}

for (const style of ['old', 'new'] as const) {
  test(`Keras .h5 weights (${style === 'old' ? 'block1_conv1_W_1:0' : 'block1_conv1/kernel:0'} names) load into VGG16 exactly`, async () => {
    const file = join(tmp, `vgg-${style}.h5`);
    const expected = await writeKerasH5(file, vggLayout(true), style);
    const read = await readKerasH5Weights(file);
    assert.equal(read.get('block1_pool')!.length, 0);
    const model = await loadVgg16({ weights: file, includeTop: true, inputSize: [32, 32], classes: 5, widthMultiplier: WIDTH });
    for (const [layer, arrays] of expected) {
      const got = model.getLayer(layer).getWeights();
      assert.equal(got.length, arrays.length, layer);
      got.forEach((t, i) => assert.deepEqual(t.dataSync(), arrays[i], `${layer} weight ${i}`));
    }
    model.dispose();
  });
}

test('a notop file loads into the base; a model layer missing from the file is a ConvkitError', async () => {
  const file = join(tmp, 'vgg-notop.h5');
  const expected = await writeKerasH5(file, vggLayout(false), 'old');
  const base = await loadVgg16({ weights: file, inputSize: [48, 64], widthMultiplier: WIDTH });
  assert.deepEqual(base.outputs[0].shape, [null, 1, 2, 16]);
  assert.equal(base.layers.at(-1)!.name, 'block5_pool');
  assert.deepEqual(base.getLayer('block5_conv3').getWeights()[1].dataSync(), expected.get('block5_conv3')![1]);
  base.dispose();
  await assert.rejects(
    loadVgg16({ weights: file, includeTop: true, inputSize: [32, 32], classes: 5, widthMultiplier: WIDTH }),
    (e: unknown) => e instanceof ConvkitError && /has no weights for layer fc1/.test(e.message),
  );
  await assert.rejects(
    loadVgg16({ weights: file, widthMultiplier: 1 / 16, inputSize: [32, 32] }),
    (e: unknown) => e instanceof ConvkitError && /block1_conv1.*has shape \[3,3,3,2\], the model expects \[3,3,3,4\]/.test(e.message),
  );
});

test('VGG16 weights also load from a TF.js model folder by layer name', async () => {
  const src = buildVgg16({ inputSize: [32, 32], widthMultiplier: WIDTH });
  const dir = join(tmp, 'tfjs-vgg');
  await src.save(fileSystem(dir));
  const model = await loadVgg16({ weights: dir, inputSize: [64, 64], widthMultiplier: WIDTH });
  assert.deepEqual(model.getLayer('block3_conv2').getWeights()[0].dataSync(), src.getLayer('block3_conv2').getWeights()[0].dataSync());
  src.dispose();
  model.dispose();
});

test('preprocess_caffe turns RGB pixels into BGR minus the ImageNet means, and is frozen', () => {
  const model = buildVgg16({ inputSize: [32, 32], widthMultiplier: WIDTH });
  const layer = model.getLayer('preprocess_caffe');
  assert.equal(layer.trainable, false);
  assert.equal(layer.getClassName(), 'Conv2D');
  const sub = tf.model({ inputs: model.inputs, outputs: layer.output as tf.SymbolicTensor });
  const pixels = tf.tidy(() => tf.tile(tf.tensor4d([10, 200, 37], [1, 1, 1, 3]), [1, 32, 32, 1]));
  const out = tf.tidy(() => (sub.predict(pixels) as tf.Tensor).slice([0, 5, 7, 0], [1, 1, 1, 3]).dataSync());
  const expected = [37 - CAFFE_MEAN_BGR[0], 200 - CAFFE_MEAN_BGR[1], 10 - CAFFE_MEAN_BGR[2]];
  expected.forEach((v, i) => assert.ok(Math.abs(out[i] - v) < 1e-4, `${out[i]} vs ${v}`));
  pixels.dispose();
  model.dispose();
});

test('ImageNet weights: offline → a ConvkitError naming the file and where to put it; a wrong file is refused by MD5', async () => {
  const cache = join(tmp, 'cache');
  process.env.CONVKIT_CACHE_DIR = cache;
  try {
    const dest = join(cache, 'keras-applications', 'vgg16', VGG16_IMAGENET.notop.file);
    await assert.rejects(
      vgg16ImagenetWeights(false, false),
      (e: unknown) =>
        e instanceof ConvkitError && e.message.includes(VGG16_IMAGENET.notop.url) && e.message.includes(dest) && e.message.includes(VGG16_IMAGENET.notop.md5),
    );
    mkdirSync(join(cache, 'keras-applications', 'vgg16'), { recursive: true });
    writeFileSync(dest, 'not the weights');
    await assert.rejects(
      loadVgg16({ download: false }),
      (e: unknown) => e instanceof ConvkitError && /has md5 [0-9a-f]{32}, expected 6d6bbae1/.test(e.message),
    );
  } finally {
    delete process.env.CONVKIT_CACHE_DIR;
  }
});
