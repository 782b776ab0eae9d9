/**
 * Rebuilds a TFLite graph as a trainable TF.js functional model: constant
 * tensors are dequantized to float32, each op becomes the standard Keras
 * layer with the same semantics (fused activations become the layer's
 * activation; TF and TF.js share SAME padding, asymmetric for stride 2), and
 * the input quantization becomes a rescaling layer so the model takes RGB
 * pixels 0..255 as every convkit model does.
 */
import * as tf from '@tensorflow/tfjs';
import { ConvkitError } from '../../util/errors.js';
import { dequantize, intValues, type Activation, type TfliteGraph, type TfliteOperator, type TfliteTensor } from './reader.js';

export interface ConvertOptions {
  /** Used in error messages (the file name). */
  name?: string;
  /** [height, width] of the rebuilt input; defaults to the file's. */
  inputSize?: readonly [number, number];
  /** Stop at the features before global pooling (no classifier). Default false. */
  featuresOnly?: boolean;
  /**
   * Pixel → model-input mapping x·scale + offset for float-input models.
   * Quantized (uint8/int8) inputs take theirs from the input's quantization.
   */
  rescale?: { scale: number; offset: number };
  /** Name of the rebuilt model. */
  modelName?: string;
}

export interface ConvertedModel {
  model: tf.LayersModel;
  /** The layer whose output feeds the global pooling (the transfer-learning features). */
  featureLayer: string | null;
  /** The rescaling applied to 0..255 pixels. */
  rescale: { scale: number; offset: number };
}

/** Ops convkit rebuilds; anything else is named in a ConvkitError. */
export const SUPPORTED_OPS = [
  'CONV_2D',
  'DEPTHWISE_CONV_2D',
  'FULLY_CONNECTED',
  'ADD',
  'SUB',
  'MUL',
  'CONCATENATION',
  'AVERAGE_POOL_2D',
  'MAX_POOL_2D',
  'MEAN',
  'PAD',
  'RESHAPE',
  'SQUEEZE',
  'SOFTMAX',
  'RELU',
  'RELU6',
  'LOGISTIC',
  'TANH',
  'QUANTIZE',
  'DEQUANTIZE',
] as const;

const ACTIVATIONS: Partial<Record<Activation, string>> = { NONE: 'linear', RELU: 'relu', RELU6: 'relu6', TANH: 'tanh' };

// Trailing name parts that name the TF op rather than the layer.
const OP_SUFFIX =
  /^(Relu6|relu6|Relu|relu|BiasAdd|add_fold|Conv2D|Conv2D_Fold|batch_norm|FusedBatchNormV3|BatchNorm|Identity|Squeeze|Reshape|Softmax|Mean|MatMul)\d*$/;

/** A Keras-style layer name from a TFLite tensor name ("MobilenetV2/expanded_conv_1/depthwise/Relu6" → "expanded_conv_1_depthwise"). */
export function layerNameFromTensor(tensorName: string): string {
  let parts = tensorName.split(';')[0].split('/').filter(Boolean);
  if (parts.length > 1) parts = parts.slice(1);
  while (parts.length > 1 && OP_SUFFIX.test(parts[parts.length - 1])) parts.pop();
  parts = parts.filter((p, i) => i === 0 || p !== parts[i - 1]);
  const name = parts.join('_').replace(/[^A-Za-z0-9_]/g, '_');
  return /^[A-Za-z]/.test(name) ? name : `t_${name}`;
}

/** Refuses what the rebuilder cannot do before any layer is made: unknown ops, several inputs, a non-image input. */
function checkGraph(graph: TfliteGraph, file: string): TfliteTensor {
  const unsupported = [...new Set(graph.operators.map((o) => o.op).filter((op) => !(SUPPORTED_OPS as readonly string[]).includes(op)))];
  if (unsupported.length) {
    throw new ConvkitError(
      `${file} uses TFLite op${unsupported.length > 1 ? 's' : ''} ${unsupported.join(', ')}, which convkit cannot rebuild`,
      `supported ops: ${SUPPORTED_OPS.join(', ')}`,
    );
  }
  if (graph.inputs.length !== 1) throw new ConvkitError(`${file} has ${graph.inputs.length} inputs`, 'only single-image-input models can be imported');
  const inT = graph.tensors[graph.inputs[0]];
  if (inT.shape.length !== 4)
    throw new ConvkitError(`${file}: input ${inT.name} has shape [${inT.shape}], expected [1, h, w, c]`, 'import an image model (NHWC input)');
  return inT;
}

/**
 * The state of one rebuild: the symbolic tensor of each TFLite tensor made
 * so far, the layers waiting for their weights (set once the model exists),
 * and the unique layer names handed out.
 */
