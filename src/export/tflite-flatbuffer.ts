/**
 * Writing a TFLite flatbuffer (schema 3) with the builders flatc generated
 * for the importer: tensors with their quantization, one buffer per
 * constant (16-byte aligned, buffer 0 the empty one), operator codes with
 * the versions TFLite's converter gives each op for its tensor types
 * (tensorflow/lite/tools/versioning/op_version.cc), and named metadata
 * buffers, among them "min_runtime_version" as the converter writes it.
 * The importer's schema subset stops before Model.metadata, so that field
 * and the Metadata table are written with the builder directly.
 */
import * as flatbuffers from 'flatbuffers';
import {
  ActivationFunctionType,
  AddOptions,
  Buffer as TflBuffer,
  BuiltinOperator,
  BuiltinOptions,
  ConcatenationOptions,
  Conv2DOptions,
  DepthwiseConv2DOptions,
  DequantizeOptions,
  FullyConnectedOptions,
  FullyConnectedOptionsWeightsFormat,
  Model,
  MulOptions,
  Operator,
  OperatorCode,
  PadOptions,
  Padding,
  Pool2DOptions,
  QuantizationParameters,
  QuantizeOptions,
  ReducerOptions,
  ReshapeOptions,
  SoftmaxOptions,
  SubGraph,
  SubOptions,
  Tensor,
  TensorType,
} from '../models/tflite/schema/schema_generated.js';
import type { GraphOp, OpName } from './tflite-graph.js';

type FlatTensorType = 'FLOAT32' | 'INT32' | 'INT8' | 'UINT8';

/** real = scale · (q − zero_point), per tensor or per slice along `axis`. */
export interface Quantization {
  scale: number[];
  zeroPoint: number[];
  axis?: number;
}

export interface FlatTensor {
  name: string;
  shape: number[];
  type: FlatTensorType;
  /** Constant bytes, little-endian; absent for activations. */
  data?: Uint8Array;
  quantization?: Quantization;
}

/** A model ready to write: tensors, ops in execution order, and named metadata buffers. */
export interface FlatModel {
  tensors: FlatTensor[];
  ops: GraphOp[];
  inputs: number[];
  outputs: number[];
  description: string;
  metadata: { name: string; data: Uint8Array }[];
}

const isInt8 = (t: FlatTensor | undefined) => t?.type === 'INT8';

/** The op's version for its tensor types, as TFLite's converter assigns it. */
function opVersion(op: GraphOp, tensors: readonly FlatTensor[]): number {
  const input = tensors[op.inputs[0]!];
  const int8 = isInt8(input);
  switch (op.op) {
    case 'CONV_2D':
      return int8 ? 3 : 1;
    case 'DEPTHWISE_CONV_2D':
      return int8 ? 3 : op.options.dilations?.some((d) => d !== 1) ? 2 : 1;
    case 'FULLY_CONNECTED':
      return int8 ? 4 : 1;
    case 'MUL': {
      if (!int8) return 1;
      // Version 3: an input-scale product at least the output scale (the kernel's rescale ≥ 1).
      const s = (i: number) => tensors[i]?.quantization?.scale[0] ?? 0;
      return (s(op.inputs[0]!) * s(op.inputs[1]!)) / s(op.outputs[0]!) >= 1 ? 3 : 2;
    }
    case 'DEQUANTIZE':
      return int8 ? 2 : 1;
    case 'RESHAPE':
    case 'QUANTIZE':
      return 1;
    default:
      return int8 ? 2 : 1;
  }
}

