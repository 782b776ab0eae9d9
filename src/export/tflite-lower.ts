/**
 * A TF.js layers model as a TFLite op graph: each layer becomes the builtin
 * ops with its semantics (Rescaling → MUL and ADD, SeparableConv2D →
 * depthwise + pointwise, Flatten → RESHAPE, global average pooling → MEAN,
 * BatchNormalization → a per-channel MUL and ADD), then passes do what
 * TFLite's converter does: constant MUL/ADD after a convolution or dense
 * layer (a BatchNormalization, a folded scale) go into its weights, a
 * per-channel MUL/ADD left over becomes a 1×1 depthwise convolution, and
 * ReLU/ReLU6 become the op's fused activation. Dropout is the identity at
 * inference. Any other layer is an error naming it.
 */
import * as tf from '@tensorflow/tfjs';
import { graphOf, isContainer, nodesInOrder } from '../transfer/graph.js';
import { ConvkitError } from '../util/errors.js';
import { count, Graph, type GraphOp, type OpName } from './tflite-graph.js';

type Layer = tf.layers.Layer;
type Config = Record<string, unknown>;

/** Layer classes the export understands. */
const TFLITE_LAYERS = [
  'Rescaling',
  'Conv2D',
  'DepthwiseConv2D',
  'SeparableConv2D',
  'BatchNormalization',
  'Activation',
  'ReLU',
  'Softmax',
  'MaxPooling2D',
  'AveragePooling2D',
  'GlobalAveragePooling2D',
  'Flatten',
  'Reshape',
  'Dense',
  'Dropout',
  'Add',
  'Concatenate',
  'ZeroPadding2D',
] as const;

const unsupported = (layer: Layer, what: string) =>
  new ConvkitError(
    `layer "${layer.name}" (${layer.getClassName()}) ${what}, which the TFLite export does not support`,
    `export models built from ${TFLITE_LAYERS.join(', ')} (channels-last, ReLU/ReLU6/sigmoid/softmax/tanh activations)`,
  );

/** Static shape with batch 1; a missing spatial size is an error naming the layer. */
function fixedShape(shape: readonly (number | null)[], layer: Layer): number[] {
  const s = shape.map((d, i) => (i === 0 ? 1 : d));
  if (s.some((d) => d == null)) throw unsupported(layer, `has an output of unknown size [${shape.map((d) => d ?? '?')}]`);
  return s as number[];
}

const pair = (v: unknown): [number, number] => (Array.isArray(v) ? [Number(v[0]), Number(v[1] ?? v[0])] : [Number(v), Number(v)]);

/** A layer's weights as float32 arrays, by position. */
function weightsOf(layer: Layer): Float32Array[] {
  return layer.getWeights().map((w) => w.dataSync() as Float32Array);
}

class Lowering {
  readonly g = new Graph();
  /** Symbolic tensor id → graph tensor. */
  readonly values = new Map<number, number>();

  valueOf(t: tf.SymbolicTensor, layer: Layer): number {
    const v = this.values.get(t.id);
    if (v === undefined) throw unsupported(layer, 'reads a tensor that is not computed from the model input');
    return v;
  }

  /** ops[name] applied with `activation` ("linear" adds nothing). */
  activation(x: number, activation: string, layer: Layer, outShape: number[], axis?: number): number {
    const op: Partial<Record<string, OpName>> = { relu: 'RELU', relu6: 'RELU6', sigmoid: 'LOGISTIC', softmax: 'SOFTMAX', tanh: 'TANH' };
    if (activation === 'linear') return x;
    const name = op[activation];
    if (!name) throw unsupported(layer, `uses activation "${activation}"`);
    if (name === 'SOFTMAX' && axis !== undefined && axis !== -1 && axis !== outShape.length - 1)
      throw unsupported(layer, `takes the softmax over axis ${axis}`);
    return this.g.add(name, [x], `${layer.name}_${activation}`, outShape);
  }