class Rebuilder {
  readonly values = new Map<number, tf.SymbolicTensor>();
  readonly pending: [tf.layers.Layer, tf.Tensor[]][] = [];
  featureLayer: string | null = null;
  /** Set when featuresOnly cuts the graph at its global pooling. */
  output: tf.SymbolicTensor | null = null;
  private readonly used = new Set<string>();

  constructor(
    readonly graph: TfliteGraph,
    readonly file: string,
    readonly options: ConvertOptions,
  ) {}

  unique(base: string): string {
    let n = base,
      k = 2;
    while (this.used.has(n)) n = `${base}_${k++}`;
    this.used.add(n);
    return n;
  }

  get(i: number, op: TfliteOperator): tf.SymbolicTensor {
    const v = this.values.get(i);
    if (!v)
      throw new ConvkitError(
        `${this.file}: op ${op.index} (${op.op}) reads tensor ${this.graph.tensors[i]?.name ?? i}, which no earlier op produced`,
        'only single-input feed-forward graphs can be imported',
      );
    return v;
  }

  constant(i: number): TfliteTensor {
    const t = this.graph.tensors[i];
    if (!t?.data) throw new ConvkitError(`${this.file}: tensor ${t?.name ?? i} should be a constant`, 'the model is not a plain feed-forward image model');
    return t;
  }

  /** `layer` applied to `x`; its weights are set once the model is built. */
  apply(layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[], weights?: tf.Tensor[]): tf.SymbolicTensor {
    const y = layer.apply(x) as tf.SymbolicTensor;
    if (weights) this.pending.push([layer, weights]);
    return y;
  }

  act(a: Activation | undefined, op: TfliteOperator): string {
    const name = ACTIVATIONS[a ?? 'NONE'];
    if (!name)
      throw new ConvkitError(
        `${this.file}: op ${op.index} (${op.op}) has fused activation ${a}, which convkit cannot rebuild`,
        'supported fused activations: NONE, RELU, RELU6, TANH',
      );
    return name;
  }

  withActivation(y: tf.SymbolicTensor, op: TfliteOperator, base: string): tf.SymbolicTensor {
    const name = this.act(op.options.activation, op);
    return name === 'linear' ? y : this.apply(tf.layers.activation({ activation: name as 'relu', name: this.unique(`${base}_${name}`) }), y);
  }

  /** The kernel, and the bias when the op has one, dequantized. */
  weightsOf(op: TfliteOperator, kernel: tf.Tensor): tf.Tensor[] {
    const hasBias = op.inputs.length > 2 && op.inputs[2] >= 0;
    return hasBias ? [kernel, tf.tensor1d(dequantize(this.constant(op.inputs[2]), this.file))] : [kernel];
  }

  /** A convolution's layer arguments (plain or depthwise alike). */
  convArgs(op: TfliteOperator, base: string, kernel: tf.Tensor4D) {
    const o = op.options;
    return {
      name: this.unique(base),
      kernelSize: [kernel.shape[0], kernel.shape[1]] as [number, number],
      strides: o.strides,
      padding: o.padding === 'VALID' ? ('valid' as const) : ('same' as const),
      dilationRate: o.dilations,
      useBias: op.inputs.length > 2 && op.inputs[2] >= 0,
      activation: this.act(o.activation, op) as 'relu',
    };
  }

  /** Global average pooling; its input is the features (the first such pooling marks them). */
  globalPool(x: tf.SymbolicTensor, base: string, keepDims = true): tf.SymbolicTensor {
    this.featureLayer ??= x.sourceLayer.name;
    if (this.options.featuresOnly) this.output = x;
    const y = this.apply(tf.layers.globalAveragePooling2d({ name: this.unique(base) }), x);
    return keepDims ? this.apply(tf.layers.reshape({ name: this.unique(`${base}_keepdims`), targetShape: [1, 1, x.shape[3] as number] }), y) : y;
  }
}

type OpBuilder = (r: Rebuilder, op: TfliteOperator, base: string) => tf.SymbolicTensor;

function conv2d(r: Rebuilder, op: TfliteOperator, base: string): tf.SymbolicTensor {
  const wT = r.constant(op.inputs[1]);
  const [outC, kh, kw, inC] = wT.shape;
  const kernel = tf.tidy(() => tf.transpose(tf.tensor4d(dequantize(wT, r.file), [outC, kh, kw, inC]), [1, 2, 3, 0]));
  return r.apply(tf.layers.conv2d({ ...r.convArgs(op, base, kernel), filters: outC }), r.get(op.inputs[0], op), r.weightsOf(op, kernel));
}

