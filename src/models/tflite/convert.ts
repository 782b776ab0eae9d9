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

export function convertTflite(graph: TfliteGraph, options: ConvertOptions = {}): ConvertedModel {
  const file = options.name ?? '<tflite>';
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
  const [h, w] = options.inputSize ?? [inT.shape[1], inT.shape[2]];
  const rescale = inputRescale(inT, options.rescale, file);

  const used = new Set<string>();
  const unique = (base: string): string => {
    let n = base,
      k = 2;
    while (used.has(n)) n = `${base}_${k++}`;
    used.add(n);
    return n;
  };
  const input = tf.input({ shape: [h, w, inT.shape[3]], name: unique('input') });
  const rescaling = tf.layers.rescaling({ ...rescale, name: unique('rescaling') });
  const values = new Map<number, tf.SymbolicTensor>([[inT.index, rescaling.apply(input) as tf.SymbolicTensor]]);
  const pending: [tf.layers.Layer, tf.Tensor[]][] = [];
  let featureLayer: string | null = null;
  let output: tf.SymbolicTensor | null = null;

  const get = (i: number, op: TfliteOperator): tf.SymbolicTensor => {
    const v = values.get(i);
    if (!v)
      throw new ConvkitError(
        `${file}: op ${op.index} (${op.op}) reads tensor ${graph.tensors[i]?.name ?? i}, which no earlier op produced`,
        'only single-input feed-forward graphs can be imported',
      );
    return v;
  };
  const constant = (i: number): TfliteTensor => {
    const t = graph.tensors[i];
    if (!t?.data) throw new ConvkitError(`${file}: tensor ${t?.name ?? i} should be a constant`, 'the model is not a plain feed-forward image model');
    return t;
  };
  const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[], weights?: tf.Tensor[]): tf.SymbolicTensor => {
    const y = layer.apply(x) as tf.SymbolicTensor;
    if (weights) pending.push([layer, weights]);
    return y;
  };
  const act = (a: Activation | undefined, op: TfliteOperator): string => {
    const name = ACTIVATIONS[a ?? 'NONE'];
    if (!name)
      throw new ConvkitError(
        `${file}: op ${op.index} (${op.op}) has fused activation ${a}, which convkit cannot rebuild`,
        'supported fused activations: NONE, RELU, RELU6, TANH',
      );
    return name;
  };
  // A convolution's layer arguments and weights (kernel, and the bias when the op has one), plain or depthwise alike.
  const convLayer = (op: TfliteOperator, base: string, kernel: tf.Tensor4D) => {
    const o = op.options;
    const useBias = op.inputs.length > 2 && op.inputs[2] >= 0;
    return {
      name: unique(base),
      kernelSize: [kernel.shape[0], kernel.shape[1]] as [number, number],
      strides: o.strides,
      padding: o.padding === 'VALID' ? ('valid' as const) : ('same' as const),
      dilationRate: o.dilations,
      useBias,
      activation: act(o.activation, op) as 'relu',
      weights: useBias ? [kernel, tf.tensor1d(dequantize(constant(op.inputs[2]), file))] : [kernel],
    };
  };
  const withActivation = (y: tf.SymbolicTensor, a: Activation | undefined, op: TfliteOperator, base: string): tf.SymbolicTensor => {
    const name = act(a, op);
    return name === 'linear' ? y : apply(tf.layers.activation({ activation: name as 'relu', name: unique(`${base}_${name}`) }), y);
  };

  try {
    for (const op of graph.operators) {
      const outT = graph.tensors[op.outputs[0]];
      const base = layerNameFromTensor(outT.name);
      const o = op.options;
      let y: tf.SymbolicTensor;
      switch (op.op) {
        case 'QUANTIZE':
        case 'DEQUANTIZE':
          y = get(op.inputs[0], op);
          break;
        case 'CONV_2D': {
          const x = get(op.inputs[0], op);
          const wT = constant(op.inputs[1]);
          const [outC, kh, kw, inC] = wT.shape;
          const kernel = tf.tidy(() => tf.transpose(tf.tensor4d(dequantize(wT, file), [outC, kh, kw, inC]), [1, 2, 3, 0]));
          const { weights, ...conv } = convLayer(op, base, kernel);
          y = apply(tf.layers.conv2d({ ...conv, filters: outC }), x, weights);
          break;
        }
        case 'DEPTHWISE_CONV_2D': {
          const x = get(op.inputs[0], op);
          const wT = constant(op.inputs[1]);
          const [, kh, kw, outC] = wT.shape;
          const inC = x.shape[3] as number;
          const multiplier = outC / inC;
          // TFLite [1, kh, kw, inC·m] and TF.js [kh, kw, inC, m] share the same memory order.
          const kernel = tf.tensor4d(dequantize(wT, file), [kh, kw, inC, multiplier]);
          const { weights, ...conv } = convLayer(op, base, kernel);
          y = apply(tf.layers.depthwiseConv2d({ ...conv, depthMultiplier: multiplier }), x, weights);
          break;
        }
        case 'FULLY_CONNECTED': {
          let x = get(op.inputs[0], op);
          if (x.shape.length > 2) x = apply(tf.layers.flatten({ name: unique(`${base}_flatten`) }), x);
          const wT = constant(op.inputs[1]);
          const [units, inUnits] = wT.shape;
          const kernel = tf.tidy(() => tf.transpose(tf.tensor2d(dequantize(wT, file), [units, inUnits])));
          const hasBias = op.inputs.length > 2 && op.inputs[2] >= 0;
          const weights = hasBias ? [kernel, tf.tensor1d(dequantize(constant(op.inputs[2]), file))] : [kernel];
          y = apply(tf.layers.dense({ name: unique(base), units, useBias: hasBias, activation: act(o.activation, op) as 'relu' }), x, weights);
          break;
        }
        case 'ADD':
          y = withActivation(
            apply(
              tf.layers.add({ name: unique(base) }),
              op.inputs.map((i) => get(i, op)),
            ),
            o.activation,
            op,
            base,
          );
          break;
        case 'CONCATENATION':
          y = withActivation(
            apply(
              tf.layers.concatenate({ name: unique(base), axis: o.axis }),
              op.inputs.map((i) => get(i, op)),
            ),
            o.activation,
            op,
            base,
          );
          break;
        case 'AVERAGE_POOL_2D':
        case 'MAX_POOL_2D': {
          const x = get(op.inputs[0], op);
          const inShape = graph.tensors[op.inputs[0]].shape;
          const [fh, fw] = o.filterSize!;
          if (op.op === 'AVERAGE_POOL_2D' && fh === inShape[1] && fw === inShape[2] && o.padding === 'VALID') {
            // A pool over the whole map: global, so the model also works at other input sizes.
            ({ y, featureLayer } = globalPool(x, base, featureLayer));
            if (options.featuresOnly) output = x;
          } else {
            const args = {
              name: unique(base),
              poolSize: [fh, fw] as [number, number],
              strides: o.strides,
              padding: o.padding === 'VALID' ? ('valid' as const) : ('same' as const),
            };
            y = apply(op.op === 'MAX_POOL_2D' ? tf.layers.maxPooling2d(args) : tf.layers.averagePooling2d(args), x);
          }
          y = withActivation(y, o.activation, op, base);
          break;
        }
        case 'MEAN': {
          const x = get(op.inputs[0], op);
          const axes = intValues(constant(op.inputs[1]), file)
            .map((a) => (a < 0 ? a + 4 : a))
            .sort();
          if (x.shape.length !== 4 || axes.join() !== '1,2')
            throw new ConvkitError(
              `${file}: MEAN over axes [${axes}] of a rank-${x.shape.length} tensor`,
              'only the spatial mean (global average pooling) is supported',
            );
          ({ y, featureLayer } = globalPool(x, base, featureLayer, o.keepDims));
          if (options.featuresOnly) output = x;
          break;
        }
        case 'PAD': {
          const x = get(op.inputs[0], op);
          const p = intValues(constant(op.inputs[1]), file);
          if (p.length !== 8 || p[0] || p[1] || p[6] || p[7])
            throw new ConvkitError(`${file}: PAD [${p}] pads batch or channels`, 'only spatial padding is supported');
          y = apply(
            tf.layers.zeroPadding2d({
              name: unique(base),
              padding: [
                [p[2], p[3]],
                [p[4], p[5]],
              ],
            }),
            x,
          );
          break;
        }
        case 'RESHAPE':
        case 'SQUEEZE':
          y = apply(tf.layers.reshape({ name: unique(base), targetShape: outT.shape.slice(1) }), get(op.inputs[0], op));
          break;
        case 'SOFTMAX':
          if (o.beta !== undefined && Math.abs(o.beta - 1) > 1e-6) throw new ConvkitError(`${file}: SOFTMAX with beta ${o.beta}`, 'only beta = 1 is supported');
          y = apply(tf.layers.softmax({ name: unique(base) }), get(op.inputs[0], op));
          break;
        case 'RELU':
        case 'RELU6':
        case 'LOGISTIC':
        case 'TANH': {
          const activation = ({ RELU: 'relu', RELU6: 'relu6', LOGISTIC: 'sigmoid', TANH: 'tanh' } as const)[op.op];
          y = apply(tf.layers.activation({ name: unique(base), activation }), get(op.inputs[0], op));
          break;
        }
        default:
          throw new ConvkitError(`${file}: TFLite op ${op.op} is not supported`, `supported ops: ${SUPPORTED_OPS.join(', ')}`);
      }
      values.set(op.outputs[0], y);
      if (output) break;
    }
    if (options.featuresOnly && !output)
      throw new ConvkitError(`${file} has no global pooling to cut the features at`, 'import it whole (featuresOnly: false)');
    const out = output ?? values.get(graph.outputs[0]);
    if (!out) throw new ConvkitError(`${file}: output ${graph.tensors[graph.outputs[0]]?.name} is not produced by any op`, 'the file is damaged');
    const model = tf.model({ inputs: input, outputs: out, name: options.modelName ?? 'tflite_model' });
    for (const [layer, weights] of pending) layer.setWeights(weights);
    return { model, featureLayer, rescale };
  } finally {
    for (const [, weights] of pending) tf.dispose(weights);
  }

  function globalPool(x: tf.SymbolicTensor, base: string, current: string | null, keepDims = true): { y: tf.SymbolicTensor; featureLayer: string | null } {
    const feature = current ?? x.sourceLayer.name;
    let y = apply(tf.layers.globalAveragePooling2d({ name: unique(base) }), x);
    if (keepDims) y = apply(tf.layers.reshape({ name: unique(`${base}_keepdims`), targetShape: [1, 1, x.shape[3] as number] }), y);
    return { y, featureLayer: feature };
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
