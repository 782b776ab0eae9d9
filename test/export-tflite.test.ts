/**
 * TFLite export checked by runtimes convkit did not write: each model family
 * convkit trains is exported in float32, and real test photos go through
 * convkit (TF.js) and through TensorFlow Lite's own runtime
 * (@tensorflow/tfjs-tflite in Chromium) — the probabilities must agree
 * within 1e-4 — and through convkit's TFLite importer. The int8 export of
 * the ImageNet MobileNet v1 must mostly pick the float model's class for
 * ImageNet photos, be right as often, and its tensors must follow TFLite's
 * int8 quantization spec. Also:
 * the labels and metadata, and the refusals (an unsupported layer, an option
 * the export cannot honour, a file convkit did not write).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { initBackend } from '../src/backend/index.js';
import { decodeImage } from '../src/data/decode.js';
import { readTfliteMetadata } from '../src/export/tflite-flatbuffer.js';
import { exportTflite, labelsPathFor, readTfliteDescription, type TfliteSourceMeta } from '../src/export/tflite.js';
import { loadMobileNetV1, MOBILENET_V1_DIR, readMobileNetV1Labels } from '../src/models/mobilenet-v1.js';
import { smallCnn } from '../src/models/small-cnn.js';
import { miniXception } from '../src/models/xception.js';
import { xresnet } from '../src/models/xresnet.js';
import { convertTflite, readTflite } from '../src/models/tflite/index.js';
import { ConvkitError } from '../src/util/errors.js';
import { launchChromium, skipWithoutChromium } from './chromium.js';
import { CATS_DOGS_TEST, FAMILIES, MODELS, SHARED, spreadOutputs, testImages, writeBatchNormStats, type Family } from './export-fixtures.js';
import { TfliteInterpreter } from './tflite-interpreter.js';

await initBackend();
const tmp = mkdtempSync(join(tmpdir(), 'convkit-export-tflite-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
const noImages = existsSync(CATS_DOGS_TEST) ? false : `${CATS_DOGS_TEST} not found`;
const CATS_DOGS_TRAIN = join(SHARED, 'data', 'cats_and_dogs_small', 'train');
const IMAGENETTE = join(SHARED, 'data', 'imagenette');
const IMAGENETTE_VAL = join(IMAGENETTE, 'val');
/** Imagenette's folders and their ImageNet class indices (its SOURCE.txt names the synsets). */
const IMAGENETTE_CLASSES: [string, number][] = [
  ['tench', 0],
  ['english_springer', 217],
  ['cassette_player', 482],
  ['chain_saw', 491],
  ['church', 497],
  ['french_horn', 566],
  ['garbage_truck', 569],
  ['gas_pump', 571],
  ['golf_ball', 574],
  ['parachute', 701],
];
const V1 = join(MODELS, MOBILENET_V1_DIR);
const noV1 = existsSync(join(V1, 'model.json')) && existsSync(IMAGENETTE_VAL) ? false : `${V1} or ${IMAGENETTE_VAL} not found`;
/** Images per family: two cats and two dogs. */
const IMAGES = 4;

/** Batch-normalized nets trained from scratch, small: BatchNormalization after additions, residual blocks. */
const withStats = (model: tf.LayersModel) => {
  writeBatchNormStats(model, 7);
  return model;
};
const FROM_SCRATCH: Family[] = [
  {
    name: 'mini_xception',
    title: 'mini-Xception (64 px, filters 8-16, seeded, BN statistics written)',
    skip: false,
    build: async () => ({
      model: withStats(miniXception({ inputShape: [64, 64, 3], numClasses: 3, filters: [8, 16], stemFilters: 8, seed: 2 })),
      meta: { classNames: ['a', 'b', 'c'], classMode: 'categorical', colorMode: 'rgb' },
    }),
  },
  {
    name: 'xresnet',
    title: 'xresnet (64 px, widen 1/8, seeded, BN statistics written)',
    skip: false,
    build: async () => ({
      model: withStats(xresnet({ inputShape: [64, 64, 3], numClasses: 2, widen: 0.125, seed: 2 })),
      meta: { classNames: ['cats', 'dogs'], classMode: 'binary', colorMode: 'rgb' },
    }),
  },
];

