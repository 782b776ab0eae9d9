/**
 * ONNX export checked by an independent runtime: each model family convkit
 * trains is exported, and real test photos go through convkit (TF.js) and
 * through onnxruntime-node on the written file; the probabilities must agree
 * within 1e-4. Also: the vendored schema, the metadata, the CLI, and the
 * refusals (an unsupported layer, a file convkit did not write).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import protobuf from 'protobufjs';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../src/backend/index.js';
import { exportModel, isConvkitOnnx } from '../src/export/index.js';
import { decodeOnnxModel } from '../src/export/onnx-proto.js';
import { ONNX_DESCRIPTOR } from '../src/export/onnx-schema/onnx-descriptor.js';
import { smallCnn } from '../src/models/small-cnn.js';
import { saveModel } from '../src/train/saved-model.js';
import { ConvkitError } from '../src/util/errors.js';
import { runCli } from './cli-harness.js';
import { agreement, CATS_DOGS_TEST, ONNX_FAMILIES, spreadOutputs, testImages } from './export-fixtures.js';

await initBackend();
const tmp = mkdtempSync(join(tmpdir(), 'convkit-export-onnx-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
const noImages = existsSync(CATS_DOGS_TEST) ? false : `${CATS_DOGS_TEST} not found`;
/** Images per family: two cats and two dogs. */
const IMAGES = 4;

const runner = (session: ort.InferenceSession) => async (batch: Float32Array, dims: number[]) =>
  (await session.run({ pixels: new ort.Tensor('float32', batch, dims) })).probabilities!.data as Float32Array;

test('the descriptor the exporter encodes with is the vendored onnx.proto', () => {
  const text = readFileSync(new URL('../src/export/onnx-schema/onnx.proto', import.meta.url), 'utf8');
  const { root } = protobuf.parse(text, { keepCase: true });
  assert.deepEqual(JSON.parse(JSON.stringify(ONNX_DESCRIPTOR)), JSON.parse(JSON.stringify(root.toJSON())));
  const model = root.lookupType('onnx.ModelProto');
  // Field numbers onnxruntime reads: a wrong one would fail every check below, but name the culprit here.
  assert.deepEqual(Object.fromEntries(model.fieldsArray.map((f) => [f.name, f.id])), {
    ir_version: 1,
    opset_import: 8,
    producer_name: 2,
    producer_version: 3,
    domain: 4,
    model_version: 5,
    doc_string: 6,
    graph: 7,
    metadata_props: 14,
  });
});

for (const family of ONNX_FAMILIES) {
  test(
    `${family.name}: onnxruntime gives convkit's probabilities on real photos (max |Δp| < 1e-4)`,
    { skip: noImages || family.skip, timeout: 120_000 },
    async () => {
      const { model, meta } = await family.build();
      try {
        const [, h, w] = model.inputs[0]!.shape as number[];
        const pixels = await testImages(IMAGES, [h!, w!]);
        spreadOutputs(model, pixels, IMAGES);
        const out = join(tmp, `${family.name}.onnx`);
        const before = tf.memory().numTensors;
        const result = await exportModel(model, { format: 'onnx', out, meta });
        assert.equal(tf.memory().numTensors, before, 'the export leaves no tensors behind');
        assert.equal(result.bytes, statSync(out).size);
        const session = await ort.InferenceSession.create(out);
        try {
          assert.deepEqual(session.inputNames, ['pixels']);
          assert.deepEqual(session.outputNames, ['probabilities']);
          const r = await agreement(model, runner(session), pixels, IMAGES, 2);
          assert.ok(r.maxAbsDiff < 1e-4, `max |Δp| = ${r.maxAbsDiff}`);
          assert.ok(r.max - r.min > 0.05, `the probabilities vary across the photos (${r.min}..${r.max}), so agreeing means something`);
        } finally {
          await session.release();
        }
      } finally {
        model.dispose();
      }
    },
  );
}

