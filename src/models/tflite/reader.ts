/**
 * Reads a TensorFlow Lite flatbuffer into plain objects (tensors with their
 * raw data and quantization, operators with their options) through the
 * accessors flatc generated from the published TFLite schema, and
 * dequantizes constant tensors: f = scale · (q − zero_point), per tensor or
 * per channel along `quantized_dimension`.
 */
import * as flatbuffers from 'flatbuffers';
import { ConvkitError } from '../../util/errors.js';
import {
  ActivationFunctionType,
  AddOptions,
  BuiltinOperator,
  BuiltinOptions,
  ConcatenationOptions,
  Conv2DOptions,
  DepthwiseConv2DOptions,
  FullyConnectedOptions,
  Model,
  Padding,
  Pool2DOptions,
  ReducerOptions,
  ReshapeOptions,
  SoftmaxOptions,
  SqueezeOptions,
  TensorType,
} from './schema/schema_generated.js';

type TfliteTensorType = keyof typeof TensorType;

export interface Quantization {
  scale: Float32Array;
  zeroPoint: number[];
  /** Axis the scales and zero points run along (per-channel); 0 for per-tensor. */
  axis: number;
}

export interface TfliteTensor {
  index: number;
  name: string;
  shape: number[];
  type: TfliteTensorType;
  /** Constant data (little-endian), or null for activations. */
  data: Uint8Array | null;
  quantization: Quantization | null;
}

export type Activation = 'NONE' | 'RELU' | 'RELU_N1_TO_1' | 'RELU6' | 'TANH' | 'SIGN_BIT';
type PaddingMode = 'SAME' | 'VALID';

/** The options convkit reads, by op; other fields of the schema are ignored. */
export interface OpOptions {
  padding?: PaddingMode;
  strides?: [number, number];
  dilations?: [number, number];
  filterSize?: [number, number];
  depthMultiplier?: number;
  activation?: Activation;
  keepDims?: boolean;
  beta?: number;
  axis?: number;
  newShape?: number[];
  squeezeDims?: number[];
  keepNumDims?: boolean;
}

export interface TfliteOperator {
  index: number;
  /** BuiltinOperator name (e.g. CONV_2D) or `CUSTOM:<code>`. */
  op: string;
  inputs: number[];
  outputs: number[];
  options: OpOptions;
}

export interface TfliteGraph {
  /** Schema version (3 for current files). */
  version: number;
  description: string;
  tensors: TfliteTensor[];
  operators: TfliteOperator[];
  inputs: number[];
  outputs: number[];
}

const PADDING: Record<number, PaddingMode> = { [Padding.SAME]: 'SAME', [Padding.VALID]: 'VALID' };

function activation(code: ActivationFunctionType): Activation {
  return ActivationFunctionType[code] as Activation;
}

