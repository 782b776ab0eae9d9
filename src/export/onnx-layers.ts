/**
 * Each TF.js layer class as ONNX (opset 13) nodes, with the same inference
 * arithmetic: Dropout and noise layers vanish, BatchNormalization uses its
 * moving statistics, 'same' padding becomes TensorFlow's explicit padding
 * (the extra pixel after, not before), and weights are reordered to ONNX's
 * layouts (Conv [out, in, kh, kw], depthwise [in·multiplier, 1, kh, kw]).
 */
import type * as tf from '@tensorflow/tfjs';
import { ConvkitError } from '../util/errors.js';
import { nchwAxis, type AttributeValue, type OnnxGraphBuilder, type Value } from './onnx-graph.js';

type Config = Record<string, unknown>;

interface LayerCall {
  g: OnnxGraphBuilder;
  layer: tf.layers.Layer;
  config: Config;
  inputs: Value[];
  /** The layer's output shape in TF.js order (batch first). */
  outShape: readonly (number | null)[];
}

type Converter = (c: LayerCall) => Value;

/** The ConvkitError for a layer (or setting of one) that has no ONNX form here. */
function unsupported(layer: tf.layers.Layer, what: string): ConvkitError {
  return new ConvkitError(
    `layer ${layer.name} (${layer.getClassName()}) cannot be exported to ONNX: ${what}`,
    `supported layers: ${SUPPORTED_LAYERS.join(', ')}; activations: ${Object.keys(ACTIVATIONS).join(', ')}`,
  );
}

const pair = (v: unknown): [number, number] => (Array.isArray(v) ? [v[0] as number, (v[1] ?? v[0]) as number] : [v as number, v as number]);

function channelsLast(c: LayerCall): void {
  const format = c.config.dataFormat;
  if (format !== undefined && format !== 'channelsLast') throw unsupported(c.layer, `dataFormat ${JSON.stringify(format)} (only channelsLast)`);
}

/** TensorFlow's SAME padding of one axis: the output is ceil(in / stride); an odd total puts the extra pixel after. */
function samePad(size: number, kernel: number, stride: number, dilation: number): [number, number] {
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/** Conv and pool attributes for 'valid' or 'same' padding over `x`'s spatial size. */
function padding(c: LayerCall, x: Value, kernel: [number, number], strides: [number, number], dilations: [number, number]): Record<string, AttributeValue> {
  const mode = c.config.padding;
  if (mode === 'valid') return { pads: [0, 0, 0, 0] };
  if (mode !== 'same') throw unsupported(c.layer, `padding ${JSON.stringify(mode)}`);
  const [h, w] = [x.shape[1], x.shape[2]];
  // Unknown image size: ONNX's SAME_UPPER is TensorFlow's rule computed at run time.
  if (h == null || w == null) return { auto_pad: 'SAME_UPPER' };
  const [top, bottom] = samePad(h, kernel[0], strides[0], dilations[0]);
  const [left, right] = samePad(w, kernel[1], strides[1], dilations[1]);
  return { pads: [top, left, bottom, right] };
}

function weightsOf(c: LayerCall): tf.Tensor[] {
  return c.layer.getWeights();
}

/** [kh, kw, in, out] (TF.js Conv2D) → [out, in, kh, kw] (ONNX Conv). */
function convKernel(k: tf.Tensor): { dims: number[]; data: Float32Array } {
  const [kh, kw, ci, co] = k.shape as [number, number, number, number];
  const src = k.dataSync() as Float32Array;
  const dst = new Float32Array(src.length);
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++)
      for (let a = 0; a < ci; a++) {
        const from = ((i * kw + j) * ci + a) * co;
        for (let o = 0; o < co; o++) dst[((o * ci + a) * kh + i) * kw + j] = src[from + o]!;
      }
  return { dims: [co, ci, kh, kw], data: dst };
}

/** [kh, kw, in, m] (TF.js depthwise) → [in·m, 1, kh, kw] (ONNX Conv with group = in; output channel c·m + k). */
function depthwiseKernel(k: tf.Tensor): { dims: number[]; data: Float32Array; channels: number } {
  const [kh, kw, ci, m] = k.shape as [number, number, number, number];
  const src = k.dataSync() as Float32Array;
  const dst = new Float32Array(src.length);
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++)
      for (let a = 0; a < ci; a++) for (let q = 0; q < m; q++) dst[(a * m + q) * kh * kw + i * kw + j] = src[((i * kw + j) * ci + a) * m + q]!;
  return { dims: [ci * m, 1, kh, kw], data: dst, channels: ci };
}

