/**
 * A file-system tf.io.IOHandler: TF.js in Node has no file:// handler
 * without tfjs-node, so this reads and writes the standard layers-model
 * folder (model.json + binary weight shards) with node:fs.
 */
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ConvkitError } from '../util/errors.js';
import { writeDirAtomic } from '../util/atomic.js';

/** Weights file written by `save()` (one shard; TF.js reads any shard layout). */
export const WEIGHTS_FILE = 'weights.bin';

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

/** Reads model.json and its weight shards into ModelArtifacts. */
export async function readModelArtifacts(path: string): Promise<tf.io.ModelArtifacts> {
  const jsonPath = await modelJsonPath(path);
  let json: tf.io.ModelJSON;
  try {
    json = JSON.parse(await fs.readFile(jsonPath, 'utf8')) as tf.io.ModelJSON;
  } catch (err) {
    throw new ConvkitError(`cannot read ${jsonPath}: ${(err as Error).message}`, 'point at a TensorFlow.js layers model.json (as written by model.save or tensorflowjs_converter)');
  }
  if (!json.modelTopology) {
    throw new ConvkitError(`${jsonPath} has no modelTopology`, 'it is not a TensorFlow.js layers model; graph models are not supported');
  }
  const dir = dirname(jsonPath);
  const specs: tf.io.WeightsManifestEntry[] = [];
  const parts: Uint8Array[] = [];
  for (const group of json.weightsManifest ?? []) {
    specs.push(...group.weights);
    for (const p of group.paths) {
      const file = join(dir, p);
      try {
        parts.push(new Uint8Array(await fs.readFile(file)));
      } catch {
        throw new ConvkitError(`weight shard missing: ${file} (listed in ${basename(jsonPath)})`, 'copy the whole model folder, with every shard file listed in model.json');
      }
    }
  }
  const total = parts.reduce((s, p) => s + p.byteLength, 0);
  const weightData = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    weightData.set(p, offset);
    offset += p.byteLength;
  }
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

/** Writes ModelArtifacts as `dir`/model.json + `dir`/weights.bin (atomically). */
export async function writeModelArtifacts(dir: string, artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
  const weights = artifacts.weightData === undefined ? new Uint8Array(0) : new Uint8Array(tf.io.concatenateArrayBuffers(Array.isArray(artifacts.weightData) ? artifacts.weightData : [artifacts.weightData]));
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
  await writeDirAtomic(dir, async (tmp) => {
    await fs.writeFile(join(tmp, 'model.json'), text);
    await fs.writeFile(join(tmp, WEIGHTS_FILE), weights);
  });
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

/** Loads a TF.js layers model from a folder or model.json path. */
export async function loadLayersModelFromFile(path: string, options: { strict?: boolean } = {}): Promise<tf.LayersModel> {
  return tf.loadLayersModel(fileSystem(path), { strict: options.strict ?? true });
}
