/**
 * Building an ONNX graph from TF.js layers: nodes, weight initializers and
 * unique names, and each value's axis order. TF.js keeps images NHWC; ONNX's
 * Conv and pooling ops take NCHW. A rank-4 value is kept in whichever order
 * its producer left it and transposed only where a consumer needs the other
 * one (once per value), so a run of convolutions stays NCHW throughout.
 */
import { ATTRIBUTE_TYPE, ONNX_FLOAT, ONNX_INT64, type OnnxAttribute, type OnnxNode, type OnnxTensor } from './onnx-proto.js';

/** 'tfjs': TF.js's axis order (NHWC for images); 'nchw': a rank-4 value with channels on axis 1. */
export type Layout = 'tfjs' | 'nchw';

export interface Value {
  /** ONNX value name. */
  name: string;
  layout: Layout;
  /** Shape in TF.js order, batch first (null: unknown). */
  shape: readonly (number | null)[];
}

export type AttributeValue = number | string | readonly number[] | { floats: readonly number[] } | { float: number };

/** NHWC → NCHW and back. */
const TO_NCHW = [0, 3, 1, 2] as const;
const TO_NHWC = [0, 2, 3, 1] as const;

/** Where a TF.js axis of a rank-4 tensor sits in NCHW order. */
export function nchwAxis(tfjsAxis: number): number {
  const a = tfjsAxis < 0 ? tfjsAxis + 4 : tfjsAxis;
  return [0, 2, 3, 1][a]!;
}

function attribute(name: string, value: AttributeValue): OnnxAttribute {
  if (typeof value === 'string') return { name, type: ATTRIBUTE_TYPE.STRING, s: new TextEncoder().encode(value) };
  if (typeof value === 'number') return { name, type: ATTRIBUTE_TYPE.INT, i: value };
  if ('floats' in value) return { name, type: ATTRIBUTE_TYPE.FLOATS, floats: [...value.floats] };
  if ('float' in value) return { name, type: ATTRIBUTE_TYPE.FLOAT, f: value.float };
  return { name, type: ATTRIBUTE_TYPE.INTS, ints: [...(value as readonly number[])] };
}

function bytesOf(data: Float32Array | BigInt64Array): Uint8Array {
  // ONNX raw_data is little-endian; so are the platforms Node runs convkit on (x86-64, arm64).
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export class OnnxGraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  private readonly used = new Set<string>();
  private readonly transposed = new Map<string, Value>();
  private readonly constants = new Map<string, string>();

  /** A name not used yet in this graph, from `base` (ONNX names are free text; TF.js's are kept readable). */
  unique(base: string): string {
    let name = base,
      k = 2;
    while (this.used.has(name)) name = `${base}_${k++}`;
    this.used.add(name);
    return name;
  }

  /** Adds a node; returns its (first) output name, `base` made unique. */
  node(op: string, inputs: readonly string[], base: string, attributes: Record<string, AttributeValue> = {}): string {
    const output = this.unique(base);
    this.nodes.push({
      op_type: op,
      input: [...inputs],
      output: [output],
      name: output,
      attribute: Object.entries(attributes).map(([k, v]) => attribute(k, v)),
    });
    return output;
  }

  /** A float32 initializer (a layer's weight); returns its name. */
  weight(base: string, dims: readonly number[], data: Float32Array): string {
    const name = this.unique(base);
    this.initializers.push({ name, dims: [...dims], data_type: ONNX_FLOAT, raw_data: bytesOf(data) });
    return name;
  }

  /** A float32 scalar constant, shared by every node that needs the same value. */
  scalar(value: number): string {
    const key = `f:${Math.fround(value)}`;
    let name = this.constants.get(key);
    if (!name) {
      name = this.weight(`const_${Math.fround(value)}`, [], Float32Array.of(value));
      this.constants.set(key, name);
    }
    return name;
  }

  /** An int64 vector constant (shapes, pads, axes). */
  ints(base: string, values: readonly number[]): string {
    const key = `i:${values.join(',')}`;
    let name = this.constants.get(key);
    if (!name) {
      name = this.unique(base);
      this.initializers.push({ name, dims: [values.length], data_type: ONNX_INT64, raw_data: bytesOf(BigInt64Array.from(values, BigInt)) });
      this.constants.set(key, name);
    }
    return name;
  }

  /** `v` with channels on axis 1 (a Transpose the first time a rank-4 TF.js-order value is asked for). */
  toNchw(v: Value): Value {
    if (v.shape.length !== 4 || v.layout === 'nchw') return v;
    return this.transpose(v, 'nchw', TO_NCHW);
  }

  /** `v` in TF.js order. */
  toTfjs(v: Value): Value {
    if (v.layout === 'tfjs') return v;
    return this.transpose(v, 'tfjs', TO_NHWC);
  }

  private transpose(v: Value, layout: Layout, perm: readonly number[]): Value {
    const key = `${v.name}->${layout}`;
    let t = this.transposed.get(key);
    if (!t) {
      t = { name: this.node('Transpose', [v.name], `${v.name}_${layout}`, { perm }), layout, shape: v.shape };
      this.transposed.set(key, t);
      this.transposed.set(`${t.name}->${v.layout}`, v); // and back again is the original
    }
    return t;
  }
}