const data = (t: tf.Tensor): Float32Array => t.dataSync() as Float32Array;

// ---- activations ----

type ActivationBuilder = (g: OnnxGraphBuilder, x: Value, base: string) => string;

const unary =
  (op: string, attributes: Record<string, AttributeValue> = {}): ActivationBuilder =>
  (g, x, base) =>
    g.node(op, [x.name], base, attributes);

/** x · f(x) for swish and mish. */
const gated =
  (f: (g: OnnxGraphBuilder, x: string, base: string) => string): ActivationBuilder =>
  (g, x, base) =>
    g.node('Mul', [x.name, f(g, x.name, base)], base);

/** TF.js's activations (the names its configs use) as ONNX nodes; softmax runs over the channels. */
const ACTIVATIONS: Record<string, ActivationBuilder> = {
  relu: unary('Relu'),
  relu6: (g, x, base) => g.node('Clip', [x.name, g.scalar(0), g.scalar(6)], base),
  sigmoid: unary('Sigmoid'),
  tanh: unary('Tanh'),
  softmax: (g, x, base) => g.node('Softmax', [x.name], base, { axis: x.layout === 'nchw' ? 1 : -1 }),
  logSoftmax: (g, x, base) => g.node('LogSoftmax', [x.name], base, { axis: x.layout === 'nchw' ? 1 : -1 }),
  elu: unary('Elu', { alpha: { float: 1 } }),
  selu: unary('Selu'),
  softplus: unary('Softplus'),
  softsign: unary('Softsign'),
  hardSigmoid: unary('HardSigmoid', { alpha: { float: 0.2 }, beta: { float: 0.5 } }),
  swish: gated((g, x, base) => g.node('Sigmoid', [x], `${base}_sigmoid`)),
  mish: gated((g, x, base) => g.node('Tanh', [g.node('Softplus', [x], `${base}_softplus`)], `${base}_tanh`)),
  gelu: (g, x, base) => {
    const erf = g.node('Erf', [g.node('Div', [x.name, g.scalar(Math.SQRT2)], `${base}_scaled`)], `${base}_erf`);
    const cdf = g.node('Mul', [g.scalar(0.5), g.node('Add', [g.scalar(1), erf], `${base}_1p`)], `${base}_cdf`);
    return g.node('Mul', [x.name, cdf], base);
  },
  gelu_new: (g, x, base) => {
    const cube = g.node('Pow', [x.name, g.scalar(3)], `${base}_cube`);
    const inner = g.node('Add', [x.name, g.node('Mul', [g.scalar(0.044715), cube], `${base}_c3`)], `${base}_inner`);
    const t = g.node('Tanh', [g.node('Mul', [g.scalar(Math.sqrt(2 / Math.PI)), inner], `${base}_arg`)], `${base}_tanh`);
    return g.node('Mul', [g.scalar(0.5), g.node('Mul', [x.name, g.node('Add', [g.scalar(1), t], `${base}_1p`)], `${base}_x1p`)], base);
  },
};

/** The activation name a layer config holds (a string, or {className} once serialized). */
function activationName(c: LayerCall, key = 'activation'): string {
  const a = c.config[key];
  if (a == null) return 'linear';
  if (typeof a === 'string') return a;
  const name = (a as { className?: unknown }).className;
  return typeof name === 'string' ? name : String(a);
}

/** Whether the converter knows activation `name`. */
function knownActivation(name: string): boolean {
  return name === 'linear' || Object.hasOwn(ACTIVATIONS, name);
}

function activate(c: LayerCall, x: Value, name: string, base: string): Value {
  if (name === 'linear') return x;
  const build = Object.hasOwn(ACTIVATIONS, name) ? ACTIVATIONS[name] : undefined;
  if (!build) throw unsupported(c.layer, `activation ${JSON.stringify(name)}`);
  return { ...x, name: build(c.g, x, base) };
}

/** The layer's own activation after its main op (`y`, in `layout`). */
function withActivation(c: LayerCall, y: string, layout: Value['layout']): Value {
  const v: Value = { name: y, layout, shape: c.outShape };
  const a = activationName(c);
  return a === 'linear' ? v : activate(c, v, a, `${c.layer.name}_${a}`);
}

// ---- layers ----

