/**
 * Post-training full-integer quantization of an export graph, following
 * TFLite's int8 quantization spec: activations asymmetric int8 per tensor
 * from the min/max seen on calibration images (0 always representable),
 * weights of convolutions, depthwise convolutions and dense layers symmetric
 * int8 per output channel (zero point 0, values in [-127, 127]), biases int32
 * with scale input_scale · weight_scale[c], pooling, reshape and padding
 * keeping their input's parameters, softmax and sigmoid outputs at
 * 1/256 with zero point -128. The input becomes uint8 pixels (scale 1, zero
 * point 0: the raw 0..255 bytes) followed by a QUANTIZE to int8, and the
 * output is DEQUANTIZEd back to float32 probabilities.
 *
 * Rounding the weights shifts each output channel's mean by (W_q − W)·E[x];
 * the bias absorbs that shift, measured on the calibration images (the
 * empirical bias correction of Nagel et al., "Data-Free Quantization", 2019).
 * On a MobileNet v1 classifier of faces it takes the int8 model's agreement
 * with the float one from 91 % to 97 % (docs/export.md).
 */
import { ConvkitError } from '../util/errors.js';
import type { CalibrationStats, Range } from './calibration.js';
import type { FlatTensor, Quantization } from './tflite-flatbuffer.js';
import type { Graph, GraphOp } from './tflite-graph.js';

const INT32_MAX = 2147483647;
const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/** Asymmetric int8 parameters covering [min, max] and 0. */
function activationQuantization({ min, max }: Range): Quantization {
  const lo = Math.min(min, 0),
    hi = Math.max(max, 0);
  const scale = hi > lo ? (hi - lo) / 255 : 1;
  return { scale: [scale], zeroPoint: [clamp(Math.round(-128 - lo / scale), -128, 127)] };
}