  conv(layer: Layer, x: number, c: Config, outShape: number[]): number {
    if (c.dataFormat !== undefined && c.dataFormat !== 'channelsLast') throw unsupported(layer, `uses dataFormat ${String(c.dataFormat)}`);
    const [kernel, bias] = weightsOf(layer);
    const k = layer.getWeights()[0]!.shape as number[];
    const padding = String(c.padding).toUpperCase();
    if (padding !== 'SAME' && padding !== 'VALID') throw unsupported(layer, `uses padding "${String(c.padding)}"`);
    const common = { padding: padding as 'SAME' | 'VALID', strides: pair(c.strides), dilations: pair(c.dilationRate ?? 1), activation: 'NONE' as const };
    const cls = layer.getClassName();
    let y: number;
    if (cls === 'Conv2D') {
      const [kh, kw, cin, cout] = k as [number, number, number, number];
      // TF.js [kh, kw, in, out] → TFLite [out, kh, kw, in].
      const w = new Float32Array(kernel!.length);
      for (let i = 0; i < kh * kw * cin; i++) for (let o = 0; o < cout; o++) w[o * kh * kw * cin + i] = kernel![i * cout + o]!;
      const b = c.useBias ? bias! : new Float32Array(cout);
      const wi = this.g.constant(`${layer.name}/kernel`, [cout, kh, kw, cin], w);
      const bi = this.g.constant(`${layer.name}/bias`, [cout], Float32Array.from(b));
      y = this.g.add('CONV_2D', [x, wi, bi], layer.name, outShape, common);
    } else {
      // DepthwiseConv2D: TF.js [kh, kw, in, multiplier] and TFLite [1, kh, kw, in·multiplier] share one memory order.
      const [kh, kw, cin, m] = k as [number, number, number, number];
      const b = c.useBias ? bias! : new Float32Array(cin * m);
      const wi = this.g.constant(`${layer.name}/depthwise_kernel`, [1, kh, kw, cin * m], Float32Array.from(kernel!));
      const bi = this.g.constant(`${layer.name}/bias`, [cin * m], Float32Array.from(b));
      y = this.g.add('DEPTHWISE_CONV_2D', [x, wi, bi], layer.name, outShape, { ...common, depthMultiplier: m });
    }
    return this.activation(y, String(c.activation ?? 'linear'), layer, outShape);
  }

  separable(layer: Layer, x: number, c: Config, outShape: number[]): number {
    if (c.dataFormat !== undefined && c.dataFormat !== 'channelsLast') throw unsupported(layer, `uses dataFormat ${String(c.dataFormat)}`);
    const [dw, pw, bias] = weightsOf(layer);
    const [kh, kw, cin, m] = layer.getWeights()[0]!.shape as [number, number, number, number];
    const cout = outShape[3]!;
    const padding = String(c.padding).toUpperCase() as 'SAME' | 'VALID';
    const midShape = [1, outShape[1]!, outShape[2]!, cin * m];
    const dwi = this.g.constant(`${layer.name}/depthwise_kernel`, [1, kh, kw, cin * m], Float32Array.from(dw!));
    const dbi = this.g.constant(`${layer.name}/depthwise_bias`, [cin * m], new Float32Array(cin * m));
    const mid = this.g.add('DEPTHWISE_CONV_2D', [x, dwi, dbi], `${layer.name}_depthwise`, midShape, {
      padding,
      strides: pair(c.strides),
      dilations: pair(c.dilationRate ?? 1),
      depthMultiplier: m,
      activation: 'NONE',
    });
    // Pointwise [1, 1, in·m, out] → [out, 1, 1, in·m].
    const w = new Float32Array(pw!.length);
    for (let i = 0; i < cin * m; i++) for (let o = 0; o < cout; o++) w[o * cin * m + i] = pw![i * cout + o]!;
    const wi = this.g.constant(`${layer.name}/pointwise_kernel`, [cout, 1, 1, cin * m], w);
    const bi = this.g.constant(`${layer.name}/bias`, [cout], c.useBias ? Float32Array.from(bias!) : new Float32Array(cout));
    const y = this.g.add('CONV_2D', [mid, wi, bi], layer.name, outShape, { padding: 'VALID', strides: [1, 1], dilations: [1, 1], activation: 'NONE' });
    return this.activation(y, String(c.activation ?? 'linear'), layer, outShape);
  }