function conv2d(c: LayerCall): Value {
  channelsLast(c);
  const x = c.g.toNchw(c.inputs[0]!);
  const [kernel, bias] = weightsOf(c);
  const k = convKernel(kernel!);
  const kernelSize: [number, number] = [k.dims[2]!, k.dims[3]!];
  const strides = pair(c.config.strides ?? 1),
    dilations = pair(c.config.dilationRate ?? 1);
  const inputs = [x.name, c.g.weight(`${c.layer.name}_kernel`, k.dims, k.data)];
  if (c.config.useBias !== false && bias) inputs.push(c.g.weight(`${c.layer.name}_bias`, [k.dims[0]!], data(bias)));
  const y = c.g.node('Conv', inputs, c.layer.name, {
    kernel_shape: kernelSize,
    strides,
    dilations,
    group: 1,
    ...padding(c, x, kernelSize, strides, dilations),
  });
  return withActivation(c, y, 'nchw');
}

function depthwiseConv2d(c: LayerCall): Value {
  channelsLast(c);
  const x = c.g.toNchw(c.inputs[0]!);
  const [kernel, bias] = weightsOf(c);
  const k = depthwiseKernel(kernel!);
  const kernelSize: [number, number] = [k.dims[2]!, k.dims[3]!];
  const strides = pair(c.config.strides ?? 1),
    dilations = pair(c.config.dilationRate ?? 1);
  const inputs = [x.name, c.g.weight(`${c.layer.name}_kernel`, k.dims, k.data)];
  if (c.config.useBias !== false && bias) inputs.push(c.g.weight(`${c.layer.name}_bias`, [k.dims[0]!], data(bias)));
  const attrs = { kernel_shape: kernelSize, strides, dilations, group: k.channels, ...padding(c, x, kernelSize, strides, dilations) };
  return withActivation(c, c.g.node('Conv', inputs, c.layer.name, attrs), 'nchw');
}

/** Depthwise conv (strides, padding, dilation) then a 1×1 pointwise conv with the bias, as TF's separable_conv2d. */
function separableConv2d(c: LayerCall): Value {
  channelsLast(c);
  const x = c.g.toNchw(c.inputs[0]!);
  const [depthwise, pointwise, bias] = weightsOf(c);
  const dw = depthwiseKernel(depthwise!);
  const kernelSize: [number, number] = [dw.dims[2]!, dw.dims[3]!];
  const strides = pair(c.config.strides ?? 1),
    dilations = pair(c.config.dilationRate ?? 1);
  const mid = c.g.node('Conv', [x.name, c.g.weight(`${c.layer.name}_depthwise_kernel`, dw.dims, dw.data)], `${c.layer.name}_depthwise`, {
    kernel_shape: kernelSize,
    strides,
    dilations,
    group: dw.channels,
    ...padding(c, x, kernelSize, strides, dilations),
  });
  const pw = convKernel(pointwise!);
  const inputs = [mid, c.g.weight(`${c.layer.name}_pointwise_kernel`, pw.dims, pw.data)];
  if (c.config.useBias !== false && bias) inputs.push(c.g.weight(`${c.layer.name}_bias`, [pw.dims[0]!], data(bias)));
  const y = c.g.node('Conv', inputs, c.layer.name, { kernel_shape: [1, 1], strides: [1, 1], dilations: [1, 1], group: 1, pads: [0, 0, 0, 0] });
  return withActivation(c, y, 'nchw');
}

function dense(c: LayerCall): Value {
  const [kernel, bias] = weightsOf(c);
  const [units] = kernel!.shape.slice(1) as [number];
  const w = c.g.weight(`${c.layer.name}_kernel`, kernel!.shape, data(kernel!));
  const b = c.config.useBias !== false && bias ? c.g.weight(`${c.layer.name}_bias`, [units], data(bias)) : undefined;
  const x = c.inputs[0]!;
  if (x.shape.length === 2) return withActivation(c, c.g.node('Gemm', b ? [x.name, w, b] : [x.name, w], c.layer.name), 'tfjs');
  // Dense on a feature map acts on its last (TF.js) axis.
  const xt = c.g.toTfjs(x);
  const mm = c.g.node('MatMul', [xt.name, w], b ? `${c.layer.name}_matmul` : c.layer.name);
  return withActivation(c, b ? c.g.node('Add', [mm, b], c.layer.name) : mm, 'tfjs');
}