function readOptions(op: import('./schema/schema_generated.js').Operator): OpOptions {
  switch (op.builtinOptionsType()) {
    case BuiltinOptions.Conv2DOptions: {
      const o = op.builtinOptions(new Conv2DOptions()) as Conv2DOptions;
      return {
        padding: PADDING[o.padding()],
        strides: [o.strideH(), o.strideW()],
        dilations: [o.dilationHFactor(), o.dilationWFactor()],
        activation: activation(o.fusedActivationFunction()),
      };
    }
    case BuiltinOptions.DepthwiseConv2DOptions: {
      const o = op.builtinOptions(new DepthwiseConv2DOptions()) as DepthwiseConv2DOptions;
      return {
        padding: PADDING[o.padding()],
        strides: [o.strideH(), o.strideW()],
        dilations: [o.dilationHFactor(), o.dilationWFactor()],
        depthMultiplier: o.depthMultiplier(),
        activation: activation(o.fusedActivationFunction()),
      };
    }
    case BuiltinOptions.Pool2DOptions: {
      const o = op.builtinOptions(new Pool2DOptions()) as Pool2DOptions;
      return {
        padding: PADDING[o.padding()],
        strides: [o.strideH(), o.strideW()],
        filterSize: [o.filterHeight(), o.filterWidth()],
        activation: activation(o.fusedActivationFunction()),
      };
    }
    case BuiltinOptions.FullyConnectedOptions: {
      const o = op.builtinOptions(new FullyConnectedOptions()) as FullyConnectedOptions;
      return { activation: activation(o.fusedActivationFunction()), keepNumDims: o.keepNumDims() };
    }
    case BuiltinOptions.AddOptions: {
      const o = op.builtinOptions(new AddOptions()) as AddOptions;
      return { activation: activation(o.fusedActivationFunction()) };
    }
    case BuiltinOptions.ConcatenationOptions: {
      const o = op.builtinOptions(new ConcatenationOptions()) as ConcatenationOptions;
      return { axis: o.axis(), activation: activation(o.fusedActivationFunction()) };
    }
    case BuiltinOptions.SoftmaxOptions:
      return { beta: (op.builtinOptions(new SoftmaxOptions()) as SoftmaxOptions).beta() };
    case BuiltinOptions.ReducerOptions:
      return { keepDims: (op.builtinOptions(new ReducerOptions()) as ReducerOptions).keepDims() };
    case BuiltinOptions.ReshapeOptions: {
      const shape = (op.builtinOptions(new ReshapeOptions()) as ReshapeOptions).newShapeArray();
      return shape ? { newShape: Array.from(shape) } : {};
    }
    case BuiltinOptions.SqueezeOptions: {
      const dims = (op.builtinOptions(new SqueezeOptions()) as SqueezeOptions).squeezeDimsArray();
      return { squeezeDims: dims ? Array.from(dims) : [] };
    }
    default:
      return {};
  }
}

/** Parses a .tflite file's bytes; `name` is used in errors. Only the first subgraph is read. */
export function readTflite(bytes: Uint8Array, name = '<tflite>'): TfliteGraph {
  const bb = new flatbuffers.ByteBuffer(bytes);
  if (bytes.byteLength < 8 || !Model.bufferHasIdentifier(bb)) {
    throw new ConvkitError(`${name} is not a TensorFlow Lite model (no TFL3 identifier)`, 'pass a .tflite flatbuffer file');
  }
  const model = Model.getRootAsModel(bb);
  if (model.subgraphsLength() < 1) throw new ConvkitError(`${name} has no subgraph`, 'pass a complete .tflite model');
  const opNames: string[] = [];
  for (let i = 0; i < model.operatorCodesLength(); i++) {
    const code = model.operatorCodes(i)!;
    // Files from before schema 3a set only deprecated_builtin_code; newer ones set both.
    const builtin = Math.max(code.builtinCode(), code.deprecatedBuiltinCode());
    opNames.push(builtin === BuiltinOperator.CUSTOM ? `CUSTOM:${code.customCode() ?? '?'}` : (BuiltinOperator[builtin] ?? `BUILTIN_${builtin}`));
  }
  const g = model.subgraphs(0)!;
  const tensors: TfliteTensor[] = [];
  for (let i = 0; i < g.tensorsLength(); i++) {
    const t = g.tensors(i)!;
    const buffer = model.buffers(t.buffer());
    if (buffer && buffer.offset() > 1n) {
      throw new ConvkitError(`${name}: tensor ${t.name()} keeps its data outside the flatbuffer (models over 2 GB)`, 'such large models are not supported');
    }
    const data = buffer?.dataArray() ?? null;
    const q = t.quantization();
    const scale = q?.scaleArray();
    let quantization: Quantization | null = null;
    if (q && scale && scale.length > 0) {
      const zp: number[] = [];
      for (let j = 0; j < q.zeroPointLength(); j++) zp.push(Number(q.zeroPoint(j)));
      quantization = { scale: Float32Array.from(scale), zeroPoint: zp.length ? zp : Array(scale.length).fill(0), axis: q.quantizedDimension() };
    }
    tensors.push({
      index: i,
      name: t.name() ?? `tensor_${i}`,
      shape: Array.from(t.shapeArray() ?? []),
      type: (TensorType[t.type()] ?? `TYPE_${t.type()}`) as TfliteTensorType,
      data: data && data.byteLength > 0 ? data : null,
      quantization,
    });
  }
  const operators: TfliteOperator[] = [];
  for (let i = 0; i < g.operatorsLength(); i++) {
    const op = g.operators(i)!;
    operators.push({
      index: i,
      op: opNames[op.opcodeIndex()] ?? `OPCODE_${op.opcodeIndex()}`,
      inputs: Array.from(op.inputsArray() ?? []),
      outputs: Array.from(op.outputsArray() ?? []),
      options: readOptions(op),
    });
  }
  return {
    version: model.version(),
    description: model.description() ?? '',
    tensors,
    operators,
    inputs: Array.from(g.inputsArray() ?? []),
    outputs: Array.from(g.outputsArray() ?? []),
  };
}