  dense(layer: Layer, x: number, c: Config, inShape: number[], outShape: number[]): number {
    if (inShape.length !== 2) throw unsupported(layer, `is applied to a rank-${inShape.length} tensor (put a Flatten or a pooling before it)`);
    const [kernel, bias] = weightsOf(layer);
    const [cin, cout] = layer.getWeights()[0]!.shape as [number, number];
    const w = new Float32Array(kernel!.length);
    for (let i = 0; i < cin; i++) for (let o = 0; o < cout; o++) w[o * cin + i] = kernel![i * cout + o]!;
    const wi = this.g.constant(`${layer.name}/kernel`, [cout, cin], w);
    const bi = this.g.constant(`${layer.name}/bias`, [cout], c.useBias ? Float32Array.from(bias!) : new Float32Array(cout));
    const y = this.g.add('FULLY_CONNECTED', [x, wi, bi], layer.name, outShape, { activation: 'NONE' });
    return this.activation(y, String(c.activation ?? 'linear'), layer, outShape);
  }

  /** x·scale + offset with constant scale and offset (scalars or per channel); a factor of 1 or a zero offset adds no op. */
  affine(layer: Layer, x: number, scale: Float32Array, offset: Float32Array, outShape: number[]): number {
    const shapeOf = (v: Float32Array) => (v.length === 1 ? [] : [v.length]);
    let y = x;
    if (scale.some((s) => s !== 1)) y = this.g.add('MUL', [y, this.g.constant(`${layer.name}/scale`, shapeOf(scale), scale)], `${layer.name}_mul`, outShape);
    if (offset.some((o) => o !== 0))
      y = this.g.add('ADD', [y, this.g.constant(`${layer.name}/offset`, shapeOf(offset), offset)], `${layer.name}_add`, outShape);
    return y;
  }

  batchNorm(layer: Layer, x: number, c: Config, outShape: number[]): number {
    const axis = Array.isArray(c.axis) ? c.axis : [c.axis];
    if (axis.length !== 1 || (axis[0] !== -1 && axis[0] !== outShape.length - 1)) throw unsupported(layer, `normalizes axis ${JSON.stringify(c.axis)}`);
    const w = weightsOf(layer);
    let i = 0;
    const gamma = c.scale ? w[i++]! : null;
    const beta = c.center ? w[i++]! : null;
    const mean = w[i++]!,
      variance = w[i++]!;
    const scale = new Float32Array(mean.length),
      offset = new Float32Array(mean.length);
    for (let j = 0; j < mean.length; j++) {
      scale[j] = (gamma ? gamma[j]! : 1) / Math.sqrt(variance[j]! + Number(c.epsilon));
      offset[j] = (beta ? beta[j]! : 0) - mean[j]! * scale[j]!;
    }
    return this.affine(layer, x, scale, offset, outShape);
  }

  pool(layer: Layer, x: number, c: Config, outShape: number[]): number {
    if (c.dataFormat !== undefined && c.dataFormat !== 'channelsLast') throw unsupported(layer, `uses dataFormat ${String(c.dataFormat)}`);
    const filter = pair(c.poolSize);
    const op = layer.getClassName() === 'MaxPooling2D' ? 'MAX_POOL_2D' : 'AVERAGE_POOL_2D';
    const padding = String(c.padding).toUpperCase() as 'SAME' | 'VALID';
    return this.g.add(op, [x], layer.name, outShape, { padding, strides: pair(c.strides ?? c.poolSize), filter, activation: 'NONE' });
  }

  reshape(layer: Layer, x: number, outShape: number[]): number {
    const newShape = [-1, ...outShape.slice(1)];
    const shape = this.g.constant(`${layer.name}/shape`, [newShape.length], Int32Array.from(newShape));
    return this.g.add('RESHAPE', [x, shape], layer.name, outShape, { newShape });
  }

