/**
 * What a TF.js model.json may say about its weight files: a damaged or
 * hostile manifest (null, shard paths leaving the folder, shards of the
 * wrong size) is refused before any weight is read or used.
 */
import type * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import { ConvkitError } from '../util/errors.js';

/** A weight file listed in model.json, as read from disk. */
export interface Shard {
  /** The path as model.json lists it. */
  path: string;
  /** Its location on disk. */
  file: string;
  bytes: Uint8Array;
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2, complex64: 8 };

/** Bytes one weight takes in the shards. */
export function specBytes(spec: tf.io.WeightsManifestEntry): number {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const dtype = spec.quantization?.dtype ?? spec.dtype;
  const size = DTYPE_BYTES[dtype];
  if (size === undefined) throw new ConvkitError(`weight ${spec.name} has unsupported dtype ${dtype}`, 'save the model again with TF.js');
  return n * size;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses model.json text, checking the parts convkit reads (topology, manifest groups, weight specs). */
export function parseModelJson(text: string, jsonPath: string): tf.io.ModelJSON {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConvkitError(`${jsonPath} is not valid JSON (${(err as Error).message})`, 'the file is damaged; copy or save the model again');
  }
  const damaged = (what: string) =>
    new ConvkitError(`${jsonPath} ${what}`, 'point at a TensorFlow.js layers model.json (as written by model.save or tensorflowjs_converter)');
  if (!isObject(json)) throw damaged(`holds ${JSON.stringify(json)}, not a model description`);
  if (!isObject(json.modelTopology)) throw damaged('has no modelTopology (graph models are not supported)');
  const manifest = json.weightsManifest ?? [];
  if (!Array.isArray(manifest)) throw damaged('has a weightsManifest that is not a list');
  for (const group of manifest) {
    if (!isObject(group) || !Array.isArray(group.paths) || !group.paths.every((p) => typeof p === 'string') || !Array.isArray(group.weights)) {
      throw damaged(`has a weightsManifest group without paths or weights: ${JSON.stringify(group)?.slice(0, 80)}`);
    }
    for (const w of group.weights as unknown[]) {
      if (
        !isObject(w) ||
        typeof w.name !== 'string' ||
        !Array.isArray(w.shape) ||
        !w.shape.every((d) => Number.isInteger(d) && d >= 0) ||
        typeof w.dtype !== 'string'
      ) {
        throw damaged(`has a malformed weight spec: ${JSON.stringify(w)?.slice(0, 80)}`);
      }
    }
  }
  return json as unknown as tf.io.ModelJSON;
}

/**
 * The file a manifest path names inside `dir`. Absolute paths, `..` and
 * symbolic links leading out of the folder are refused: a model.json must
 * not make convkit read (and use as weights) files elsewhere on the machine.
 */
export async function shardFile(dir: string, path: string, jsonPath: string): Promise<string> {
  const refuse = (why: string) =>
    new ConvkitError(`${jsonPath} lists weight file ${JSON.stringify(path)}, ${why}`, 'weight files must lie in the model folder; copy the model folder again');
  if (path === '' || isAbsolute(path)) throw refuse('which is not a path inside the model folder');
  if (path.split(/[\\/]/).includes('..')) throw refuse('which leads out of the model folder');
  const file = join(dir, path);
  const real = await fs.realpath(file).catch(() => undefined); // a missing file is reported when read
  if (real !== undefined) {
    const rel = relative(await fs.realpath(dir), real);
    if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) throw refuse(`a link to ${real} outside the model folder`);
  }
  return file;
}

/** Reads one weight file, telling a missing file from one that cannot be read. */
export async function readShard(file: string, jsonPath: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await fs.readFile(file));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new ConvkitError(
        `weight shard missing: ${file} (listed in ${jsonPath})`,
        'copy the whole model folder, with every shard file listed in model.json',
      );
    throw new ConvkitError(
      `cannot read weight shard ${file} (listed in ${jsonPath}): ${(err as Error).message}`,
      code === 'EACCES' ? 'make the file readable' : 'it must be a regular file holding the weights',
    );
  }
}

/**
 * Checks each shard of a manifest group against the bytes its weights need.
 * TF.js splits a group into equal shards with a shorter last one, so every
 * shard's expected size is known (the first one of a wrong size is named).
 */
export function checkShardSizes(group: tf.io.WeightsManifestConfig[number], shards: readonly Shard[], jsonPath: string): void {
  const need = group.weights.reduce((s, w) => s + specBytes(w), 0);
  if (shards.length === 0 && need > 0)
    throw new ConvkitError(`${jsonPath} lists no weight file for ${group.weights.map((w) => w.name).join(', ')}`, 'copy or save the model again');
  const full = shards.length > 1 ? Math.max(...shards.slice(0, -1).map((s) => s.bytes.byteLength)) : need;
  shards.forEach((s, i) => {
    const expected = i < shards.length - 1 ? full : need - full * (shards.length - 1);
    const actual = s.bytes.byteLength;
    if (actual !== expected) {
      throw new ConvkitError(
        `weight shard ${s.file} holds ${actual} bytes but ${jsonPath} needs ${expected} there: ${actual < expected ? 'the weights are truncated' : 'the file belongs to another model'}`,
        'copy the model folder again (every shard whole), or save the model again',
      );
    }
  });
}
