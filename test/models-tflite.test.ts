import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import * as flatbuffers from 'flatbuffers';
import {
  ActivationFunctionType,
  BuiltinOperator,
  BuiltinOptions,
  Buffer as TflBuffer,
  Conv2DOptions,
  DepthwiseConv2DOptions,
  Model,
  MulOptions,
  Operator,
  OperatorCode,
  Padding,
  QuantizationDetails,
  QuantizationParameters,
  SubGraph,
  Tensor,
  TensorType,
} from '../src/models/tflite/schema/schema_generated.js';
import { convertTflite, dequantize, layerNameFromTensor, readTflite } from '../src/models/tflite/index.js';
import { ConvkitError } from '../src/util/errors.js';

const V2_DIR = new URL('../../shared/models/mobilenet_v2_1.0_224_quant_tflite/', import.meta.url).pathname;
const haveV2 = existsSync(V2_DIR);
const skipV2 = haveV2 ? false : `MobileNet v2 TFLite files not found in ${V2_DIR}`;

await tf.setBackend('cpu');

/** Independent read of tensor `index` straight from the flatbuffer accessors: scale·(q − zp) per channel of axis 0. */
function referenceDequant(bytes: Uint8Array, index: number): { values: Float32Array; shape: number[] } {
  const m = Model.getRootAsModel(new flatbuffers.ByteBuffer(bytes));
  const t = m.subgraphs(0)!.tensors(index)!;
  const q = t.quantization()!;
  const raw = m.buffers(t.buffer())!.dataArray()!;
  const shape = Array.from(t.shapeArray()!);
  assert.equal(q.quantizedDimension(), 0);
  const perChannel = q.scaleLength() > 1;
  const inner = shape.slice(1).reduce((a, b) => a * b, 1);
  const values = new Float32Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const c = perChannel ? Math.floor(i / inner) : 0;
    const qv = t.type() === TensorType.INT8 ? (raw[i] << 24) >> 24 : raw[i];
    values[i] = q.scale(c)! * (qv - Number(q.zeroPoint(c)!));
  }
  return { values, shape };
}

test('dequantized uint8 per-tensor weights equal scale·(q − zp) from the raw buffer', { skip: skipV2 }, () => {
  const bytes = new Uint8Array(readFileSync(V2_DIR + 'mobilenet_v2_1.0_224_quant.tflite'));
  const g = readTflite(bytes);
  const conv = g.operators.find((o) => o.op === 'CONV_2D')!;
  const w = g.tensors[conv.inputs[1]];
  assert.equal(w.type, 'UINT8');
  assert.deepEqual(w.shape, [32, 3, 3, 3]);
  const ref = referenceDequant(bytes, w.index);
  assert.deepEqual(Array.from(dequantize(w)), Array.from(ref.values));
  assert.ok(ref.values.some((v) => v !== 0));
});

test('dequantized int8 per-channel weights equal scale[c]·(q − zp[c]) from the raw buffer', { skip: skipV2 }, () => {
  const bytes = new Uint8Array(readFileSync(V2_DIR + 'tf2_mobilenet_v2_1.0_224_ptq.tflite'));
  const g = readTflite(bytes);
  const conv = g.operators.find((o) => o.op === 'CONV_2D')!;
  const w = g.tensors[conv.inputs[1]];
  assert.equal(w.type, 'INT8');
  assert.equal(w.quantization!.scale.length, 32);
  const ref = referenceDequant(bytes, w.index);
  assert.deepEqual(Array.from(dequantize(w)), Array.from(ref.values));
  // The rebuilt layer holds the same values, transposed OHWI → HWIO.
  const { model } = convertTflite(g, { featuresOnly: true });
  const layer = model.layers.find((l) => l.getClassName() === 'Conv2D')!;
  const kernel = layer.getWeights()[0];
  assert.deepEqual(kernel.shape, [3, 3, 3, 32]);
  const k = kernel.dataSync();
  for (const [o, y, x, i] of [
    [0, 0, 0, 0],
    [31, 2, 1, 2],
    [17, 1, 2, 1],
  ]) {
    assert.equal(k[((y * 3 + x) * 3 + i) * 32 + o], ref.values[((o * 3 + y) * 3 + x) * 3 + i]);
  }
  model.dispose();
});