function batchNormalization(c: LayerCall): Value {
  const x = c.inputs[0]!;
  const rank = x.shape.length;
  const axis = (Array.isArray(c.config.axis) ? c.config.axis : [c.config.axis ?? -1]) as number[];
  if (axis.length !== 1 || (axis[0] !== -1 && axis[0] !== rank - 1) || rank < 2)
    throw unsupported(c.layer, `normalization over axis ${JSON.stringify(c.config.axis)} of a rank-${rank} tensor (only the last axis)`);
  const w = weightsOf(c);
  let i = 0;
  const gamma = c.config.scale !== false ? w[i++] : undefined;
  const beta = c.config.center !== false ? w[i++] : undefined;
  const mean = w[i++]!,
    variance = w[i++]!;
  const n = mean.size;
  const input = rank === 4 ? c.g.toNchw(x) : rank === 2 ? x : c.g.toTfjs(x);
  if (rank !== 4 && rank !== 2) throw unsupported(c.layer, `a rank-${rank} input (only images and vectors)`);
  const y = c.g.node(
    'BatchNormalization',
    [
      input.name,
      c.g.weight(`${c.layer.name}_gamma`, [n], gamma ? data(gamma) : new Float32Array(n).fill(1)),
      c.g.weight(`${c.layer.name}_beta`, [n], beta ? data(beta) : new Float32Array(n)),
      c.g.weight(`${c.layer.name}_moving_mean`, [n], data(mean)),
      c.g.weight(`${c.layer.name}_moving_variance`, [n], data(variance)),
    ],
    c.layer.name,
    { epsilon: { float: (c.config.epsilon as number | undefined) ?? 1e-3 } },
  );
  return { name: y, layout: input.layout, shape: c.outShape };
}

const pool =
  (op: 'MaxPool' | 'AveragePool'): Converter =>
  (c) => {
    channelsLast(c);
    const x = c.g.toNchw(c.inputs[0]!);
    const kernel = pair(c.config.poolSize ?? 2);
    const strides = pair(c.config.strides ?? kernel);
    const y = c.g.node(op, [x.name], c.layer.name, { kernel_shape: kernel, strides, ...padding(c, x, kernel, strides, [1, 1]) });
    return { name: y, layout: 'nchw', shape: c.outShape };
  };

const globalPool =
  (op: 'GlobalAveragePool' | 'GlobalMaxPool'): Converter =>
  (c) => {
    channelsLast(c);
    const x = c.g.toNchw(c.inputs[0]!);
    const pooled = c.g.node(op, [x.name], c.config.keepDims ? c.layer.name : `${c.layer.name}_keepdims`);
    if (c.config.keepDims) return { name: pooled, layout: 'nchw', shape: c.outShape };
    return { name: c.g.node('Flatten', [pooled], c.layer.name, { axis: 1 }), layout: 'tfjs', shape: c.outShape };
  };

function flatten(c: LayerCall): Value {
  const x = c.inputs[0]!;
  if (x.shape.length === 2) return x;
  // Flatten in TF.js order, so a following Dense layer's weights line up.
  return { name: c.g.node('Flatten', [c.g.toTfjs(x).name], c.layer.name, { axis: 1 }), layout: 'tfjs', shape: c.outShape };
}

function reshape(c: LayerCall): Value {
  const target = c.config.targetShape as number[];
  const shape = c.g.ints(`${c.layer.name}_shape`, [0, ...target]);
  return { name: c.g.node('Reshape', [c.g.toTfjs(c.inputs[0]!).name, shape], c.layer.name), layout: 'tfjs', shape: c.outShape };
}

function permute(c: LayerCall): Value {
  const dims = c.config.dims as number[];
  return { name: c.g.node('Transpose', [c.g.toTfjs(c.inputs[0]!).name], c.layer.name, { perm: [0, ...dims] }), layout: 'tfjs', shape: c.outShape };
}

function zeroPadding2d(c: LayerCall): Value {
  channelsLast(c);
  const p = c.config.padding as [[number, number], [number, number]];
  const x = c.g.toNchw(c.inputs[0]!);
  const pads = c.g.ints(`${c.layer.name}_pads`, [0, 0, p[0][0], p[1][0], 0, 0, p[0][1], p[1][1]]);
  return { name: c.g.node('Pad', [x.name, pads], c.layer.name, { mode: 'constant' }), layout: 'nchw', shape: c.outShape };
}