/** convkit.json's fields the export reads, for a model built here. */
function metaFor(model: tf.LayersModel, classNames: string[], extra: Partial<TfliteSourceMeta> = {}): TfliteSourceMeta {
  const [, h, w] = model.inputs[0]!.shape as number[];
  return {
    classNames,
    classMode: classNames.length === 2 ? 'binary' : 'categorical',
    inputSize: [h!, w!],
    colorMode: 'rgb',
    preprocessing: { interpolation: 'bilinear' },
    ...extra,
  };
}

const predictTfjs = (model: tf.LayersModel, pixels: Float32Array, n: number): Float32Array => {
  const [, h, w, c] = model.inputs[0]!.shape as number[];
  return tf.tidy(() => (model.predict(tf.tensor4d(pixels, [n, h!, w!, c!])) as tf.Tensor).dataSync() as Float32Array);
};

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
};

const argmax = (p: ArrayLike<number>, from: number, n: number) => {
  let best = 0;
  for (let c = 1; c < n; c++) if (p[from + c]! > p[from + best]!) best = c;
  return best;
};

describe('TFLite export through TensorFlow Lite’s runtime', { skip: skipWithoutChromium || noImages }, () => {
  let browser: Browser;
  let runtime: TfliteInterpreter;

  before(async () => {
    browser = await launchChromium();
    runtime = await TfliteInterpreter.open(browser);
  });

  after(async () => {
    await runtime?.close();
    await browser?.close();
  });

  for (const family of [...FAMILIES, ...FROM_SCRATCH]) {
    test(
      `${family.name}: float32 .tflite gives convkit's probabilities (max |Δp| < 1e-4), in TFLite and re-imported`,
      { skip: family.skip, timeout: 120_000 },
      async () => {
        const { model, meta } = await family.build();
        try {
          const [, h, w] = model.inputs[0]!.shape as number[];
          const pixels = await testImages(IMAGES, [h!, w!]);
          spreadOutputs(model, pixels, IMAGES);
          const expected = predictTfjs(model, pixels, IMAGES);
          const out = join(tmp, `${family.name}.tflite`);
          const before = tf.memory().numTensors;
          const result = await exportTflite(model, metaFor(model, meta.classNames!), out);
          assert.equal(tf.memory().numTensors, before, 'the export leaves no tensors behind');
          assert.equal(result.bytes, statSync(out).size);
          const bytes = new Uint8Array(readFileSync(out));

          const io = await runtime.load(bytes);
          assert.deepEqual(io.inputs[0], { name: io.inputs[0]!.name, dataType: 'float32', shape: [1, h!, w!, 3] });
          assert.equal(io.outputs[0]!.dataType, 'float32');
          const got = await runtime.run(Uint8Array.from(pixels), IMAGES);
          assert.ok(maxAbsDiff(got, expected) < 1e-4, `TFLite runtime: max |Δp| = ${maxAbsDiff(got, expected)}`);
          assert.ok(Math.max(...expected) - Math.min(...expected) > 0.05, 'the probabilities vary across the photos, so agreeing means something');

          // convkit's own importer reads the file back as a TF.js model.
          const back = convertTflite(readTflite(bytes, out), { rescale: { scale: 1, offset: 0 } }).model;
          try {
            const again = predictTfjs(back, pixels, IMAGES);
            assert.ok(maxAbsDiff(again, expected) < 1e-4, `re-imported: max |Δp| = ${maxAbsDiff(again, expected)}`);
          } finally {
            back.dispose();
          }
        } finally {
          model.dispose();
        }
      },
    );
  }

  test(
    'int8 MobileNet v1: uint8 pixels in, the float model’s ImageNet classes out, tensors as TFLite’s int8 spec has them',
    { skip: noV1, timeout: 120_000 },
    async () => {
      const model = await loadMobileNetV1({ path: V1, includeTop: true });
      try {
        const labels = readMobileNetV1Labels(V1);
        const meta = metaFor(model, labels);
        const out = join(tmp, 'mobilenet_v1-int8.tflite');
        const before = tf.memory().numTensors;
        const calibration = join(IMAGENETTE, 'train');
        const result = await exportTflite(model, meta, out, { quantize: 'int8', calibration, calibrationCount: 20, silent: true });
        assert.equal(tf.memory().numTensors, before, 'calibration leaves no tensors behind');
        assert.deepEqual(result.calibration, { dir: calibration, images: 20 });
        const bytes = new Uint8Array(readFileSync(out));

        // The spec: what TFLite's int8 kernels assume of each tensor.
        const g = readTflite(bytes, out);
        const input = g.tensors[g.inputs[0]!]!;
        assert.equal(input.type, 'UINT8');
        assert.deepEqual([Array.from(input.quantization!.scale), input.quantization!.zeroPoint], [[1], [0]], 'input: the raw pixel bytes');
        assert.equal(g.tensors[g.outputs[0]!]!.type, 'FLOAT32');
        let convs = 0;
        for (const op of g.operators.filter((o) => ['CONV_2D', 'DEPTHWISE_CONV_2D'].includes(o.op))) {
          const [x, w, b] = op.inputs.map((i) => g.tensors[i]!);
          assert.equal(x!.type, 'INT8');
          assert.equal(w!.type, 'INT8');
          const axis = op.op === 'DEPTHWISE_CONV_2D' ? 3 : 0;
          assert.equal(w!.quantization!.axis, axis, `${w!.name}: one scale per output channel`);
          assert.equal(w!.quantization!.scale.length, w!.shape[axis]);
          assert.ok(
            w!.quantization!.zeroPoint.every((z) => z === 0),
            `${w!.name}: symmetric`,
          );
          assert.ok(
            new Int8Array(w!.data!.slice().buffer).every((q) => q >= -127),
            `${w!.name}: -128 unused`,
          );
          assert.equal(b!.type, 'INT32');
          b!.quantization!.scale.forEach((s, c) =>
            assert.ok(Math.abs(s / (x!.quantization!.scale[0]! * w!.quantization!.scale[c]!) - 1) < 1e-6, `${b!.name}: scale = in · w[c]`),
          );
          convs++;
        }
        assert.equal(convs, 28, 'MobileNet v1: 14 convolutions, 13 depthwise, the 1×1 classifier');
        const softmax = g.operators.find((o) => o.op === 'SOFTMAX')!;
        const sq = g.tensors[softmax.outputs[0]!]!.quantization!;
        assert.deepEqual([sq.scale[0], sq.zeroPoint[0]], [1 / 256, -128]);
        const minRuntime = new TextDecoder().decode(readTfliteMetadata(bytes).get('min_runtime_version')).replace(/\0+$/, '');
        assert.equal(minRuntime, '1.14.0', 'int8 CONV_2D/DEPTHWISE_CONV_2D version 3 need TFLite 1.14');

        // TFLite's runtime on ImageNet photos (Imagenette's validation split, three of each class):
        // the int8 file picks the float model's class, and is right as often.
        const photos = IMAGENETTE_CLASSES.flatMap(([folder, label]) =>
          readdirSync(join(IMAGENETTE_VAL, folder))
            .sort()
            .slice(0, 3)
            .map((f) => ({ path: join(IMAGENETTE_VAL, folder, f), label })),
        );
        const pixels = new Uint8Array(photos.length * 224 * 224 * 3);
        for (const [i, p] of photos.entries()) pixels.set((await decodeImage(p.path, { targetSize: [224, 224] })).data, i * 224 * 224 * 3);
        const io = await runtime.load(bytes);
        assert.equal(io.inputs[0]!.dataType, 'uint8');
        const int8 = await runtime.run(pixels, photos.length);
        const float = predictTfjs(model, Float32Array.from(pixels), photos.length);
        const [top8, topF] = [int8, float].map((p) => photos.map((_, i) => argmax(p, i * 1000, 1000))) as [number[], number[]];
        const agree = photos.filter((_, i) => top8[i] === topF[i]).length;
        const right = (top: number[]) => photos.filter((p, i) => top[i] === p.label).length;
        assert.ok(right(topF) >= photos.length / 2, `the float model knows these classes (${right(topF)}/${photos.length})`);
        // Measured: 27 of 30 agree, 18 right for each (MobileNet v1 0.75 on 160 px photos scaled up).
        assert.ok(agree >= 0.8 * photos.length, `int8 and float pick the same class for ${agree}/${photos.length} photos`);
        assert.ok(right(top8) >= right(topF) - 2, `right: int8 ${right(top8)}, float ${right(topF)} of ${photos.length}`);
      } finally {
        model.dispose();
      }
    },
  );

  test(
    'int8 MobileNets side by side: the concatenation’s inputs share its scale, and TFLite’s runtime picks the float model’s class',
    { skip: noV1 || !existsSync(CATS_DOGS_TRAIN), timeout: 180_000 },
    async () => {
      const family = FAMILIES.find((f) => f.name === 'mobilenets_side_by_side_head')!;
      const { model } = await family.build();
      try {
        const n = 8;
        const pixels = await testImages(n, [160, 160]);
        spreadOutputs(model, pixels, n);
        const out = join(tmp, 'mobilenets-int8.tflite');
        await exportTflite(model, metaFor(model, ['cats', 'dogs']), out, {
          quantize: 'int8',
          calibration: CATS_DOGS_TRAIN,
          calibrationCount: 16,
          silent: true,
        });
        const bytes = new Uint8Array(readFileSync(out));
        const g = readTflite(bytes, out);
        const concat = g.operators.find((o) => o.op === 'CONCATENATION')!;
        const q = (i: number) => JSON.stringify([Array.from(g.tensors[i]!.quantization!.scale), g.tensors[i]!.quantization!.zeroPoint]);
        for (const i of concat.inputs) assert.equal(q(i), q(concat.outputs[0]!), `${g.tensors[i]!.name}: the concatenation's scale`);
        await runtime.load(bytes);
        const int8 = await runtime.run(Uint8Array.from(pixels), n);
        const float = predictTfjs(model, pixels, n);
        const side = (p: ArrayLike<number>) => Array.from(p, (v) => v > 0.5);
        assert.deepEqual(side(int8), side(float), `int8 ${Array.from(int8)} vs float ${Array.from(float)}`);
        assert.ok(maxAbsDiff(int8, float) < 0.1, `max |Δp| = ${maxAbsDiff(int8, float)}`);
      } finally {
        model.dispose();
      }
    },
  );
});