test('layer names come from the TFLite tensor scopes', () => {
  assert.equal(layerNameFromTensor('MobilenetV2/expanded_conv_1/depthwise/Relu6'), 'expanded_conv_1_depthwise');
  assert.equal(layerNameFromTensor('MobileNetV2/expanded_conv_1/project/batch_norm/FusedBatchNormV3;x/y'), 'expanded_conv_1_project');
  assert.equal(layerNameFromTensor('MobileNetV2/expanded_conv_3/add/add'), 'expanded_conv_3_add');
  assert.equal(layerNameFromTensor('MobilenetV2/Conv/Relu6'), 'Conv');
});

// Small TFLite files written here with the flatbuffers builder and the same generated schema.

interface TSpec {
  name: string;
  shape: number[];
  type: TensorType;
  data?: Uint8Array;
  scale?: number[];
  zp?: number[];
  axis?: number;
}
interface OSpec {
  code: BuiltinOperator;
  inputs: number[];
  outputs: number[];
  options?: (b: flatbuffers.Builder) => [BuiltinOptions, number];
}

function buildTflite(tensors: TSpec[], ops: OSpec[], inputs: number[], outputs: number[]): Uint8Array {
  const b = new flatbuffers.Builder(1024);
  const buffers = [TflBuffer.createBuffer(b, 0, 0n, 0n)];
  const tensorOffsets = tensors.map((t) => {
    let bufferIndex = 0;
    if (t.data) {
      const data = TflBuffer.createDataVector(b, t.data);
      buffers.push(TflBuffer.createBuffer(b, data, 0n, 0n));
      bufferIndex = buffers.length - 1;
    }
    let quant = 0;
    if (t.scale) {
      const scale = QuantizationParameters.createScaleVector(b, t.scale);
      const zp = QuantizationParameters.createZeroPointVector(b, (t.zp ?? t.scale.map(() => 0)).map(BigInt));
      quant = QuantizationParameters.createQuantizationParameters(b, 0, 0, scale, zp, QuantizationDetails.NONE, 0, t.axis ?? 0);
    }
    const name = b.createString(t.name);
    const shape = Tensor.createShapeVector(b, t.shape);
    Tensor.startTensor(b);
    Tensor.addShape(b, shape);
    Tensor.addType(b, t.type);
    Tensor.addBuffer(b, bufferIndex);
    Tensor.addName(b, name);
    if (quant) Tensor.addQuantization(b, quant);
    return Tensor.endTensor(b);
  });
  const codes = [...new Set(ops.map((o) => o.code))];
  const opOffsets = ops.map((o) => {
    const [type, opts] = o.options ? o.options(b) : [BuiltinOptions.NONE, 0];
    return Operator.createOperator(b, codes.indexOf(o.code), Operator.createInputsVector(b, o.inputs), Operator.createOutputsVector(b, o.outputs), type, opts);
  });
  const sg = SubGraph.createSubGraph(
    b,
    SubGraph.createTensorsVector(b, tensorOffsets),
    SubGraph.createInputsVector(b, inputs),
    SubGraph.createOutputsVector(b, outputs),
    SubGraph.createOperatorsVector(b, opOffsets),
    b.createString('main'),
  );
  const codeOffsets = codes.map((c) => OperatorCode.createOperatorCode(b, Math.min(c, 127), 0, 1, c));
  const model = Model.createModel(
    b,
    3,
    Model.createOperatorCodesVector(b, codeOffsets),
    Model.createSubgraphsVector(b, [sg]),
    b.createString('test'),
    Model.createBuffersVector(b, buffers),
  );
  Model.finishModelBuffer(b, model);
  return b.asUint8Array().slice();
}

const i8 = (v: number[]) => new Uint8Array(Int8Array.from(v).buffer);
const i32 = (v: number[]) => new Uint8Array(Int32Array.from(v).buffer);