function cropping2d(c: LayerCall): Value {
  channelsLast(c);
  const crop = c.config.cropping as [[number, number], [number, number]];
  const x = c.g.toNchw(c.inputs[0]!);
  const [h, w] = [x.shape[1], x.shape[2]];
  if (h == null || w == null) throw unsupported(c.layer, 'an input of unknown height or width');
  const starts = c.g.ints(`${c.layer.name}_starts`, [crop[0][0], crop[1][0]]);
  const ends = c.g.ints(`${c.layer.name}_ends`, [h - crop[0][1], w - crop[1][1]]);
  const axes = c.g.ints(`${c.layer.name}_axes`, [2, 3]);
  return { name: c.g.node('Slice', [x.name, starts, ends, axes], c.layer.name), layout: 'nchw', shape: c.outShape };
}

function activationLayer(c: LayerCall): Value {
  return activate(c, c.inputs[0]!, activationName(c), c.layer.name);
}

function reLU(c: LayerCall): Value {
  const x = c.inputs[0]!;
  const max = c.config.maxValue as number | null | undefined;
  const y = max == null ? c.g.node('Relu', [x.name], c.layer.name) : c.g.node('Clip', [x.name, c.g.scalar(0), c.g.scalar(max)], c.layer.name);
  return { ...x, name: y, shape: c.outShape };
}

const unaryLayer =
  (op: string, attributes: (config: Config) => Record<string, AttributeValue>): Converter =>
  (c) => ({ ...c.inputs[0]!, name: c.g.node(op, [c.inputs[0]!.name], c.layer.name, attributes(c.config)), shape: c.outShape });

function softmaxLayer(c: LayerCall): Value {
  const axis = c.config.axis as number | number[];
  const a = Array.isArray(axis) ? (axis.length === 1 ? axis[0]! : NaN) : axis;
  const x = c.inputs[0]!;
  const rank = x.shape.length;
  // TF.js's softmax runs over the last axis only.
  if (a !== -1 && a !== rank - 1) throw unsupported(c.layer, `softmax over axis ${JSON.stringify(axis)} (only the last axis)`);
  return { ...x, name: c.g.node('Softmax', [x.name], c.layer.name, { axis: x.layout === 'nchw' ? 1 : -1 }), shape: c.outShape };
}

/** PReLU's slope has the input's shape without the batch (shared axes of size 1); NCHW values take it transposed. */
function pReLU(c: LayerCall): Value {
  const x = c.inputs[0]!;
  const [alpha] = weightsOf(c);
  let dims = alpha!.shape as number[];
  let values = data(alpha!);
  if (x.layout === 'nchw' && dims.length === 3) {
    const [h, w, ch] = dims as [number, number, number];
    const t = new Float32Array(values.length);
    for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) for (let k = 0; k < ch; k++) t[(k * h + i) * w + j] = values[(i * w + j) * ch + k]!;
    dims = [ch, h, w];
    values = t;
  }
  const y = c.g.node('PRelu', [x.name, c.g.weight(`${c.layer.name}_alpha`, dims, values)], c.layer.name);
  return { ...x, name: y, shape: c.outShape };
}

function rescaling(c: LayerCall): Value {
  const { scale, offset } = c.config as { scale: unknown; offset: unknown };
  if (typeof scale !== 'number' || typeof offset !== 'number') throw unsupported(c.layer, 'a scale or offset that is not a single number');
  const x = c.inputs[0]!;
  // TF.js computes x · scale + offset, in that order.
  const scaled = c.g.node('Mul', [x.name, c.g.scalar(scale)], offset === 0 ? c.layer.name : `${c.layer.name}_scaled`);
  return { ...x, name: offset === 0 ? scaled : c.g.node('Add', [scaled, c.g.scalar(offset)], c.layer.name), shape: c.outShape };
}

/** Inputs of a merge brought to one axis order (NCHW for images, which the convolutions around them use). */
function mergeInputs(c: LayerCall): Value[] {
  const ranks = new Set(c.inputs.map((v) => v.shape.length));
  if (ranks.size !== 1) throw unsupported(c.layer, `inputs of different ranks (${[...ranks].join(', ')})`);
  return c.inputs.map((v) => (v.shape.length === 4 ? c.g.toNchw(v) : c.g.toTfjs(v)));
}

