/**
 * Saved-model folders: TF.js layers format (model.json + weights.bin, which
 * plain `tf.loadLayersModel` reads) plus convkit.json describing classes,
 * input size, preprocessing, recipe, history and metrics.
 */
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadLayers, META_FILE, MODEL_FOLDER, readModelArtifacts, WEIGHTS_FILE, writeModelArtifacts } from '../models/fs-io.js';
import { specBytes } from '../models/manifest.js';
import { sha256 } from '../util/large-files.js';
import { writeDirAtomic, writeFileAtomic } from '../util/atomic.js';
import { ConvkitError } from '../util/errors.js';
import { checkMeta, checkModelMatchesMeta, META_FORMAT, META_VERSION, type ConvkitModelMeta, type ModelMetaInput } from './model-meta.js';

export { checkMeta, META_FORMAT, META_VERSION, type ConvkitModelMeta, type ModelMetaInput };
export const MODEL_FILE = 'model.json';
export { META_FILE };

async function readJson(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ConvkitError(`${path} not found`, `${what}`);
    throw new ConvkitError(`cannot read ${path}: ${(err as Error).message}`, 'it must be a readable file');
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
 * Loading checks the weight files against model.json first (and against
 * `sha256`, convkit.json's hashes, when given).
 */
export function fileSystem(dir: string, sha256?: Record<string, string>): tf.io.IOHandler {
  const folder = resolve(dir);
  return {
    load: () => readModelArtifacts(folder, { sha256, sha256Source: join(folder, META_FILE) }),
    save: (artifacts) => writeModelArtifacts(folder, artifacts),
  };
}

export function makeMeta(meta: ModelMetaInput): ConvkitModelMeta {
  return { format: META_FORMAT, version: META_VERSION, ...meta, createdAt: meta.createdAt ?? new Date().toISOString() } as ConvkitModelMeta;
}

/** Saves `model` and its description into `dir` atomically (the folder appears complete or not at all). */
export async function saveModel(model: tf.LayersModel, dir: string, meta: ModelMetaInput): Promise<ConvkitModelMeta> {
  const full = makeMeta(meta);
  const metaPath = join(resolve(dir), META_FILE);
  checkMeta(full, metaPath);
  checkModelMatchesMeta(model, full, `model ${model.name}`, metaPath);
  await writeDirAtomic(
    dir,
    async (tmp) => {
      await model.save(fileSystem(tmp), { includeOptimizer: false });
      full.weightsSha256 = { [WEIGHTS_FILE]: sha256(await fs.readFile(join(tmp, WEIGHTS_FILE))) };
      await fs.writeFile(join(tmp, META_FILE), JSON.stringify(full, null, 2) + '\n');
    },
    MODEL_FOLDER,
  );
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
  const hasModelJson = await fs.access(join(folder, MODEL_FILE)).then(
    () => true,
    () => false,
  );
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

/** Loads a convkit model folder: the TF.js model and its convkit.json, checked against each other. */
export async function loadModel(dir: string): Promise<LoadedModel> {
  const meta = await readModelMeta(dir);
  const jsonPath = join(resolve(dir), MODEL_FILE);
  if (
    !(await fs.access(jsonPath).then(
      () => true,
      () => false,
    ))
  ) {
    throw new ConvkitError(`${jsonPath} not found (the folder has ${META_FILE} but no TF.js model)`, 'copy the whole model folder, or train the model again');
  }
  const model = await loadLayers(fileSystem(dir, meta.weightsSha256), jsonPath);
  try {
    checkModelMatchesMeta(model, meta, jsonPath, join(resolve(dir), META_FILE));
  } catch (err) {
    model.dispose();
    throw err;
  }
  return { model, meta, dir: resolve(dir) };
}