/** Plain-JS NHWC convolution with TF's SAME padding (pad before = ⌊total/2⌋, the extra row/column after). */
function refConv(
  x: Float32Array,
  [h, w, c]: number[],
  kernel: (o: number, ky: number, kx: number, i: number) => number,
  outC: number,
  k: number,
  s: number,
  depthwise: boolean,
  bias: number[],
  act: (v: number) => number,
) {
  const oh = Math.ceil(h / s),
    ow = Math.ceil(w / s);
  const padT = Math.floor(Math.max((oh - 1) * s + k - h, 0) / 2),
    padL = Math.floor(Math.max((ow - 1) * s + k - w, 0) / 2);
  const out = new Float32Array(oh * ow * outC);
  for (let y = 0; y < oh; y++)
    for (let xo = 0; xo < ow; xo++)
      for (let o = 0; o < outC; o++) {
        let sum = bias[o];
        for (let ky = 0; ky < k; ky++)
          for (let kx = 0; kx < k; kx++) {
            const iy = y * s + ky - padT,
              ix = xo * s + kx - padL;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
            if (depthwise) sum += x[(iy * w + ix) * c + o] * kernel(o, ky, kx, o);
            else for (let i = 0; i < c; i++) sum += x[(iy * w + ix) * c + i] * kernel(o, ky, kx, i);
          }
        out[(y * ow + xo) * outC + o] = act(sum);
      }
  return { out, shape: [oh, ow, outC] };
}

test('a generated TFLite conv → depthwise graph matches a plain-JS reference (SAME padding at stride 2, per-channel int8, relu6)', () => {
  const H = 7,
    W = 6,
    C = 3,
    F = 4;
  const convQ = Array.from({ length: F * 3 * 3 * C }, (_, i) => ((i * 37) % 255) - 127);
  const convScale = [0.01, 0.02, 0.005, 0.03];
  const convBiasQ = [100, -200, 50, 0];
  const inScale = 1 / 64,
    inZp = 100;
  const dwQ = Array.from({ length: 3 * 3 * F }, (_, i) => (i * 53) % 256);
  const dwScale = 0.004,
    dwZp = 120;
  const dwBiasQ = [10, 20, -30, 40];
  const tensors: TSpec[] = [
    { name: 'input', shape: [1, H, W, C], type: TensorType.UINT8, scale: [inScale], zp: [inZp] },
    { name: 'net/conv/weights', shape: [F, 3, 3, C], type: TensorType.INT8, data: i8(convQ), scale: convScale, zp: [0, 0, 0, 0], axis: 0 },
    // Bias scale = input scale × weight scale, as TFLite requires.
    { name: 'net/conv/bias', shape: [F], type: TensorType.INT32, data: i32(convBiasQ), scale: convScale.map((s) => s * inScale), zp: [0, 0, 0, 0] },
    { name: 'net/conv/Relu6', shape: [1, 4, 3, F], type: TensorType.UINT8, scale: [6 / 255], zp: [0] },
    { name: 'net/dw/weights', shape: [1, 3, 3, F], type: TensorType.UINT8, data: new Uint8Array(dwQ), scale: [dwScale], zp: [dwZp] },
    { name: 'net/dw/bias', shape: [F], type: TensorType.INT32, data: i32(dwBiasQ), scale: [(dwScale * 6) / 255], zp: [0] },
    { name: 'net/dw/BiasAdd', shape: [1, 2, 2, F], type: TensorType.UINT8, scale: [0.05], zp: [128] },
  ];
  const ops: OSpec[] = [
    {
      code: BuiltinOperator.CONV_2D,
      inputs: [0, 1, 2],
      outputs: [3],
      options: (b) => [BuiltinOptions.Conv2DOptions, Conv2DOptions.createConv2DOptions(b, Padding.SAME, 2, 2, ActivationFunctionType.RELU6, 1, 1)],
    },
    {
      code: BuiltinOperator.DEPTHWISE_CONV_2D,
      inputs: [3, 4, 5],
      outputs: [6],
      options: (b) => [
        BuiltinOptions.DepthwiseConv2DOptions,
        DepthwiseConv2DOptions.createDepthwiseConv2DOptions(b, Padding.SAME, 2, 2, 1, ActivationFunctionType.NONE, 1, 1),
      ],
    },
  ];
  const bytes = buildTflite(tensors, ops, [0], [6]);
  const { model, rescale } = convertTflite(readTflite(bytes, 'gen.tflite'), { name: 'gen.tflite' });
  assert.deepEqual(
    model.layers.map((l) => l.name),
    ['input', 'rescaling', 'conv', 'dw'],
  );
  assert.ok(Math.abs(rescale.scale - inScale) < 1e-12 && Math.abs(rescale.offset + inZp * inScale) < 1e-12);

  const pixels = Float32Array.from({ length: H * W * C }, (_, i) => (i * 29) % 256);
  const x = pixels.map((p) => inScale * (p - inZp));
  const conv = refConv(
    x,
    [H, W, C],
    (o, ky, kx, i) => convScale[o] * convQ[((o * 3 + ky) * 3 + kx) * C + i],
    F,
    3,
    2,
    false,
    convBiasQ.map((q, o) => q * convScale[o] * inScale),
    (v) => Math.min(6, Math.max(0, v)),
  );
  const dw = refConv(
    conv.out,
    conv.shape,
    (o, ky, kx) => dwScale * (dwQ[(ky * 3 + kx) * F + o] - dwZp),
    F,
    3,
    2,
    true,
    dwBiasQ.map((q) => (q * dwScale * 6) / 255),
    (v) => v,
  );
  const y = tf.tidy(() => (model.predict(tf.tensor4d(pixels, [1, H, W, C])) as tf.Tensor).dataSync());
  assert.deepEqual(dw.shape, [2, 2, F]);
  assert.equal(y.length, dw.out.length);
  for (let i = 0; i < y.length; i++) assert.ok(Math.abs(y[i] - dw.out[i]) < 1e-4, `output ${i}: ${y[i]} vs ${dw.out[i]}`);
  model.dispose();
});

