/**
 * Keras HDF5 weight files (model.save_weights / keras.applications files)
 * read with h5wasm and loaded into a TF.js model by layer name, like Keras's
 * load_weights(by_name=True). The file's root attribute `layer_names` lists
 * the layers; each layer group's `weight_names` lists its datasets in the
 * layer's weight order — `block1_conv1/kernel:0` (Keras 2.x) or
 * `block1_conv1_W_1:0` (older files); both are read by that order.
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { ConvkitError } from '../util/errors.js';
import { firstNonFinite } from '../util/finite.js';

type H5 = typeof import('h5wasm');
type H5Group = InstanceType<H5['Group']>;
type H5Dataset = InstanceType<H5['Dataset']>;

let h5: Promise<H5> | undefined;

/** The h5wasm module (Node build, host file system), initialized once. */
export function h5wasmModule(): Promise<H5> {
  h5 ??= (async () => {
    const mod = (await import('h5wasm/node')) as unknown as H5 & { default?: H5 };
    const lib = (mod.default ?? mod) as H5;
    await lib.ready;
    return lib;
  })();
  return h5;
}

export interface H5Weight {
  name: string;
  shape: number[];
  values: Float32Array;
}

/** Layer name → its weights in order, read from a Keras weight file. */
export type H5Weights = Map<string, H5Weight[]>;

function strings(value: unknown): string[] {
  if (value == null) return [];
  const arr = Array.isArray(value) ? value : [value];
  return arr.map((v) => (typeof v === 'string' ? v : v instanceof Uint8Array ? new TextDecoder().decode(v) : String(v)));
}

/** Reads every layer's weights from a Keras .h5 weight file (or a full-model .h5, from its model_weights group). */
export async function readKerasH5Weights(path: string): Promise<H5Weights> {
  if (!existsSync(path)) throw new ConvkitError(`weight file not found: ${path}`, 'pass the path of a Keras .h5 weight file');
  const lib = await h5wasmModule();
  let file: InstanceType<H5['File']>;
  try {
    file = new lib.File(path, 'r');
  } catch (err) {
    throw new ConvkitError(
      `cannot open ${path} as HDF5: ${(err as Error).message}`,
      'pass a Keras .h5 file (model.save_weights or a keras.applications weight file)',
    );
  }
  try {
    let root: H5Group = file;
    const mw = file.keys().includes('model_weights') ? file.get('model_weights') : null;
    if (mw && mw instanceof lib.Group) root = mw;
    const layerNames = strings(root.attrs['layer_names']?.value);
    if (!layerNames.length)
      throw new ConvkitError(`${path} has no layer_names attribute`, 'it is not a Keras weight file; save one with model.save_weights("file.h5")');
    const out: H5Weights = new Map();
    for (const layer of layerNames) {
      const group = root.get(layer);
      if (!(group instanceof lib.Group)) throw new ConvkitError(`${path}: layer ${layer} listed in layer_names has no group`, 'the file is damaged');
      const weights: H5Weight[] = [];
      for (const wname of strings(group.attrs['weight_names']?.value)) {
        const ds = group.get(wname) as H5Dataset | null;
        if (!(ds instanceof lib.Dataset)) throw new ConvkitError(`${path}: dataset ${layer}/${wname} is missing`, 'the file is damaged');
        const raw = ds.value as ArrayLike<number> | null;
        if (!raw || typeof (raw as { length?: number }).length !== 'number')
          throw new ConvkitError(`${path}: dataset ${layer}/${wname} is not numeric`, 'the file is damaged');
        weights.push({ name: wname, shape: ds.shape ?? [], values: raw instanceof Float32Array ? raw : Float32Array.from(raw) });
      }
      out.set(layer, weights);
    }
    return out;
  } finally {
    file.close();
  }
}

export interface LoadWeightsOptions {
  /** Model layers that may be absent from the file (e.g. constant preprocessing layers). */
  allowMissing?: string[];
  /** Name used in errors. */
  source?: string;
}

/**
 * Sets the weights of every weighted layer of `model` from `weights` by
 * layer name. File layers the model lacks are ignored (like Keras by_name);
 * a model layer the file lacks, or a shape mismatch, is an error.
 * Returns the names of the layers loaded.
 */
export function setWeightsByName(model: tf.LayersModel, weights: H5Weights, options: LoadWeightsOptions = {}): string[] {
  const source = options.source ?? 'the weight file';
  const allow = new Set(options.allowMissing ?? []);
  const loaded: string[] = [];
  for (const layer of model.layers) {
    const expected = layer.weights;
    if (!expected.length) continue;
    const found = weights.get(layer.name);
    if (!found) {
      if (allow.has(layer.name)) continue;
      throw new ConvkitError(
        `${source} has no weights for layer ${layer.name}`,
        `use a weight file saved from the same architecture (its layers: ${[...weights.keys()].slice(0, 8).join(', ')}${weights.size > 8 ? ', …' : ''})`,
      );
    }
    if (found.length !== expected.length) {
      throw new ConvkitError(
        `${source}: layer ${layer.name} has ${found.length} weights, the model expects ${expected.length}`,
        'use a weight file saved from the same architecture',
      );
    }
    const tensors = found.map((w, i) => {
      const shape = expected[i].shape as number[];
      if (w.shape.join() !== shape.join()) {
        throw new ConvkitError(
          `${source}: ${layer.name}/${w.name} has shape [${w.shape}], the model expects [${shape}]`,
          'build the model with the same sizes (input size only matters for the classifier top)',
        );
      }
      const bad = firstNonFinite(w.values);
      if (bad >= 0)
        throw new ConvkitError(`${source}: weight ${layer.name}/${w.name} holds ${w.values[bad]}`, 'the weight file is damaged: download or save it again');
      return tf.tensor(w.values, shape, 'float32');
    });
    layer.setWeights(tensors);
    tf.dispose(tensors);
    loaded.push(layer.name);
  }
  return loaded;
}

/** Reads `path` and loads it into `model` by layer name. */
export async function loadKerasH5Weights(model: tf.LayersModel, path: string, options: Omit<LoadWeightsOptions, 'source'> = {}): Promise<string[]> {
  return setWeightsByName(model, await readKerasH5Weights(path), { ...options, source: path });
}

/** The weights of a TF.js model as H5Weights (to copy between models by layer name). */
export function weightsOf(model: tf.LayersModel): H5Weights {
  const out: H5Weights = new Map();
  for (const layer of model.layers) {
    if (!layer.weights.length) continue;
    out.set(
      layer.name,
      layer.getWeights().map((t, i) => ({ name: layer.weights[i].originalName, shape: t.shape, values: t.dataSync() as Float32Array })),
    );
  }
  return out;
}