  layer(layer: Layer, inputs: tf.SymbolicTensor[], output: tf.SymbolicTensor): number {
    const c = layer.getConfig() as Config;
    const cls = layer.getClassName();
    const outShape = fixedShape(output.shape, layer);
    if (cls === 'Add') {
      if (inputs.length < 2) throw unsupported(layer, 'has fewer than two inputs');
      let y = this.valueOf(inputs[0]!, layer);
      for (const [i, t] of inputs.slice(1).entries())
        y = this.g.add('ADD', [y, this.valueOf(t, layer)], i === inputs.length - 2 ? layer.name : `${layer.name}_${i + 1}`, outShape, { activation: 'NONE' });
      return y;
    }
    if (cls === 'Concatenate') {
      const axis = Number(c.axis ?? -1);
      const values = inputs.map((t) => this.valueOf(t, layer));
      return this.g.add('CONCATENATION', values, layer.name, outShape, { axis: axis < 0 ? outShape.length + axis : axis, activation: 'NONE' });
    }
    if (inputs.length !== 1) throw unsupported(layer, `has ${inputs.length} inputs`);
    const x = this.valueOf(inputs[0]!, layer);
    const inShape = fixedShape(inputs[0]!.shape, layer);
    switch (cls) {
      case 'Rescaling':
        return this.affine(layer, x, Float32Array.of(Number(c.scale)), Float32Array.of(Number(c.offset ?? 0)), outShape);
      case 'Conv2D':
      case 'DepthwiseConv2D':
        return this.conv(layer, x, c, outShape);
      case 'SeparableConv2D':
        return this.separable(layer, x, c, outShape);
      case 'Dense':
        return this.dense(layer, x, c, inShape, outShape);
      case 'BatchNormalization':
        return this.batchNorm(layer, x, c, outShape);
      case 'Activation':
        return this.activation(x, String(c.activation), layer, outShape);
      case 'ReLU': {
        const max = c.maxValue == null ? null : Number(c.maxValue);
        if (max !== null && max !== 6) throw unsupported(layer, `caps at ${max} (only ReLU and ReLU6 exist in TFLite)`);
        return this.activation(x, max === 6 ? 'relu6' : 'relu', layer, outShape);
      }
      case 'Softmax':
        return this.activation(x, 'softmax', layer, outShape, Number(c.axis ?? -1));
      case 'MaxPooling2D':
      case 'AveragePooling2D':
        return this.pool(layer, x, c, outShape);
      case 'GlobalAveragePooling2D': {
        if (c.dataFormat !== undefined && c.dataFormat !== 'channelsLast') throw unsupported(layer, `uses dataFormat ${String(c.dataFormat)}`);
        const axes = this.g.constant(`${layer.name}/axes`, [2], Int32Array.of(1, 2));
        return this.g.add('MEAN', [x, axes], layer.name, outShape, { keepDims: outShape.length === 4 });
      }
      case 'Flatten':
      case 'Reshape':
        return count(inShape) === count(outShape) && inShape.join() === outShape.join() ? x : this.reshape(layer, x, outShape);
      case 'Dropout':
        return x;
      case 'ZeroPadding2D': {
        if (c.dataFormat !== undefined && c.dataFormat !== 'channelsLast') throw unsupported(layer, `uses dataFormat ${String(c.dataFormat)}`);
        const [[t, b], [l, r]] = c.padding as [[number, number], [number, number]];
        const pads = this.g.constant(`${layer.name}/paddings`, [4, 2], Int32Array.of(0, 0, t, b, l, r, 0, 0));
        return this.g.add('PAD', [x, pads], layer.name, outShape);
      }
      default:
        throw new ConvkitError(
          `layer "${layer.name}" (${cls}) has no TFLite export`,
          `export models built from ${TFLITE_LAYERS.join(', ')}; rebuild the model without ${cls}`,
        );
    }
  }

