/**
 * ONNX's protobuf messages as plain objects, encoded with protobufjs from the
 * vendored schema (./onnx-schema/onnx.proto), and a cheap look at a file's
 * top-level fields: enough to tell convkit's own export from any other file
 * without reading a model's weights.
 */
import { promises as fs } from 'node:fs';
import protobuf from 'protobufjs';
import { ONNX_DESCRIPTOR } from './onnx-schema/onnx-descriptor.js';

/** TensorProto.DataType values convkit writes. */
export const ONNX_FLOAT = 1;
export const ONNX_INT64 = 7;

/** AttributeProto.AttributeType values convkit writes. */
export const ATTRIBUTE_TYPE = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

export interface OnnxAttribute {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  floats?: number[];
  ints?: number[];
}

export interface OnnxNode {
  input: string[];
  output: string[];
  name: string;
  op_type: string;
  attribute: OnnxAttribute[];
}

export interface OnnxTensor {
  name: string;
  dims: number[];
  data_type: number;
  /** Little-endian, row-major. */
  raw_data: Uint8Array;
}

export interface OnnxDimension {
  dim_value?: number;
  dim_param?: string;
}

export interface OnnxValueInfo {
  name: string;
  type: { tensor_type: { elem_type: number; shape: { dim: OnnxDimension[] } } };
  doc_string?: string;
}

interface OnnxGraph {
  name: string;
  node: OnnxNode[];
  initializer: OnnxTensor[];
  input: OnnxValueInfo[];
  output: OnnxValueInfo[];
  doc_string?: string;
}

export interface OnnxModel {
  ir_version: number;
  opset_import: { domain: string; version: number }[];
  producer_name: string;
  producer_version: string;
  doc_string?: string;
  graph: OnnxGraph;
  metadata_props: { key: string; value: string }[];
}

let modelType: protobuf.Type | undefined;

function onnxModelType(): protobuf.Type {
  modelType ??= protobuf.Root.fromJSON(ONNX_DESCRIPTOR).lookupType('onnx.ModelProto');
  return modelType;
}

export function encodeOnnxModel(model: OnnxModel): Uint8Array {
  const type = onnxModelType();
  return type.encode(type.fromObject(model)).finish();
}

/** Decodes a ModelProto (int64 fields as numbers, bytes as Uint8Array). */
export function decodeOnnxModel(bytes: Uint8Array): OnnxModel {
  const type = onnxModelType();
  return type.toObject(type.decode(bytes), { longs: Number, defaults: false, arrays: true }) as OnnxModel;
}

/** ModelProto field numbers read by readOnnxHeader. */
const PRODUCER_NAME = 2;
const METADATA_PROPS = 14;
/** Top-level fields of a ModelProto: a handful; a file with more is not one. */
const MAX_TOP_LEVEL_FIELDS = 256;

export interface OnnxHeader {
  producerName?: string;
  metadata: Record<string, string>;
}

/**
 * Reads a file's top-level ModelProto fields, skipping over the graph (the
 * weights) by its length, so that even a 500 MB model costs a few small reads.
 * Undefined when the file is not a well-formed protobuf message of that shape.
 */
export async function readOnnxHeader(path: string): Promise<OnnxHeader | undefined> {
  const file = await fs.open(path, 'r');
  try {
    const size = (await file.stat()).size;
    const read = async (pos: number, length: number): Promise<Uint8Array> => {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await file.read(buf, 0, length, pos);
      return buf.subarray(0, bytesRead);
    };
    const header: OnnxHeader = { metadata: {} };
    let pos = 0;
    for (let n = 0; pos < size; n++) {
      if (n >= MAX_TOP_LEVEL_FIELDS) return undefined;
      const head = await read(pos, 20);
      const tag = readVarint(head, 0);
      if (!tag) return undefined;
      const field = Math.floor(tag.value / 8),
        wire = tag.value % 8;
      if (field === 0) return undefined;
      let next = pos + tag.length;
      if (wire === 0) {
        const v = readVarint(head, tag.length);
        if (!v) return undefined;
        next += v.length;
      } else if (wire === 1) next += 8;
      else if (wire === 5) next += 4;
      else if (wire === 2) {
        const len = readVarint(head, tag.length);
        if (!len) return undefined;
        const start = next + len.length;
        next = start + len.value;
        if (next > size) return undefined;
        if (field === PRODUCER_NAME || field === METADATA_PROPS) {
          if (len.value > 1 << 20) return undefined;
          const body = await read(start, len.value);
          if (field === PRODUCER_NAME) header.producerName = Buffer.from(body).toString('utf8');
          else {
            const entry = protobuf.Reader.create(body);
            let key = '',
              value = '';
            while (entry.pos < entry.len) {
              const t = entry.uint32();
              if (t >>> 3 === 1) key = entry.string();
              else if (t >>> 3 === 2) value = entry.string();
              else entry.skipType(t & 7);
            }
            header.metadata[key] = value;
          }
        }
      } else return undefined;
      if (next > size) return undefined;
      pos = next;
    }
    return header;
  } catch {
    return undefined;
  } finally {
    await file.close();
  }
}

/** A base-128 varint at `pos` of `buf` (values up to 2^53), or undefined when it runs off the end. */
function readVarint(buf: Uint8Array, pos: number): { value: number; length: number } | undefined {
  let value = 0,
    scale = 1;
  for (let i = pos; i < buf.length && i < pos + 8; i++) {
    value += (buf[i]! & 0x7f) * scale;
    if (!(buf[i]! & 0x80)) return { value, length: i - pos + 1 };
    scale *= 128;
  }
  return undefined;
}