/** Earliest TFLite runtime per (op, version) the export writes (tensorflow/lite/tools/versioning/runtime_version.cc). */
const MIN_RUNTIME: Record<string, string> = {
  'CONV_2D/1': '1.5.0',
  'CONV_2D/3': '1.14.0',
  'DEPTHWISE_CONV_2D/1': '1.5.0',
  'DEPTHWISE_CONV_2D/2': '1.12.0',
  'DEPTHWISE_CONV_2D/3': '1.14.0',
  'FULLY_CONNECTED/1': '1.5.0',
  'FULLY_CONNECTED/4': '1.14.0',
  'MAX_POOL_2D/1': '1.5.0',
  'MAX_POOL_2D/2': '1.14.0',
  'AVERAGE_POOL_2D/1': '1.5.0',
  'AVERAGE_POOL_2D/2': '1.14.0',
  'MEAN/1': '1.6.0',
  'MEAN/2': '1.14.0',
  'RESHAPE/1': '1.5.0',
  'ADD/1': '1.5.0',
  'ADD/2': '1.14.0',
  'CONCATENATION/1': '1.5.0',
  'CONCATENATION/2': '1.14.0',
  'SUB/1': '1.6.0',
  'SUB/2': '1.14.0',
  'MUL/1': '1.5.0',
  'MUL/2': '1.14.0',
  'MUL/3': '1.15.0',
  'PAD/1': '1.5.0',
  'PAD/2': '1.14.0',
  'SOFTMAX/1': '1.5.0',
  'SOFTMAX/2': '1.14.0',
  'LOGISTIC/1': '1.14.0',
  'LOGISTIC/2': '1.14.0',
  'RELU/1': '1.5.0',
  'RELU/2': '2.1.0',
  'RELU6/1': '1.5.0',
  'RELU6/2': '1.14.0',
  'TANH/1': '1.14.0',
  'TANH/2': '1.14.0',
  'QUANTIZE/1': '1.14.0',
  'DEQUANTIZE/1': '1.13.1',
  'DEQUANTIZE/2': '1.14.0',
};

function laterVersion(a: string, b: string): string {
  const [x, y] = [a, b].map((v) => v.split('.').map(Number));
  for (let i = 0; i < 3; i++) if ((x![i] ?? 0) !== (y![i] ?? 0)) return (x![i] ?? 0) > (y![i] ?? 0) ? a : b;
  return a;
}

/** The earliest TFLite runtime that has every (op, version) of `ops`. */
function minRuntimeVersion(ops: readonly { op: OpName; version: number }[]): string {
  return ops.reduce((v, o) => laterVersion(v, MIN_RUNTIME[`${o.op}/${o.version}`] ?? '1.5.0'), '1.5.0');
}

const ACTIVATION: Record<string, ActivationFunctionType> = {
  NONE: ActivationFunctionType.NONE,
  RELU: ActivationFunctionType.RELU,
  RELU6: ActivationFunctionType.RELU6,
};

/** The op's BuiltinOptions table (NONE for ops without options). */
function writeOptions(b: flatbuffers.Builder, op: GraphOp): [BuiltinOptions, flatbuffers.Offset] {
  const o = op.options;
  const padding = o.padding === 'VALID' ? Padding.VALID : Padding.SAME;
  const act = ACTIVATION[o.activation ?? 'NONE']!;
  switch (op.op) {
    case 'CONV_2D':
      Conv2DOptions.startConv2DOptions(b);
      Conv2DOptions.addPadding(b, padding);
      Conv2DOptions.addStrideH(b, o.strides![0]);
      Conv2DOptions.addStrideW(b, o.strides![1]);
      Conv2DOptions.addDilationHFactor(b, o.dilations?.[0] ?? 1);
      Conv2DOptions.addDilationWFactor(b, o.dilations?.[1] ?? 1);
      Conv2DOptions.addFusedActivationFunction(b, act);
      return [BuiltinOptions.Conv2DOptions, Conv2DOptions.endConv2DOptions(b)];
    case 'DEPTHWISE_CONV_2D':
      DepthwiseConv2DOptions.startDepthwiseConv2DOptions(b);
      DepthwiseConv2DOptions.addPadding(b, padding);
      DepthwiseConv2DOptions.addStrideH(b, o.strides![0]);
      DepthwiseConv2DOptions.addStrideW(b, o.strides![1]);
      DepthwiseConv2DOptions.addDepthMultiplier(b, o.depthMultiplier ?? 1);
      DepthwiseConv2DOptions.addDilationHFactor(b, o.dilations?.[0] ?? 1);
      DepthwiseConv2DOptions.addDilationWFactor(b, o.dilations?.[1] ?? 1);
      DepthwiseConv2DOptions.addFusedActivationFunction(b, act);
      return [BuiltinOptions.DepthwiseConv2DOptions, DepthwiseConv2DOptions.endDepthwiseConv2DOptions(b)];
    case 'MAX_POOL_2D':
    case 'AVERAGE_POOL_2D':
      Pool2DOptions.startPool2DOptions(b);
      Pool2DOptions.addPadding(b, padding);
      Pool2DOptions.addStrideH(b, o.strides![0]);
      Pool2DOptions.addStrideW(b, o.strides![1]);
      Pool2DOptions.addFilterHeight(b, o.filter![0]);
      Pool2DOptions.addFilterWidth(b, o.filter![1]);
      Pool2DOptions.addFusedActivationFunction(b, act);
      return [BuiltinOptions.Pool2DOptions, Pool2DOptions.endPool2DOptions(b)];
    case 'FULLY_CONNECTED':
      return [
        BuiltinOptions.FullyConnectedOptions,
        FullyConnectedOptions.createFullyConnectedOptions(b, act, FullyConnectedOptionsWeightsFormat.DEFAULT, false),
      ];
    case 'ADD':
      return [BuiltinOptions.AddOptions, AddOptions.createAddOptions(b, act)];
    case 'CONCATENATION':
      return [BuiltinOptions.ConcatenationOptions, ConcatenationOptions.createConcatenationOptions(b, o.axis!, act)];
    case 'SUB':
      return [BuiltinOptions.SubOptions, SubOptions.createSubOptions(b, act)];
    case 'MUL':
      return [BuiltinOptions.MulOptions, MulOptions.createMulOptions(b, act)];
    case 'RESHAPE':
      return [BuiltinOptions.ReshapeOptions, ReshapeOptions.createReshapeOptions(b, ReshapeOptions.createNewShapeVector(b, o.newShape!))];
    case 'MEAN':
      return [BuiltinOptions.ReducerOptions, ReducerOptions.createReducerOptions(b, o.keepDims ?? false)];
    case 'PAD':
      return [BuiltinOptions.PadOptions, PadOptions.createPadOptions(b)];
    case 'SOFTMAX':
      return [BuiltinOptions.SoftmaxOptions, SoftmaxOptions.createSoftmaxOptions(b, 1)];
    case 'QUANTIZE':
      return [BuiltinOptions.QuantizeOptions, QuantizeOptions.createQuantizeOptions(b)];
    case 'DEQUANTIZE':
      return [BuiltinOptions.DequantizeOptions, DequantizeOptions.createDequantizeOptions(b)];
    default:
      return [BuiltinOptions.NONE, 0];
  }
}