  /** Lowers every node of `model` (nested models opened up) in order. */
  walk(model: tf.LayersModel): void {
    for (const node of nodesInOrder(model)) {
      const layer = node.outboundLayer;
      if (layer.getClassName() === 'InputLayer') continue;
      if (node.outputTensors.length !== 1) throw unsupported(layer, `has ${node.outputTensors.length} outputs`);
      if (isContainer(layer)) {
        const inner = graphOf(layer);
        inner.inputs.forEach((t, i) => this.values.set(t.id, this.valueOf(node.inputTensors[i]!, layer)));
        this.walk(inner);
        this.values.set(node.outputTensors[0]!.id, this.valueOf(inner.outputs[0]!, layer));
        continue;
      }
      this.values.set(node.outputTensors[0]!.id, this.layer(layer, node.inputTensors, node.outputTensors[0]!));
    }
  }
}

const FOLDS_INTO: readonly OpName[] = ['CONV_2D', 'DEPTHWISE_CONV_2D', 'FULLY_CONNECTED'];

/** The sole consumer of `op`'s output when there is one and the output is not the graph's. */
function soleConsumer(g: Graph, op: GraphOp): GraphOp | undefined {
  const out = op.outputs[0]!;
  if (out === g.output) return undefined;
  const users = g.consumers(out);
  return users.length === 1 ? users[0] : undefined;
}

/** Output-channel axis of a weight tensor: last for depthwise filters, first otherwise. */
const channelAxis = (op: GraphOp) => (op.op === 'DEPTHWISE_CONV_2D' ? 3 : 0);

/** Scales (MUL) or shifts (ADD/SUB) `op`'s output channels by constant `v` (a scalar or one value per channel). */
function foldInto(g: Graph, op: GraphOp, kind: OpName, v: Float32Array): void {
  const w = g.tensors[op.inputs[1]!]!,
    b = g.tensors[op.inputs[2]!]!;
  const weights = w.data as Float32Array,
    bias = b.data as Float32Array;
  const channels = bias.length;
  const at = (c: number) => (v.length === 1 ? v[0]! : v[c]!);
  if (kind === 'MUL') {
    const inner = channelAxis(op) === 3 ? 1 : weights.length / channels;
    for (let i = 0; i < weights.length; i++) weights[i]! *= at(channelAxis(op) === 3 ? i % channels : Math.floor(i / inner));
    for (let c = 0; c < channels; c++) bias[c]! *= at(c);
  } else {
    for (let c = 0; c < channels; c++) bias[c]! += kind === 'SUB' ? -at(c) : at(c);
  }
}

/** Folds constant MUL/ADD/SUB ops into the convolution or dense layer before them (BatchNormalization, a scale). */
function foldConstants(g: Graph): void {
  for (let changed = true; changed;) {
    changed = false;
    for (const op of g.ops) {
      if (!FOLDS_INTO.includes(op.op) || (op.options.activation ?? 'NONE') !== 'NONE') continue;
      const next = soleConsumer(g, op);
      if (!next || !['MUL', 'ADD', 'SUB'].includes(next.op) || next.inputs[0] !== op.outputs[0]) continue;
      const v = g.tensors[next.inputs[1]!]!;
      const channels = g.tensors[op.inputs[2]!]!.shape[0]!;
      if (!(v.data instanceof Float32Array) || (v.data.length !== 1 && v.data.length !== channels)) continue;
      foldInto(g, op, next.op, v.data);
      op.outputs = next.outputs;
      g.ops = g.ops.filter((o) => o !== next);
      changed = true;
      break;
    }
  }
}

/** A per-channel constant of a MUL/ADD/SUB on an image tensor (rank 4, one value per channel), else undefined. */
function channelConstant(g: Graph, op: GraphOp): Float32Array | undefined {
  const x = g.tensors[op.inputs[0]!]!,
    c = g.tensors[op.inputs[1]!]!;
  const channels = x.shape[3];
  return x.shape.length === 4 && c.data instanceof Float32Array && c.data.length === channels && channels > 1 ? c.data : undefined;
}

