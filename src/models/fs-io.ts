/**
 * A file-system tf.io.IOHandler: TF.js in Node has no file:// handler
 * without tfjs-node, so this reads and writes the standard layers-model
 * folder (model.json + binary weight shards) with node:fs.
 */
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { ConvkitError } from '../util/errors.js';
import { writeDirAtomic, type ReplacePolicy } from '../util/atomic.js';
import { ownedBy } from '../util/output-guard.js';
import { checkShardSizes, parseModelJson, readShard, shardFile, type Shard } from './manifest.js';
import { checkFiniteWeights, checkShardHashes } from './weight-checks.js';

/** Weights file written by `save()` (one shard; TF.js reads any shard layout). */
export const WEIGHTS_FILE = 'weights.bin';
/** convkit's description of a model folder (classes, input size, recipe, metrics). */
export const META_FILE = 'convkit.json';

/**
 * The folders a model save may replace: a convkit model folder (it holds
 * convkit.json) or a bare TF.js save of convkit's (model.json + weights.bin
 * only). Anything else at the path is someone else's and is left alone.
 */
export const MODEL_FOLDER: ReplacePolicy = {
  what: 'a model folder',
  owns: ownedBy(META_FILE, (name) => name === 'model.json' || name === WEIGHTS_FILE),
};

/** Resolves a folder or a model.json path to the model.json path. */
export async function modelJsonPath(path: string): Promise<string> {
  let st;
  try {
    st = await fs.stat(path);
  } catch {
    throw new ConvkitError(`model not found: ${path}`, 'pass a folder holding model.json or the path of a model.json file');
  }
  return st.isDirectory() ? join(path, 'model.json') : path;
}

export interface ReadOptions {
  /** sha256 of each weight file by its model.json path (convkit.json's weightsSha256): any other content is an error. */
  sha256?: Readonly<Record<string, string>>;
  /** Where `sha256` comes from, for errors. */
  sha256Source?: string;
}

/**
 * Reads model.json and its weight shards into ModelArtifacts, refusing
 * shards outside the folder, of the wrong size or content, and
 * non-finite weights, each named with its file.
 */
export async function readModelArtifacts(path: string, options: ReadOptions = {}): Promise<tf.io.ModelArtifacts> {
  const jsonPath = await modelJsonPath(path);
  let text: string;
  try {
    text = await fs.readFile(jsonPath, 'utf8');
  } catch (err) {
    throw new ConvkitError(
      `cannot read ${jsonPath}: ${(err as Error).message}`,
      'point at a TensorFlow.js layers model.json (as written by model.save or tensorflowjs_converter)',
    );
  }
  const json = parseModelJson(text, jsonPath);
  const dir = dirname(jsonPath);
  const shards: Shard[] = [];
  for (const group of json.weightsManifest ?? []) {
    const start = shards.length;
    for (const p of group.paths) {
      const file = await shardFile(dir, p, jsonPath);
      shards.push({ path: p, file, bytes: await readShard(file, jsonPath) });
    }
    checkShardSizes(group, shards.slice(start), jsonPath);
  }
  if (options.sha256) checkShardHashes(shards, options.sha256, options.sha256Source ?? 'the model folder');
  const weightData = new Uint8Array(shards.reduce((n, s) => n + s.bytes.byteLength, 0));
  let offset = 0;
  for (const s of shards) {
    weightData.set(s.bytes, offset);
    offset += s.bytes.byteLength;
  }
  const specs = (json.weightsManifest ?? []).flatMap((g) => g.weights);
  checkFiniteWeights(specs, weightData, (offset) => shardAt(shards, offset));
  return {
    modelTopology: json.modelTopology,
    format: json.format,
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy,
    trainingConfig: json.trainingConfig,
    userDefinedMetadata: json.userDefinedMetadata,
    weightSpecs: specs,
    weightData: weightData.buffer,
  };
}

/** The file holding byte `offset` of the concatenated shards. */
function shardAt(shards: readonly Shard[], offset: number): string {
  let end = 0;
  for (const s of shards) {
    end += s.bytes.byteLength;
    if (offset < end) return s.file;
  }
  return shards.at(-1)?.file ?? 'model.json';
}

/** Writes ModelArtifacts as `dir`/model.json + `dir`/weights.bin (atomically). */
export async function writeModelArtifacts(dir: string, artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
  const weights =
    artifacts.weightData === undefined
      ? new Uint8Array(0)
      : new Uint8Array(tf.io.concatenateArrayBuffers(Array.isArray(artifacts.weightData) ? artifacts.weightData : [artifacts.weightData]));
  // A model that cannot be loaded back is not worth writing.
  checkFiniteWeights(
    artifacts.weightSpecs ?? [],
    weights,
    () => `the model to save in ${dir}`,
    'its training diverged: lower the learning rate and train again',
  );
  const modelJson: tf.io.ModelJSON = {
    modelTopology: artifacts.modelTopology as object,
    format: artifacts.format ?? 'layers-model',
    generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
    convertedBy: artifacts.convertedBy ?? null,
    weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs ?? [] }],
  };
  if (artifacts.trainingConfig) modelJson.trainingConfig = artifacts.trainingConfig;
  if (artifacts.userDefinedMetadata) modelJson.userDefinedMetadata = artifacts.userDefinedMetadata;
  const text = JSON.stringify(modelJson);
  await writeDirAtomic(
    dir,
    async (tmp) => {
      await fs.writeFile(join(tmp, 'model.json'), text);
      await fs.writeFile(join(tmp, WEIGHTS_FILE), weights);
    },
    MODEL_FOLDER,
  );
  return {
    modelArtifactsInfo: {
      dateSaved: new Date(),
      modelTopologyType: 'JSON',
      modelTopologyBytes: Buffer.byteLength(text),
      weightSpecsBytes: Buffer.byteLength(JSON.stringify(artifacts.weightSpecs ?? [])),
      weightDataBytes: weights.byteLength,
    },
  };
}

/**
 * An IOHandler for `tf.loadLayersModel(fileSystem(path))` (path: a folder or
 * its model.json) and `model.save(fileSystem(dir))` (dir: the folder to write).
 */
export function fileSystem(path: string): tf.io.IOHandler {
  return {
    load: () => readModelArtifacts(path),
    save: (artifacts) => writeModelArtifacts(path, artifacts),
  };
}

/**
 * tf.loadLayersModel, with what TF.js throws on a topology it cannot build
 * (an unknown layer class, a damaged config) as one error naming model.json.
 */
export async function loadLayers(handler: tf.io.IOHandler, jsonPath: string, options: tf.io.LoadOptions = {}): Promise<tf.LayersModel> {
  try {
    return await tf.loadLayersModel(handler, options);
  } catch (err) {
    if (err instanceof ConvkitError) throw err;
    const message = (err as Error).message ?? String(err);
    const unknown = /Unknown layer: ([^\s.]+)/.exec(message)?.[1];
    if (unknown)
      throw new ConvkitError(
        `${jsonPath} uses layer class ${unknown}, which TensorFlow.js does not have`,
        'use a model made of TensorFlow.js layers (a custom layer must be registered with tf.serialization.registerClass before loading)',
      );
    throw new ConvkitError(
      `cannot build the model of ${jsonPath}: ${message.split('\n')[0]}`,
      'its topology is damaged or from an incompatible tool; copy or save the model again',
    );
  }
}

/** Loads a TF.js layers model from a folder or model.json path. */
export async function loadLayersModelFromFile(path: string, options: { strict?: boolean } = {}): Promise<tf.LayersModel> {
  return loadLayers(fileSystem(path), await modelJsonPath(path), { strict: options.strict ?? true });
}
