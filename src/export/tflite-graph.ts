/**
 * The graph a TFLite export is made of: TFLite builtin ops over numbered
 * tensors, weights as float32 constants already in TFLite's layouts
 * (conv filters [out, kh, kw, in], depthwise [1, kh, kw, channels],
 * fully-connected [out, in]). tflite-lower.ts builds it from a TF.js model,
 * tflite-run.ts runs it in float (calibration), quantize.ts turns it int8
 * and tflite-flatbuffer.ts writes it.
 */

export type OpName =
  | 'CONV_2D'
  | 'DEPTHWISE_CONV_2D'
  | 'FULLY_CONNECTED'
  | 'MAX_POOL_2D'
  | 'AVERAGE_POOL_2D'
  | 'MEAN'
  | 'RESHAPE'
  | 'ADD'
  | 'CONCATENATION'
  | 'SUB'
  | 'MUL'
  | 'PAD'
  | 'SOFTMAX'
  | 'LOGISTIC'
  | 'RELU'
  | 'RELU6'
  | 'TANH'
  | 'QUANTIZE'
  | 'DEQUANTIZE';

/** Activations TFLite fuses into an op's output (int8 kernels clamp to them). */
type FusedActivation = 'NONE' | 'RELU' | 'RELU6';

export interface OpOptions {
  padding?: 'SAME' | 'VALID';
  /** [height, width]. */
  strides?: [number, number];
  dilations?: [number, number];
  /** Pooling window [height, width]. */
  filter?: [number, number];
  depthMultiplier?: number;
  activation?: FusedActivation;
  keepDims?: boolean;
  /** CONCATENATION's axis (non-negative). */
  axis?: number;
  /** RESHAPE's target, batch axis -1. */
  newShape?: number[];
}

export interface GraphOp {
  op: OpName;
  inputs: number[];
  outputs: number[];
  options: OpOptions;
}

export interface GraphTensor {
  name: string;
  /** Batch axis 1. */
  shape: number[];
  /** Constant values (weights float32; shapes, axes and paddings int32); absent for activations. */
  data?: Float32Array | Int32Array;
}

/** A single-input, single-output graph in execution order. */
export class Graph {
  readonly tensors: GraphTensor[] = [];
  ops: GraphOp[] = [];
  input = -1;
  output = -1;
  private readonly names = new Set<string>();

  /** A tensor name not used yet, from `base`. */
  private unique(base: string): string {
    let name = base,
      k = 2;
    while (this.names.has(name)) name = `${base}_${k++}`;
    this.names.add(name);
    return name;
  }

  activation(name: string, shape: readonly number[]): number {
    return this.tensors.push({ name: this.unique(name), shape: [...shape] }) - 1;
  }

  constant(name: string, shape: readonly number[], data: Float32Array | Int32Array): number {
    return this.tensors.push({ name: this.unique(name), shape: [...shape], data }) - 1;
  }

  /** Appends `op` reading `inputs`; returns its new output tensor. */
  add(op: OpName, inputs: number[], outName: string, outShape: readonly number[], options: OpOptions = {}): number {
    const out = this.activation(outName, outShape);
    this.ops.push({ op, inputs, outputs: [out], options });
    return out;
  }

  /** The ops reading tensor `t`. */
  consumers(t: number): GraphOp[] {
    return this.ops.filter((o) => o.inputs.includes(t));
  }

  producer(t: number): GraphOp | undefined {
    return this.ops.find((o) => o.outputs.includes(t));
  }
}

export const count = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