/**
 * A per-channel scale and shift left over (a BatchNormalization after an
 * addition or at the input) becomes one 1×1 depthwise convolution: the scale
 * its weights, the shift its bias — one op instead of two, and per-channel
 * int8 weights when quantized instead of one scale for all channels.
 */
function affineToDepthwise(g: Graph): void {
  for (const op of [...g.ops]) {
    if (!['MUL', 'ADD', 'SUB'].includes(op.op) || !g.ops.includes(op) || (op.options.activation ?? 'NONE') !== 'NONE') continue;
    const first = channelConstant(g, op);
    if (!first) continue;
    const channels = first.length;
    const scale = op.op === 'MUL' ? Float32Array.from(first) : new Float32Array(channels).fill(1);
    const shift = op.op === 'MUL' ? new Float32Array(channels) : Float32Array.from(first, (v) => (op.op === 'SUB' ? -v : v));
    let last = op;
    const next = op.op === 'MUL' ? soleConsumer(g, op) : undefined;
    const second = next && (next.op === 'ADD' || next.op === 'SUB') && next.inputs[0] === op.outputs[0] ? channelConstant(g, next) : undefined;
    if (next && second) {
      second.forEach((v, c) => (shift[c] = next.op === 'SUB' ? -v : v));
      last = next;
    }
    const name = g.tensors[last.outputs[0]!]!.name;
    const w = g.constant(`${name}/depthwise_kernel`, [1, 1, 1, channels], scale);
    const b = g.constant(`${name}/bias`, [channels], shift);
    const dw: GraphOp = {
      op: 'DEPTHWISE_CONV_2D',
      inputs: [op.inputs[0]!, w, b],
      outputs: last.outputs,
      options: { padding: 'VALID', strides: [1, 1], dilations: [1, 1], depthMultiplier: 1, activation: 'NONE' },
    };
    g.ops = g.ops.flatMap((o) => (o === op ? [dw] : o === last ? [] : [o]));
  }
}

const FUSES: readonly OpName[] = ['CONV_2D', 'DEPTHWISE_CONV_2D', 'FULLY_CONNECTED', 'ADD'];

/** ReLU and ReLU6 ops become the fused activation of the op before them. */
function fuseActivations(g: Graph): void {
  for (const op of [...g.ops]) {
    if (!FUSES.includes(op.op) || (op.options.activation ?? 'NONE') !== 'NONE') continue;
    const next = soleConsumer(g, op);
    if (!next || (next.op !== 'RELU' && next.op !== 'RELU6')) continue;
    op.options.activation = next.op;
    op.outputs = next.outputs;
    g.ops = g.ops.filter((o) => o !== next);
  }
}

/** The TFLite graph of `model` (one image input, one output), weights copied. */
export function lowerModel(model: tf.LayersModel): Graph {
  const graph = graphOf(model);
  if (graph.inputs.length !== 1 || graph.outputs.length !== 1) {
    throw new ConvkitError(
      `model ${model.name} has ${graph.inputs.length} inputs and ${graph.outputs.length} outputs`,
      'the TFLite export takes a classifier with one image input and one output',
    );
  }
  const input = graph.inputs[0]!;
  if (input.shape.length !== 4) throw new ConvkitError(`model ${model.name} takes a rank-${input.shape.length} input`, 'export an image model (NHWC input)');
  const l = new Lowering();
  const inShape = input.shape.map((d, i) => (i === 0 ? 1 : d));
  if (inShape.some((d) => d == null))
    throw new ConvkitError(`model ${model.name} takes images of any size [${input.shape.map((d) => d ?? '?')}]`, 'build the model for a fixed input size');
  l.g.input = l.g.activation(input.sourceLayer.name, inShape as number[]);
  l.values.set(input.id, l.g.input);
  l.walk(graph);
  l.g.output = l.valueOf(graph.outputs[0]!, graph.outputs[0]!.sourceLayer);
  if (l.g.output === l.g.input) throw new ConvkitError(`model ${model.name} computes nothing from its input`, 'export a classifier');
  foldConstants(l.g);
  affineToDepthwise(l.g);
  fuseActivations(l.g);
  return l.g;
}