test('an unsupported op is named in a ConvkitError', () => {
  const tensors: TSpec[] = [
    { name: 'a', shape: [1, 2, 2, 1], type: TensorType.FLOAT32 },
    { name: 'b', shape: [1, 2, 2, 1], type: TensorType.FLOAT32 },
  ];
  const ops: OSpec[] = [
    {
      code: BuiltinOperator.MUL,
      inputs: [0, 0],
      outputs: [1],
      options: (b) => [BuiltinOptions.MulOptions, MulOptions.createMulOptions(b, ActivationFunctionType.NONE)],
    },
  ];
  const g = readTflite(buildTflite(tensors, ops, [0], [1]));
  assert.equal(g.operators[0].op, 'MUL');
  assert.throws(
    () => convertTflite(g, { name: 'mul.tflite', rescale: { scale: 1, offset: 0 } }),
    (e: unknown) => e instanceof ConvkitError && /mul\.tflite uses TFLite op MUL/.test(e.message),
  );
  assert.throws(
    () => readTflite(new Uint8Array(64), 'junk.bin'),
    (e: unknown) => e instanceof ConvkitError && /junk\.bin is not a TensorFlow Lite model/.test(e.message),
  );
});

test('MobileNet v2: both TFLite files rebuild with a 7×7×1280 feature layer and the same ops', { skip: skipV2 }, () => {
  for (const file of ['mobilenet_v2_1.0_224_quant.tflite', 'tf2_mobilenet_v2_1.0_224_ptq.tflite']) {
    const g = readTflite(new Uint8Array(readFileSync(V2_DIR + file)), file);
    const { model, featureLayer } = convertTflite(g, { featuresOnly: true, inputSize: [160, 160] });
    assert.ok(featureLayer);
    assert.equal(model.outputs[0].sourceLayer.name, featureLayer);
    assert.deepEqual(model.outputs[0].shape, [null, 5, 5, 1280]);
    assert.equal(model.layers.filter((l) => l.getClassName() === 'Add').length, 10);
    assert.equal(model.layers.filter((l) => l.getClassName() === 'DepthwiseConv2D').length, 17);
    assert.ok(model.layers.every((l) => l.getClassName() !== 'BatchNormalization'));
    model.dispose();
  }
});