/** A byte vector starting on a 16-byte boundary of the finished file (what TFLite expects of buffer data). */
function alignedBytes(b: flatbuffers.Builder, data: Uint8Array): flatbuffers.Offset {
  b.prep(16, data.length);
  return b.createByteVector(data);
}

function writeQuantization(b: flatbuffers.Builder, q: Quantization): flatbuffers.Offset {
  const scale = QuantizationParameters.createScaleVector(b, q.scale);
  const zp = QuantizationParameters.createZeroPointVector(b, q.zeroPoint.map(BigInt));
  QuantizationParameters.startQuantizationParameters(b);
  QuantizationParameters.addScale(b, scale);
  QuantizationParameters.addZeroPoint(b, zp);
  QuantizationParameters.addQuantizedDimension(b, q.axis ?? 0);
  return QuantizationParameters.endQuantizationParameters(b);
}

/** Keeps the tensors that ops or the graph's ends use, renumbered in first-use order. */
function compact(model: FlatModel): FlatModel {
  const index = new Map<number, number>();
  const use = (i: number) => {
    if (!index.has(i)) index.set(i, index.size);
    return index.get(i)!;
  };
  const inputs = model.inputs.map(use);
  const ops = model.ops.map((op) => ({ ...op, inputs: op.inputs.map(use), outputs: op.outputs.map(use) }));
  const outputs = model.outputs.map(use);
  const tensors: FlatTensor[] = [];
  for (const [old, i] of index) tensors[i] = model.tensors[old]!;
  return { ...model, tensors, ops, inputs, outputs };
}