test('a model folder exports with its classes, input size and pixel range in the metadata; the CLI writes the same', { timeout: 60_000 }, async () => {
  const model = smallCnn({ inputShape: [40, 40, 3], filters: [4, 8], denseUnits: 8, numClasses: 3, seed: 2 });
  const dir = join(tmp, 'folder-model');
  await saveModel(model, dir, {
    classNames: ['bird', 'cat', 'dog'],
    inputSize: [40, 40],
    colorMode: 'rgb',
    classMode: 'categorical',
    preprocessing: { input: 'RGB 0..255' },
  });
  const out = join(tmp, 'folder-model.onnx');
  const result = await exportModel(dir, { format: 'onnx', out });
  const onnx = decodeOnnxModel(readFileSync(out));
  const props = Object.fromEntries(onnx.metadata_props.map((p) => [p.key, p.value]));
  assert.equal(onnx.producer_name, 'convkit');
  assert.equal(onnx.opset_import[0]!.version, 13);
  assert.deepEqual(JSON.parse(props.class_names!), ['bird', 'cat', 'dog']);
  assert.deepEqual(JSON.parse(props.input_size!), [40, 40]);
  assert.match(props.input!, /RGB pixels in \[0, 255\]/);
  assert.equal(props.class_mode, 'categorical');
  assert.deepEqual(
    onnx.graph.input[0]!.type.tensor_type.shape.dim.map((d) => d.dim_value ?? d.dim_param),
    ['batch', 40, 40, 3],
  );
  assert.deepEqual(result.meta.classNames, ['bird', 'cat', 'dog']);
  assert.ok(await isConvkitOnnx(out));

  // Same probabilities as the model in memory, on hand-made pixels (the saved folder is what was exported).
  const x = Float32Array.from({ length: 2 * 40 * 40 * 3 }, (_, i) => (i * 37) % 256);
  const session = await ort.InferenceSession.create(out);
  const r = await agreement(model, runner(session), x, 2);
  await session.release();
  assert.ok(r.maxAbsDiff < 1e-5, `max |Δp| = ${r.maxAbsDiff}`);

  const cliOut = join(tmp, 'cli.onnx');
  const run = await runCli(['export', '--model', dir, '--format', 'onnx', '--out', cliOut, '--json']);
  assert.equal(run.code, 0, run.err.join('\n'));
  const line = JSON.parse(run.out.at(-1)!) as { format: string; bytes: number; classNames: string[]; inputSize: number[] };
  assert.equal(line.format, 'onnx');
  assert.deepEqual(line.classNames, ['bird', 'cat', 'dog']);
  assert.equal(line.bytes, statSync(cliOut).size);
  assert.deepEqual(readFileSync(cliOut).subarray(0, 64), readFileSync(out).subarray(0, 64));
  model.dispose();
});

test('layers with no ONNX form are named with their class, and nothing is written', async () => {
  const input = tf.input({ shape: [16, 16, 3] });
  let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, name: 'features' }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.conv2dTranspose({ filters: 4, kernelSize: 3, name: 'upsample' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.layerNormalization({ name: 'norm' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.flatten().apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ units: 1, activation: 'sigmoid' }).apply(x) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: x, name: 'unexportable' });
  const out = join(tmp, 'unsupported.onnx');
  await assert.rejects(exportModel(model, { format: 'onnx', out }), (err: Error) => {
    assert.ok(err instanceof ConvkitError);
    assert.match(err.message, /layers upsample \(Conv2DTranspose\): no ONNX conversion for this layer class; norm \(LayerNormalization\)/);
    assert.match(err.message, /fix: ONNX export supports the layers .*SeparableConv2D/);
    return true;
  });
  assert.ok(!existsSync(out));
  model.dispose();
});