function depthwiseConv2d(r: Rebuilder, op: TfliteOperator, base: string): tf.SymbolicTensor {
  const x = r.get(op.inputs[0], op);
  const wT = r.constant(op.inputs[1]);
  const [, kh, kw, outC] = wT.shape;
  const inC = x.shape[3] as number;
  const multiplier = outC / inC;
  // TFLite [1, kh, kw, inC·m] and TF.js [kh, kw, inC, m] share the same memory order.
  const kernel = tf.tensor4d(dequantize(wT, r.file), [kh, kw, inC, multiplier]);
  return r.apply(tf.layers.depthwiseConv2d({ ...r.convArgs(op, base, kernel), depthMultiplier: multiplier }), x, r.weightsOf(op, kernel));
}

function fullyConnected(r: Rebuilder, op: TfliteOperator, base: string): tf.SymbolicTensor {
  let x = r.get(op.inputs[0], op);
  if (x.shape.length > 2) x = r.apply(tf.layers.flatten({ name: r.unique(`${base}_flatten`) }), x);
  const wT = r.constant(op.inputs[1]);
  const [units, inUnits] = wT.shape;
  const kernel = tf.tidy(() => tf.transpose(tf.tensor2d(dequantize(wT, r.file), [units, inUnits])));
  const weights = r.weightsOf(op, kernel);
  const activation = r.act(op.options.activation, op) as 'relu';
  return r.apply(tf.layers.dense({ name: r.unique(base), units, useBias: weights.length > 1, activation }), x, weights);
}

function pool2d(r: Rebuilder, op: TfliteOperator, base: string): tf.SymbolicTensor {
  const o = op.options;
  const x = r.get(op.inputs[0], op);
  const inShape = r.graph.tensors[op.inputs[0]].shape;
  const [fh, fw] = o.filterSize!;
  // A pool over the whole map is global, so the model also works at other input sizes.
  if (op.op === 'AVERAGE_POOL_2D' && fh === inShape[1] && fw === inShape[2] && o.padding === 'VALID') return r.withActivation(r.globalPool(x, base), op, base);
  const args = {
    name: r.unique(base),
    poolSize: [fh, fw] as [number, number],
    strides: o.strides,
    padding: o.padding === 'VALID' ? ('valid' as const) : ('same' as const),
  };
  return r.withActivation(r.apply(op.op === 'MAX_POOL_2D' ? tf.layers.maxPooling2d(args) : tf.layers.averagePooling2d(args), x), op, base);
}

function mean(r: Rebuilder, op: TfliteOperator, base: string): tf.SymbolicTensor {
  const x = r.get(op.inputs[0], op);
  const axes = intValues(r.constant(op.inputs[1]), r.file)
    .map((a) => (a < 0 ? a + 4 : a))
    .sort();
  if (x.shape.length !== 4 || axes.join() !== '1,2')
    throw new ConvkitError(
      `${r.file}: MEAN over axes [${axes}] of a rank-${x.shape.length} tensor`,
      'only the spatial mean (global average pooling) is supported',
    );
  return r.globalPool(x, base, op.options.keepDims);
}

function pad(r: Rebuilder, op: TfliteOperator, base: string): tf.SymbolicTensor {
  const p = intValues(r.constant(op.inputs[1]), r.file);
  if (p.length !== 8 || p[0] || p[1] || p[6] || p[7])
    throw new ConvkitError(`${r.file}: PAD [${p}] pads batch or channels`, 'only spatial padding is supported');
  const padding: [[number, number], [number, number]] = [
    [p[2], p[3]],
    [p[4], p[5]],
  ];
  return r.apply(tf.layers.zeroPadding2d({ name: r.unique(base), padding }), r.get(op.inputs[0], op));
}

function softmax(r: Rebuilder, op: TfliteOperator, base: string): tf.SymbolicTensor {
  const beta = op.options.beta;
  if (beta !== undefined && Math.abs(beta - 1) > 1e-6) throw new ConvkitError(`${r.file}: SOFTMAX with beta ${beta}`, 'only beta = 1 is supported');
  return r.apply(tf.layers.softmax({ name: r.unique(base) }), r.get(op.inputs[0], op));
}

const activationOp =
  (activation: 'relu' | 'relu6' | 'sigmoid' | 'tanh'): OpBuilder =>
  (r, op, base) =>
    r.apply(tf.layers.activation({ name: r.unique(base), activation }), r.get(op.inputs[0], op));

const merge =
  (layer: (name: string, axis?: number) => tf.layers.Layer): OpBuilder =>
  (r, op, base) =>
    r.withActivation(
      r.apply(
        layer(r.unique(base), op.options.axis),
        op.inputs.map((i) => r.get(i, op)),
      ),
      op,
      base,
    );