const bytesOf = (a: Int8Array | Int32Array | Float32Array | Uint8Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Symmetric int8 weights, one scale per slice along `axis` (the output channels); also their rounded real values. */
function quantizeWeights(t: Graph['tensors'][number], axis: number): { tensor: FlatTensor; rounded: Float32Array } {
  const w = t.data as Float32Array;
  const channels = t.shape[axis]!;
  const inner = t.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const channelOf = (i: number) => Math.floor(i / inner) % channels;
  const maxAbs = new Float64Array(channels);
  for (let i = 0; i < w.length; i++) maxAbs[channelOf(i)] = Math.max(maxAbs[channelOf(i)]!, Math.abs(w[i]!));
  // An all-zero channel still needs a positive scale; its values stay 0.
  const scale = Array.from(maxAbs, (m) => (m > 0 ? m / 127 : 1));
  const q = new Int8Array(w.length);
  const rounded = new Float32Array(w.length);
  for (let i = 0; i < w.length; i++) {
    q[i] = clamp(Math.round(w[i]! / scale[channelOf(i)]!), -127, 127);
    rounded[i] = q[i]! * scale[channelOf(i)]!;
  }
  return { tensor: { name: t.name, shape: t.shape, type: 'INT8', data: bytesOf(q), quantization: { scale, zeroPoint: scale.map(() => 0), axis } }, rounded };
}

/**
 * The bias less the mean shift the rounded weights cause: for each output
 * channel, Σ (W_q − W)·E[x] over its weights, with E[x] the mean of the
 * input channel each weight reads (zero padding at the borders ignored).
 */
function correctedBias(op: GraphOp, g: Graph, rounded: Float32Array, inputMean: Float64Array): Float32Array {
  const w = g.tensors[op.inputs[1]!]!;
  const weights = w.data as Float32Array;
  const bias = Float32Array.from(g.tensors[op.inputs[2]!]!.data as Float32Array);
  const last = w.shape[w.shape.length - 1]!;
  if (op.op === 'DEPTHWISE_CONV_2D') {
    // [1, kh, kw, in·m]: output channel c reads input channel ⌊c / m⌋.
    const m = op.options.depthMultiplier ?? 1;
    for (let i = 0; i < weights.length; i++) bias[i % last]! -= (rounded[i]! - weights[i]!) * inputMean[Math.floor((i % last) / m)]!;
  } else {
    // [out, kh, kw, in] or [out, in]: the input channel is the last axis.
    const inner = weights.length / w.shape[0]!;
    for (let i = 0; i < weights.length; i++) bias[Math.floor(i / inner)]! -= (rounded[i]! - weights[i]!) * inputMean[i % last]!;
  }
  return bias;
}

/** int32 bias `b` of tensor `t` at scale input_scale · weight_scale[c]. */
function quantizeBias(t: Graph['tensors'][number], b: Float32Array, inputScale: number, weightScale: number[]): FlatTensor {
  const scale = Array.from(b, (_, c) => inputScale * weightScale[weightScale.length === 1 ? 0 : c]!);
  const q = Int32Array.from(b, (v, c) => clamp(Math.round(v / scale[c]!), -INT32_MAX, INT32_MAX));
  return { name: t.name, shape: t.shape, type: 'INT32', data: bytesOf(q), quantization: { scale, zeroPoint: scale.map(() => 0), axis: 0 } };
}

/** A constant operand of MUL/ADD/SUB: asymmetric int8 per tensor over its own values. */
function quantizeOperand(t: Graph['tensors'][number]): FlatTensor {
  const v = t.data as Float32Array;
  const quantization = activationQuantization({ min: Math.min(...v), max: Math.max(...v) });
  const [s, zp] = [quantization.scale[0]!, quantization.zeroPoint[0]!];
  const q = Int8Array.from(v, (x) => clamp(Math.round(x / s) + zp, -128, 127));
  return { name: t.name, shape: t.shape, type: 'INT8', data: bytesOf(q), quantization };
}

/** Ops whose output must keep the input's scale and zero point (TFLite's kernels assume it). */
const SAME_AS_INPUT: readonly GraphOp['op'][] = ['MAX_POOL_2D', 'AVERAGE_POOL_2D', 'RESHAPE', 'PAD'];
/** Fixed output parameters of ops with a known output range. */
const FIXED_OUTPUT: Partial<Record<GraphOp['op'], Quantization>> = {
  SOFTMAX: { scale: [1 / 256], zeroPoint: [-128] },
  LOGISTIC: { scale: [1 / 256], zeroPoint: [-128] },
  TANH: { scale: [1 / 128], zeroPoint: [0] },
};

export interface QuantizedGraph {
  tensors: FlatTensor[];
  ops: GraphOp[];
  input: number;
  output: number;
}

/**
 * The ranges of `g`'s activations, with a CONCATENATION's inputs and output
 * sharing the union of their ranges: TFLite's int8 kernel copies bytes, so
 * it requires one scale and zero point for all of them.
 */
function sharedRanges(g: Graph, range: (i: number) => Range | undefined): (i: number) => Range | undefined {
  const parent = new Map<number, number>();
  const root = (i: number): number => {
    const p = parent.get(i);
    return p === undefined || p === i ? i : root(p);
  };
  for (const op of g.ops.filter((o) => o.op === 'CONCATENATION')) {
    for (const i of op.inputs) parent.set(root(i), root(op.outputs[0]!));
  }
  const union = new Map<number, Range>();
  for (const i of parent.keys()) {
    const r = range(i),
      top = root(i),
      u = union.get(top);
    if (r) union.set(top, u ? { min: Math.min(u.min, r.min), max: Math.max(u.max, r.max) } : r);
  }
  return (i) => (parent.has(i) ? union.get(root(i)) : range(i));
}

/** The int8 form of `g`, its activations quantized with the ranges in `stats` (every activation needs one). */
export function quantizeGraph(g: Graph, stats: Pick<CalibrationStats, 'range' | 'channelMean'>): QuantizedGraph {
  const tensors: (FlatTensor | undefined)[] = g.tensors.map(() => undefined);
  const activation = (i: number, quantization: Quantization, name = g.tensors[i]!.name) => {
    tensors[i] = { name, shape: g.tensors[i]!.shape, type: 'INT8', quantization };
  };
  const shared = sharedRanges(g, (i) => stats.range(i));
  const rangeOf = (i: number): Range => {
    const r = shared(i);
    if (!r) throw new Error(`no calibration range for tensor ${g.tensors[i]!.name}`);
    return r;
  };
  const scaleOf = (i: number) => tensors[i]!.quantization!.scale[0]!;

  // uint8 pixels in (real value = byte), int8 inside.
  const inT = g.tensors[g.input]!;
  const pixels = tensors.push({ name: inT.name, shape: inT.shape, type: 'UINT8', quantization: { scale: [1], zeroPoint: [0] } }) - 1;
  activation(g.input, { scale: [1], zeroPoint: [-128] }, `${inT.name}_int8`);
  const ops: GraphOp[] = [{ op: 'QUANTIZE', inputs: [pixels], outputs: [g.input], options: {} }];

  for (const op of g.ops) {
    const [x, w, b] = op.inputs;
    const out = op.outputs[0]!;
    switch (op.op) {
      case 'CONV_2D':
      case 'FULLY_CONNECTED':
      case 'DEPTHWISE_CONV_2D': {
        const { tensor, rounded } = quantizeWeights(g.tensors[w!]!, op.op === 'DEPTHWISE_CONV_2D' ? 3 : 0);
        const mean = stats.channelMean(x!);
        if (!mean) throw new Error(`no calibration mean for tensor ${g.tensors[x!]!.name}`);
        tensors[w!] = tensor;
        tensors[b!] = quantizeBias(g.tensors[b!]!, correctedBias(op, g, rounded, mean), scaleOf(x!), tensor.quantization!.scale);
        break;
      }
      case 'MUL':
      case 'ADD':
      case 'SUB':
        for (const i of op.inputs) if (g.tensors[i]!.data) tensors[i] = quantizeOperand(g.tensors[i]!);
        break;
      default:
        // Shapes, axes and paddings stay int32.
        for (const i of op.inputs.slice(1)) {
          const t = g.tensors[i]!;
          if (t.data instanceof Int32Array) tensors[i] = { name: t.name, shape: t.shape, type: 'INT32', data: bytesOf(t.data) };
        }
    }
    const fixed = FIXED_OUTPUT[op.op];
    if (fixed) activation(out, fixed);
    else if (SAME_AS_INPUT.includes(op.op)) activation(out, tensors[x!]!.quantization!);
    else activation(out, activationQuantization(rangeOf(out)));
    ops.push(op);
  }

  for (const op of ops.filter((o) => o.op === 'CONCATENATION')) {
    const q = (i: number) => JSON.stringify(tensors[i]?.quantization);
    const odd = op.inputs.find((i) => q(i) !== q(op.outputs[0]!));
    if (odd !== undefined) {
      throw new ConvkitError(
        `the int8 export cannot concatenate ${g.tensors[odd]!.name} into ${g.tensors[op.outputs[0]!]!.name}: its scale is fixed by the op that makes it`,
        'export this model as float32 (--format tflite), or concatenate outputs of convolutions or dense layers',
      );
    }
  }
  const outT = g.tensors[g.output]!;
  tensors[g.output] = { ...tensors[g.output]!, name: `${outT.name}_int8` };
  const probabilities = tensors.push({ name: outT.name, shape: outT.shape, type: 'FLOAT32' }) - 1;
  ops.push({ op: 'DEQUANTIZE', inputs: [g.output], outputs: [probabilities], options: {} });
  const missing = tensors.findIndex((t, i) => t === undefined && ops.some((o) => o.inputs.includes(i) || o.outputs.includes(i)));
  if (missing >= 0) throw new Error(`tensor ${g.tensors[missing]!.name} was not quantized`);
  return { tensors: tensors as FlatTensor[], ops, input: pixels, output: probabilities };
}