/** The .tflite bytes of `model`. */
export function writeTflite(source: FlatModel): Uint8Array {
  const model = compact(source);
  const b = new flatbuffers.Builder(1 << 20);
  const versioned = model.ops.map((op) => ({ op: op.op, version: opVersion(op, model.tensors) }));
  const minRuntime = new TextEncoder().encode(minRuntimeVersion(versioned));
  // The converter keeps the version string in a 16-byte buffer, zero-padded.
  const metadata = [...model.metadata, { name: 'min_runtime_version', data: Uint8Array.from({ length: 16 }, (_, i) => minRuntime[i] ?? 0) }];

  // Buffer 0 is the empty one every activation points to; constants and metadata follow.
  const bufferData: (Uint8Array | null)[] = [null];
  const tensorBuffer = model.tensors.map((t) => (t.data ? bufferData.push(t.data) - 1 : 0));
  const metadataBuffer = metadata.map((m) => bufferData.push(m.data) - 1);
  const buffers = bufferData.map((data) => {
    const d = data ? alignedBytes(b, data) : 0;
    TflBuffer.startBuffer(b);
    if (d) TflBuffer.addData(b, d);
    return TflBuffer.endBuffer(b);
  });

  const tensors = model.tensors.map((t, i) => {
    const name = b.createString(t.name);
    const shape = Tensor.createShapeVector(b, t.shape);
    const q = t.quantization ? writeQuantization(b, t.quantization) : 0;
    Tensor.startTensor(b);
    Tensor.addShape(b, shape);
    Tensor.addType(b, TensorType[t.type]);
    Tensor.addBuffer(b, tensorBuffer[i]!);
    Tensor.addName(b, name);
    if (q) Tensor.addQuantization(b, q);
    return Tensor.endTensor(b);
  });

  const codes: string[] = [];
  const operators = model.ops.map((op, i) => {
    const key = `${op.op}/${versioned[i]!.version}`;
    const opcode = codes.includes(key) ? codes.indexOf(key) : codes.push(key) - 1;
    const inputs = Operator.createInputsVector(b, op.inputs);
    const outputs = Operator.createOutputsVector(b, op.outputs);
    const [type, options] = writeOptions(b, op);
    return Operator.createOperator(b, opcode, inputs, outputs, type, options);
  });
  const operatorCodes = codes.map((key) => {
    const [name, version] = key.split('/') as [OpName, string];
    const code = BuiltinOperator[name];
    // Builtin codes below 127 also go in the deprecated byte field, which older runtimes read.
    return OperatorCode.createOperatorCode(b, code < 127 ? code : 127, 0, Number(version), code);
  });

  const subgraph = SubGraph.createSubGraph(
    b,
    SubGraph.createTensorsVector(b, tensors),
    SubGraph.createInputsVector(b, model.inputs),
    SubGraph.createOutputsVector(b, model.outputs),
    SubGraph.createOperatorsVector(b, operators),
    b.createString('main'),
  );
  const metadataTables = metadata.map((m, i) => {
    const name = b.createString(m.name);
    b.startObject(2); // table Metadata { name:string; buffer:uint; }
    b.addFieldOffset(0, name, 0);
    b.addFieldInt32(1, metadataBuffer[i]!, 0);
    return b.endObject();
  });
  b.startVector(4, metadataTables.length, 4);
  for (let i = metadataTables.length - 1; i >= 0; i--) b.addOffset(metadataTables[i]!);
  const metadataOffsets = b.endVector();
  const operatorCodesVector = Model.createOperatorCodesVector(b, operatorCodes);
  const subgraphs = Model.createSubgraphsVector(b, [subgraph]);
  const description = b.createString(model.description);
  const buffersVector = Model.createBuffersVector(b, buffers);
  b.startObject(7); // Model: version, operator_codes, subgraphs, description, buffers, metadata_buffer, metadata
  Model.addVersion(b, 3);
  Model.addOperatorCodes(b, operatorCodesVector);
  Model.addSubgraphs(b, subgraphs);
  Model.addDescription(b, description);
  Model.addBuffers(b, buffersVector);
  b.addFieldOffset(6, metadataOffsets, 0);
  Model.finishModelBuffer(b, Model.endModel(b));
  return b.asUint8Array();
}

/** The named metadata buffers of a .tflite file (empty when it has none or is no TFLite file). */
export function readTfliteMetadata(bytes: Uint8Array): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  const bb = new flatbuffers.ByteBuffer(bytes);
  if (bytes.byteLength < 8 || !Model.bufferHasIdentifier(bb)) return out;
  const model = Model.getRootAsModel(bb);
  const root = bb.readInt32(bb.position()) + bb.position();
  const field = bb.__offset(root, 4 + 2 * 6); // Model.metadata
  if (!field) return out;
  const vector = bb.__vector(root + field),
    length = bb.__vector_len(root + field);
  for (let i = 0; i < length; i++) {
    const table = bb.__indirect(vector + 4 * i);
    const nameAt = bb.__offset(table, 4),
      bufferAt = bb.__offset(table, 6);
    const name = nameAt ? (bb.__string(table + nameAt) as string) : '';
    const buffer = model.buffers(bufferAt ? bb.readUint32(table + bufferAt) : 0);
    out.set(name, buffer?.dataArray() ?? new Uint8Array());
  }
  return out;
}