/** `op` over all inputs; `pairOp` (which runtimes fuse with what precedes it) when there are two. */
const variadic =
  (op: string, pairOp = op): Converter =>
  (c) => {
    const xs = mergeInputs(c);
    const name = c.g.node(
      xs.length === 2 ? pairOp : op,
      xs.map((v) => v.name),
      c.layer.name,
    );
    return { name, layout: xs[0]!.layout, shape: c.outShape };
  };

/** Multiply: a chain of pairwise Mul (ONNX's Mul takes two inputs). */
function multiply(c: LayerCall): Value {
  const xs = mergeInputs(c);
  let y = xs[0]!.name;
  xs.slice(1).forEach((v, i) => {
    y = c.g.node('Mul', [y, v.name], i === xs.length - 2 ? c.layer.name : `${c.layer.name}_${i}`);
  });
  return { name: y, layout: xs[0]!.layout, shape: c.outShape };
}

function subtract(c: LayerCall): Value {
  const xs = mergeInputs(c);
  return { name: c.g.node('Sub', [xs[0]!.name, xs[1]!.name], c.layer.name), layout: xs[0]!.layout, shape: c.outShape };
}

function concatenate(c: LayerCall): Value {
  const xs = mergeInputs(c);
  const rank = xs[0]!.shape.length;
  const a = (c.config.axis as number | undefined) ?? -1;
  const axis = xs[0]!.layout === 'nchw' ? nchwAxis(a) : a < 0 ? a + rank : a;
  return {
    name: c.g.node(
      'Concat',
      xs.map((v) => v.name),
      c.layer.name,
      { axis },
    ),
    layout: xs[0]!.layout,
    shape: c.outShape,
  };
}

/** Layers that do nothing at inference time. */
const identity: Converter = (c) => ({ ...c.inputs[0]!, shape: c.outShape });

/** The converter of each supported TF.js layer class. */
export const LAYER_CONVERTERS: Record<string, Converter> = {
  Conv2D: conv2d,
  DepthwiseConv2D: depthwiseConv2d,
  SeparableConv2D: separableConv2d,
  Dense: dense,
  BatchNormalization: batchNormalization,
  MaxPooling2D: pool('MaxPool'),
  AveragePooling2D: pool('AveragePool'),
  GlobalAveragePooling2D: globalPool('GlobalAveragePool'),
  GlobalMaxPooling2D: globalPool('GlobalMaxPool'),
  Flatten: flatten,
  Reshape: reshape,
  Permute: permute,
  ZeroPadding2D: zeroPadding2d,
  Cropping2D: cropping2d,
  Activation: activationLayer,
  ReLU: reLU,
  LeakyReLU: unaryLayer('LeakyRelu', (cfg) => ({ alpha: { float: (cfg.alpha as number | undefined) ?? 0.3 } })),
  ELU: unaryLayer('Elu', (cfg) => ({ alpha: { float: (cfg.alpha as number | undefined) ?? 1 } })),
  ThresholdedReLU: unaryLayer('ThresholdedRelu', (cfg) => ({ alpha: { float: (cfg.theta as number | undefined) ?? 1 } })),
  PReLU: pReLU,
  Softmax: softmaxLayer,
  Rescaling: rescaling,
  Add: variadic('Sum', 'Add'),
  Average: variadic('Mean'),
  Maximum: variadic('Max'),
  Minimum: variadic('Min'),
  Multiply: multiply,
  Subtract: subtract,
  Concatenate: concatenate,
  Dropout: identity,
  SpatialDropout1D: identity,
  GaussianNoise: identity,
  GaussianDropout: identity,
  AlphaDropout: identity,
};

export const SUPPORTED_LAYERS = Object.keys(LAYER_CONVERTERS);

/** Settings a layer's converter cannot honour, found before any node is written (undefined: the layer exports). */
export function unsupportedSetting(layer: tf.layers.Layer): string | undefined {
  const cls = layer.getClassName();
  if (!Object.hasOwn(LAYER_CONVERTERS, cls)) return 'no ONNX conversion for this layer class';
  const activation = (layer.getConfig() as Config).activation;
  if (activation !== undefined && cls !== 'Activation') {
    const name = typeof activation === 'string' ? activation : (activation as { className?: string } | null)?.className;
    if (name && !knownActivation(name)) return `activation ${JSON.stringify(name)}`;
  }
  if (cls === 'Activation' && !knownActivation(String(activation))) return `activation ${JSON.stringify(activation)}`;
  return undefined;
}