describe('TFLite export: files, metadata and refusals', () => {
  const small = () => smallCnn({ inputShape: [48, 48, 3], filters: [4, 4, 4, 4], denseUnits: 8, seed: 3 });

  test('writes MODEL.labels.txt and the class names, input and output inside the file; replaces only its own files', async () => {
    const model = small();
    try {
      const out = join(tmp, 'small.tflite');
      const result = await exportTflite(model, metaFor(model, ['cats', 'dogs']), out);
      assert.equal(result.labelsFile, join(tmp, 'small.labels.txt'));
      assert.equal(readFileSync(result.labelsFile, 'utf8'), 'cats\ndogs\n');
      const bytes = new Uint8Array(readFileSync(out));
      const meta = readTfliteMetadata(bytes);
      assert.equal(new TextDecoder().decode(meta.get('labels')), 'cats\ndogs\n');
      const d = readTfliteDescription(bytes)!;
      assert.deepEqual(
        [d.classNames, d.inputSize, d.input.type, d.input.shape, d.output.shape],
        [['cats', 'dogs'], [48, 48], 'float32', [1, 48, 48, 3], [1, 1]],
      );
      assert.match(d.output.values, /probability of class "dogs"/);
      assert.deepEqual(
        result.ops.sort(),
        ['CONV_2D', 'FULLY_CONNECTED', 'LOGISTIC', 'MAX_POOL_2D', 'MUL', 'RESHAPE'],
        'Rescaling 1/255 is one MUL; ReLU is fused',
      );
      // Its own files are replaced.
      await exportTflite(model, metaFor(model, ['cat', 'dog']), out);
      assert.equal(readFileSync(result.labelsFile, 'utf8'), 'cat\ndog\n');

      // Anyone else's are not, and stay as they were.
      const theirs = join(tmp, 'theirs.tflite');
      writeFileSync(theirs, 'not convkit');
      await assert.rejects(
        exportTflite(model, metaFor(model, ['cats', 'dogs']), theirs),
        (e: unknown) => e instanceof ConvkitError && /not a TFLite model convkit wrote/.test(e.message),
      );
      assert.equal(readFileSync(theirs, 'utf8'), 'not convkit');
      const lonely = join(tmp, 'lonely.tflite');
      writeFileSync(labelsPathFor(lonely), 'a\nb\n');
      await assert.rejects(exportTflite(model, metaFor(model, ['cats', 'dogs']), lonely), /lonely\.labels\.txt already exists/);
      assert.equal(existsSync(lonely), false);
    } finally {
      model.dispose();
    }
  });

  test('a layer TFLite cannot run is named before any work', async () => {
    const input = tf.input({ shape: [16, 16, 3] });
    const conv = tf.layers.conv2d({ filters: 2, kernelSize: 3, name: 'conv' }).apply(input) as tf.SymbolicTensor;
    const pooled = tf.layers.globalMaxPooling2d({ name: 'max_pool_all' }).apply(conv) as tf.SymbolicTensor;
    const y = tf.layers.dense({ units: 1, activation: 'sigmoid' }).apply(pooled) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: y });
    const out = join(tmp, 'unsupported.tflite');
    await assert.rejects(
      exportTflite(model, metaFor(model, ['a', 'b']), out),
      (e: unknown) => e instanceof ConvkitError && /layer "max_pool_all" \(GlobalMaxPooling2D\)/.test(e.message),
    );
    const elu = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [8, 8, 3], filters: 2, kernelSize: 3, activation: 'elu', name: 'elu_conv' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 1, activation: 'sigmoid' }),
      ],
    });
    await assert.rejects(exportTflite(elu, metaFor(elu, ['a', 'b']), out), /layer "elu_conv" \(Conv2D\) uses activation "elu"/);
    assert.equal(existsSync(out), false);
    model.dispose();
    elu.dispose();
  });

  test(
    'calibration options: refused without int8; the default set is convkit.json’s training split; needed when none is recorded',
    { skip: noImages },
    async () => {
      const model = small();
      try {
        const out = join(tmp, 'small-int8.tflite');
        const meta = metaFor(model, ['cats', 'dogs']);
        await assert.rejects(exportTflite(model, meta, out, { calibration: CATS_DOGS_TRAIN }), /--calibration applies to the int8 export only/);
        await assert.rejects(exportTflite(model, meta, out, { calibrationCount: 5 }), /--calibration-count applies to the int8 export only/);
        await assert.rejects(exportTflite(model, meta, out, { quantize: 'int8' }), /does not record its training data[\s\S]*--calibration DIR/);
        await assert.rejects(exportTflite(model, meta, out, { quantize: 'int8', calibration: CATS_DOGS_TRAIN, calibrationCount: 0 }), /calibrationCount/);
        const recorded = { ...meta, data: { root: join(SHARED, 'data', 'cats_and_dogs_small') } };
        const r = await exportTflite(model, recorded, out, { quantize: 'int8', calibrationCount: 6, silent: true });
        assert.deepEqual(r.calibration, { dir: CATS_DOGS_TRAIN, images: 6 });
        assert.equal(readTfliteDescription(new Uint8Array(readFileSync(out)))!.input.type, 'uint8');
      } finally {
        model.dispose();
      }
    },
  );
});