test("a file convkit did not write is never replaced; convkit's own export is", async () => {
  const model = smallCnn({ inputShape: [20, 20, 3], filters: [4], denseUnits: 4, seed: 3 });
  const theirs = join(tmp, 'theirs.onnx');
  writeFileSync(theirs, 'someone else’s model');
  await assert.rejects(exportModel(model, { format: 'onnx', out: theirs }), /already exists and is not an ONNX model convkit wrote/);
  assert.equal(readFileSync(theirs, 'utf8'), 'someone else’s model');

  // An ONNX file by another producer is not convkit's either, even though it parses.
  const ours = join(tmp, 'ours.onnx');
  await exportModel(model, { format: 'onnx', out: ours });
  const foreign = decodeOnnxModel(readFileSync(ours));
  const other = join(tmp, 'other-producer.onnx');
  const { encodeOnnxModel } = await import('../src/export/onnx-proto.js');
  writeFileSync(other, encodeOnnxModel({ ...foreign, producer_name: 'tf2onnx', metadata_props: [] }));
  const bytes = readFileSync(other);
  await assert.rejects(exportModel(model, { format: 'onnx', out: other }), /not an ONNX model convkit wrote/);
  assert.deepEqual(readFileSync(other), bytes);

  // The previous export is replaced, atomically (no temporary file left beside it).
  const again = smallCnn({ inputShape: [20, 20, 3], filters: [4], denseUnits: 4, seed: 4 });
  const first = readFileSync(ours);
  await exportModel(again, { format: 'onnx', out: ours });
  assert.notDeepEqual(readFileSync(ours), first);
  assert.deepEqual(
    (await import('node:fs')).readdirSync(tmp).filter((f) => f.includes('.tmp-')),
    [],
  );

  // A folder is not a file, and a file inside the model folder would be lost when the model is saved again.
  await assert.rejects(exportModel(model, { format: 'onnx', out: tmp }), /is a folder/);
  const dir = join(tmp, 'guarded-model');
  await saveModel(model, dir, { classNames: ['a', 'b'], inputSize: [20, 20], colorMode: 'rgb', classMode: 'binary', preprocessing: { input: 'RGB 0..255' } });
  await assert.rejects(
    exportModel(dir, { format: 'onnx', out: join(dir, 'model.onnx'), flags: { out: '--out', model: '--model' } }),
    /--out .* lies inside --model/,
  );
  model.dispose();
  again.dispose();
});

test('an unknown format lists the formats; TFLite shares the table; an option the format does not read is refused', async () => {
  const model = smallCnn({ inputShape: [20, 20, 3], filters: [4], denseUnits: 4, seed: 5 });
  await assert.rejects(exportModel(model, { format: 'coreml', out: join(tmp, 'x.mlmodel') }), (err: Error) => {
    assert.match(err.message, /unknown export format "coreml"/);
    assert.match(err.message, /fix: use one of: onnx \(ONNX opset 13/);
    return true;
  });
  await assert.rejects(
    exportModel(model, { format: 'onnx', out: join(tmp, 'x.onnx'), formatOptions: { calibration: 'dir' } }),
    /onnx export does not take calibration/,
  );
  // TFLite goes through the same table (its own tests check the file); it needs the model's convkit.json.
  await assert.rejects(exportModel(model, { format: 'tflite', out: join(tmp, 'x.tflite') }), /tflite export needs the model's convkit.json/);
  const dir = join(tmp, 'tflite-model');
  await saveModel(model, dir, { classNames: ['a', 'b'], inputSize: [20, 20], colorMode: 'rgb', classMode: 'binary', preprocessing: { input: 'RGB 0..255' } });
  const written = await exportModel(dir, { format: 'tflite', out: join(tmp, 'x.tflite') });
  assert.deepEqual(written.files, [join(tmp, 'x.tflite'), join(tmp, 'x.labels.txt')]);
  assert.equal(readFileSync(join(tmp, 'x.labels.txt'), 'utf8'), 'a\nb\n');
  assert.match(written.input, /^float32 \[1, 20, 20, 3\]/);
  const refused = await runCli(['export', '--model', dir, '--format', 'tflite', '--out', join(tmp, 'x.tflite'), '--calibration', tmp]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.err.join('\n'), /the tflite export does not take calibration \(--calibration\)/);
  const run = await runCli(['export', '--model', join(tmp, 'nope'), '--format', 'coreml', '--out', join(tmp, 'x')]);
  assert.notEqual(run.code, 0);
  assert.match(run.err.join('\n'), /unknown export format "coreml"/);
  model.dispose();
});
