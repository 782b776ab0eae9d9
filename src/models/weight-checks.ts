/**
 * Whether weight bytes are the right ones: every float finite (one NaN
 * weight silently turns every prediction into NaN), and, where the model
 * folder records them, each file's sha256 (shards of equal size that were
 * swapped or replaced pass every size check).
 */
import type * as tf from '@tensorflow/tfjs';
import { ConvkitError } from '../util/errors.js';
import { firstNonFinite } from '../util/finite.js';
import { sha256 } from '../util/large-files.js';
import { specBytes, type Shard } from './manifest.js';

function floats(data: Uint8Array, offset: number, n: number): Float32Array {
  const start = data.byteOffset + offset;
  return start % 4 === 0 ? new Float32Array(data.buffer, start, n) : new Float32Array(data.slice(offset, offset + n * 4).buffer);
}

const DAMAGED = 'the weights are damaged (or were saved from a run whose loss diverged): copy the model folder again, or train the model again';

/** Throws naming the first weight holding NaN or ±Infinity and the file it is in (`fileAt` maps a byte offset to it). */
export function checkFiniteWeights(specs: readonly tf.io.WeightsManifestEntry[], data: Uint8Array, fileAt: (offset: number) => string, hint = DAMAGED): void {
  let offset = 0;
  for (const spec of specs) {
    const bytes = specBytes(spec);
    const q = spec.quantization;
    const values = q ? [q.scale ?? 0, q.min ?? 0] : spec.dtype === 'float32' ? floats(data, offset, bytes / 4) : [];
    const i = firstNonFinite(values);
    if (i >= 0) {
      throw new ConvkitError(`weight ${spec.name} in ${fileAt(q ? offset : offset + 4 * i)} holds ${values[i]}${q ? ' in its quantization' : ''}`, hint);
    }
    offset += bytes;
  }
}

/** Throws naming the first shard whose sha256 is not the one `source` records (`expected`: manifest path → hex). */
export function checkShardHashes(shards: readonly Shard[], expected: Readonly<Record<string, string>>, source: string): void {
  const fix = 'a weight file was replaced or damaged, or the folder mixes two models: copy the model folder again, or train the model again';
  const listed = new Set(shards.map((s) => s.path));
  const extra = Object.keys(expected).find((p) => !listed.has(p));
  if (extra !== undefined) throw new ConvkitError(`${source} records the hash of weight file ${extra}, which model.json does not list`, fix);
  for (const s of shards) {
    if (!Object.hasOwn(expected, s.path)) throw new ConvkitError(`${s.file} is not among the weight files whose hashes ${source} records`, fix);
    if (sha256(s.bytes) !== expected[s.path])
      throw new ConvkitError(`${s.file} is not the weight file saved with the model (its sha256 differs from the one in ${source})`, fix);
  }
}