/** x·c, x + c or x − c with a constant scalar c (a Rescaling layer's ops); ADD of two computed tensors is a merge. */
const elementwise =
  (kind: 'ADD' | 'SUB' | 'MUL'): OpBuilder =>
  (r, op, base) => {
    const constant = op.inputs.findIndex((i) => r.graph.tensors[i]?.data);
    if (constant < 0 && kind === 'ADD') return merge((name) => tf.layers.add({ name }))(r, op, base);
    const c = constant >= 0 ? dequantize(r.constant(op.inputs[constant]!), r.file) : null;
    if (!c || c.length !== 1 || op.inputs.length !== 2 || (kind === 'SUB' && constant === 0))
      throw new ConvkitError(
        `${r.file} uses TFLite op ${kind} (op ${op.index}) on ${c ? 'a constant of ' + c.length + ' values' : 'two computed tensors'}, which convkit cannot rebuild`,
        `only ${kind} with a constant scalar (a rescaling) is supported`,
      );
    const rescale = kind === 'MUL' ? { scale: c[0]!, offset: 0 } : { scale: 1, offset: kind === 'SUB' ? -c[0]! : c[0]! };
    const x = r.get(op.inputs[1 - constant]!, op);
    return r.withActivation(r.apply(tf.layers.rescaling({ ...rescale, name: r.unique(base) }), x), op, base);
  };

const reshape: OpBuilder = (r, op, base) =>
  r.apply(tf.layers.reshape({ name: r.unique(base), targetShape: r.graph.tensors[op.outputs[0]].shape.slice(1) }), r.get(op.inputs[0], op));

/** How each supported op becomes Keras layers. */
const OP_BUILDERS: Record<(typeof SUPPORTED_OPS)[number], OpBuilder> = {
  QUANTIZE: (r, op) => r.get(op.inputs[0], op),
  DEQUANTIZE: (r, op) => r.get(op.inputs[0], op),
  CONV_2D: conv2d,
  DEPTHWISE_CONV_2D: depthwiseConv2d,
  FULLY_CONNECTED: fullyConnected,
  ADD: elementwise('ADD'),
  SUB: elementwise('SUB'),
  MUL: elementwise('MUL'),
  CONCATENATION: merge((name, axis) => tf.layers.concatenate({ name, axis })),
  AVERAGE_POOL_2D: pool2d,
  MAX_POOL_2D: pool2d,
  MEAN: mean,
  PAD: pad,
  RESHAPE: reshape,
  SQUEEZE: reshape,
  SOFTMAX: softmax,
  RELU: activationOp('relu'),
  RELU6: activationOp('relu6'),
  LOGISTIC: activationOp('sigmoid'),
  TANH: activationOp('tanh'),
};

export function convertTflite(graph: TfliteGraph, options: ConvertOptions = {}): ConvertedModel {
  const file = options.name ?? '<tflite>';
  const inT = checkGraph(graph, file);
  const [h, w] = options.inputSize ?? [inT.shape[1], inT.shape[2]];
  const rescale = inputRescale(inT, options.rescale, file);
  const r = new Rebuilder(graph, file, options);
  const input = tf.input({ shape: [h, w, inT.shape[3]], name: r.unique('input') });
  r.values.set(inT.index, tf.layers.rescaling({ ...rescale, name: r.unique('rescaling') }).apply(input) as tf.SymbolicTensor);
  try {
    for (const op of graph.operators) {
      const build = OP_BUILDERS[op.op as (typeof SUPPORTED_OPS)[number]];
      r.values.set(op.outputs[0], build(r, op, layerNameFromTensor(graph.tensors[op.outputs[0]].name)));
      if (r.output) break;
    }
    if (options.featuresOnly && !r.output)
      throw new ConvkitError(`${file} has no global pooling to cut the features at`, 'import it whole (featuresOnly: false)');
    const out = r.output ?? r.values.get(graph.outputs[0]);
    if (!out) throw new ConvkitError(`${file}: output ${graph.tensors[graph.outputs[0]]?.name} is not produced by any op`, 'the file is damaged');
    const model = tf.model({ inputs: input, outputs: out, name: options.modelName ?? 'tflite_model' });
    for (const [layer, weights] of r.pending) layer.setWeights(weights);
    return { model, featureLayer: r.featureLayer, rescale };
  } finally {
    for (const [, weights] of r.pending) tf.dispose(weights);
  }
}

function inputRescale(t: TfliteTensor, override: ConvertOptions['rescale'], file: string): { scale: number; offset: number } {
  if (override) return override;
  const q = t.quantization;
  if ((t.type === 'UINT8' || t.type === 'INT8') && q && q.scale.length === 1) {
    // uint8 input q = pixel; int8 input q = pixel − 128; the model sees scale·(q − zp).
    const zp = (q.zeroPoint[0] ?? 0) + (t.type === 'INT8' ? 128 : 0);
    return { scale: q.scale[0], offset: -zp * q.scale[0] };
  }
  throw new ConvkitError(
    `${file}: input ${t.name} is ${t.type} without quantization, so its pixel scaling is unknown`,
    'pass rescale: {scale, offset} (e.g. {scale: 1/127.5, offset: -1} for MobileNet)',
  );
}
