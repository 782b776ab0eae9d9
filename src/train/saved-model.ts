/**
 * Saved-model folders: TF.js layers format (model.json + weights.bin, which
 * plain `tf.loadLayersModel` reads) plus convkit.json describing classes,
 * input size, preprocessing, recipe, history and metrics.
 */
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import { join, resolve } from 'node:path';
import { readModelArtifacts, writeModelArtifacts } from '../models/fs-io.js';
import { writeDirAtomic, writeFileAtomic } from '../util/atomic.js';
import { ConvkitError } from '../util/errors.js';

export const MODEL_FILE = 'model.json';
export const META_FILE = 'convkit.json';
export const META_FORMAT = 'convkit-model';
export const META_VERSION = 1;

/** What convkit.json holds. */
export interface ConvkitModelMeta {
  format: typeof META_FORMAT;
  version: number;
  /** Class names in output order (index i ↔ output unit i; binary: index 1 is the sigmoid's positive class). */
  classNames: string[];
  /** [height, width] the model expects. */
  inputSize: [number, number];
  colorMode: 'rgb' | 'grayscale';
  classMode: 'binary' | 'categorical' | 'sparse';
  /** How pixels are read and scaled (the scaling itself is inside the model). */
  preprocessing: {
    input: string;
    interpolation?: string;
    inModel?: string;
    [key: string]: unknown;
  };
  recipe?: { name: string; profile?: string; settings?: Record<string, unknown>; seed?: number; [key: string]: unknown };
  history?: { epoch: number[]; history: Record<string, number[]> };
  metrics?: Record<string, unknown>;
  createdAt: string;
  [key: string]: unknown;
}

export type ModelMetaInput = Omit<ConvkitModelMeta, 'format' | 'version' | 'createdAt'> & Partial<Pick<ConvkitModelMeta, 'createdAt'>>;

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2, complex64: 8 };

function specBytes(spec: tf.io.WeightsManifestEntry): number {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const dtype = spec.quantization?.dtype ?? spec.dtype;
  const size = DTYPE_BYTES[dtype];
  if (size === undefined) throw new ConvkitError(`weight ${spec.name} has unsupported dtype ${dtype}`, 'save the model again with TF.js');
  return n * size;
}

async function readJson(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ConvkitError(`${path} not found`, `${what}`);
    throw err;
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ConvkitError(`${path} is not valid JSON (${(err as Error).message})`, 'the file is damaged; save or train the model again');
  }
}

/** Throws a clear error when the weight bytes do not match model.json's weight specs (truncated or mixed files). */
export function checkWeightBytes(artifacts: tf.io.ModelArtifacts, dir: string): void {
  const expected = (artifacts.weightSpecs ?? []).reduce((s, w) => s + specBytes(w), 0);
  const data = artifacts.weightData;
  const actual = data === undefined ? 0 : Array.isArray(data) ? data.reduce((s, b) => s + b.byteLength, 0) : data.byteLength;
  if (actual !== expected) {
    throw new ConvkitError(
      `the weight files of ${join(dir, MODEL_FILE)} hold ${actual} bytes but its weight specs need ${expected}: ${actual < expected ? 'the weights are truncated' : 'the weights belong to another model'}`,
      'copy the model folder again, or train the model again',
    );
  }
}

/**
 * A tf.io.IOHandler for a model folder (model.json + weights.bin) on disk:
 * `tf.loadLayersModel(fileSystem(dir))`, `model.save(fileSystem(dir))`.
 * Loading checks the weight bytes against model.json first.
 */
export function fileSystem(dir: string): tf.io.IOHandler {
  const folder = resolve(dir);
  return {
    async load() {
      const artifacts = await readModelArtifacts(folder);
      checkWeightBytes(artifacts, folder);
      return artifacts;
    },
    save: (artifacts) => writeModelArtifacts(folder, artifacts),
  };
}

/** Validates parsed convkit.json content; `path` names the file in errors. */
export function checkMeta(meta: unknown, path: string): ConvkitModelMeta {
  const m = meta as Partial<ConvkitModelMeta>;
  if (typeof m !== 'object' || m === null || m.format !== META_FORMAT) {
    throw new ConvkitError(`${path} is not a convkit model description (format ${JSON.stringify(m?.format)})`, `expected "format": "${META_FORMAT}"`);
  }
  if (typeof m.version !== 'number' || m.version > META_VERSION) {
    throw new ConvkitError(`${path} has version ${m.version}; this convkit reads up to ${META_VERSION}`, 'upgrade convkit');
  }
  if (!Array.isArray(m.classNames) || m.classNames.length < 2 || !Array.isArray(m.inputSize) || m.inputSize.length !== 2) {
    throw new ConvkitError(`${path} lacks classNames or inputSize`, 'the file is damaged; train the model again');
  }
  return m as ConvkitModelMeta;
}

export function makeMeta(meta: ModelMetaInput): ConvkitModelMeta {
  return { format: META_FORMAT, version: META_VERSION, ...meta, createdAt: meta.createdAt ?? new Date().toISOString() } as ConvkitModelMeta;
}

/** Saves `model` and its description into `dir` atomically (the folder appears complete or not at all). */
export async function saveModel(model: tf.LayersModel, dir: string, meta: ModelMetaInput): Promise<ConvkitModelMeta> {
  const full = makeMeta(meta);
  await writeDirAtomic(dir, async (tmp) => {
    await model.save(fileSystem(tmp), { includeOptimizer: false });
    await fs.writeFile(join(tmp, META_FILE), JSON.stringify(full, null, 2) + '\n');
  });
  return full;
}

/** Reads convkit.json of a model folder. */
export async function readModelMeta(dir: string): Promise<ConvkitModelMeta> {
  const folder = resolve(dir);
  const path = join(folder, META_FILE);
  let stat;
  try {
    stat = await fs.stat(folder);
  } catch {
    throw new ConvkitError(`model folder ${folder} not found`, 'pass the --out folder of "convkit train"');
  }
  if (!stat.isDirectory()) throw new ConvkitError(`${folder} is a file, not a model folder`, 'pass the folder that holds model.json and convkit.json');
  const hasModelJson = await fs.access(join(folder, MODEL_FILE)).then(() => true, () => false);
  const hint = hasModelJson
    ? `${folder} holds a TF.js model (model.json) made by another tool; load it with tf.loadLayersModel, or import it with convkit`
    : 'pass the --out folder of "convkit train"';
  return checkMeta(await readJson(path, hint), path);
}

/** Rewrites convkit.json only (e.g. to add test metrics after training). */
export async function updateModelMeta(dir: string, patch: Partial<ConvkitModelMeta>): Promise<ConvkitModelMeta> {
  const meta = { ...(await readModelMeta(dir)), ...patch };
  await writeFileAtomic(join(resolve(dir), META_FILE), JSON.stringify(meta, null, 2) + '\n');
  return meta;
}

export interface LoadedModel {
  model: tf.LayersModel;
  meta: ConvkitModelMeta;
  dir: string;
}

/** Loads a convkit model folder: the TF.js model and its convkit.json. */
export async function loadModel(dir: string): Promise<LoadedModel> {
  const meta = await readModelMeta(dir);
  const jsonPath = join(resolve(dir), MODEL_FILE);
  if (!(await fs.access(jsonPath).then(() => true, () => false))) {
    throw new ConvkitError(`${jsonPath} not found (the folder has ${META_FILE} but no TF.js model)`, 'copy the whole model folder, or train the model again');
  }
  const model = await tf.loadLayersModel(fileSystem(dir));
  return { model, meta, dir: resolve(dir) };
}