function rawValues(t: TfliteTensor, name: string): ArrayLike<number> {
  const d = t.data!;
  // Copy into an aligned buffer: flatbuffer vectors are only 16-byte aligned within the file's buffer.
  const aligned = d.slice().buffer;
  switch (t.type) {
    case 'UINT8':
      return new Uint8Array(aligned);
    case 'INT8':
      return new Int8Array(aligned);
    case 'INT16':
      return new Int16Array(aligned);
    case 'INT32':
      return new Int32Array(aligned);
    case 'FLOAT32':
      return new Float32Array(aligned);
    case 'FLOAT64':
      return new Float64Array(aligned);
    default:
      throw new ConvkitError(
        `${name}: tensor ${t.name} has type ${t.type}, which convkit cannot read`,
        'convert the model with float32, uint8 or int8 weights',
      );
  }
}

function count(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The values of a constant tensor as float32, dequantized if it is quantized. */
export function dequantize(t: TfliteTensor, name = '<tflite>'): Float32Array {
  if (!t.data) throw new ConvkitError(`${name}: tensor ${t.name} has no constant data`, 'the model is incomplete');
  const raw = rawValues(t, name);
  const n = count(t.shape);
  if (raw.length !== n) throw new ConvkitError(`${name}: tensor ${t.name} holds ${raw.length} values for shape [${t.shape}]`, 'the file is damaged');
  const out = new Float32Array(n);
  const q = t.quantization;
  if (!q || t.type === 'FLOAT32' || t.type === 'FLOAT64') {
    for (let i = 0; i < n; i++) out[i] = raw[i];
    return out;
  }
  if (q.scale.length === 1) {
    const s = q.scale[0],
      zp = q.zeroPoint[0] ?? 0;
    for (let i = 0; i < n; i++) out[i] = s * (raw[i] - zp);
    return out;
  }
  const channels = t.shape[q.axis];
  if (channels !== q.scale.length) {
    throw new ConvkitError(`${name}: tensor ${t.name} has ${q.scale.length} scales for ${channels} channels on axis ${q.axis}`, 'the file is damaged');
  }
  const inner = count(t.shape.slice(q.axis + 1));
  for (let i = 0; i < n; i++) {
    const c = Math.floor(i / inner) % channels;
    out[i] = q.scale[c] * (raw[i] - (q.zeroPoint[c] ?? 0));
  }
  return out;
}

/** Integer values of a constant INT32/INT64 tensor (shapes, axes). */
export function intValues(t: TfliteTensor, name = '<tflite>'): number[] {
  if (!t.data) throw new ConvkitError(`${name}: tensor ${t.name} has no constant data`, 'the model is incomplete');
  if (t.type === 'INT64') return Array.from(new BigInt64Array(t.data.slice().buffer), Number);
  if (t.type !== 'INT32') throw new ConvkitError(`${name}: tensor ${t.name} is ${t.type}, expected INT32`, 'the file is damaged');
  return Array.from(new Int32Array(t.data.slice().buffer));
}
