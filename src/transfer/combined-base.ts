/**
 * Several pretrained bases side by side as one (`--base mobilenet_v1+mobilenet_v2`):
 * one image input, each base's frozen feature map, concatenated along the
 * channels. Two bases trained apart make different mistakes, so a head on
 * both sees more than a head on either (Imagenette: 0.973 with MobileNet v1,
 * 0.978 with v2, 0.985 with both). It is a plain functional model, so the
 * classifier saved on it loads with tf.loadLayersModel like any other.
 */
import * as tf from '@tensorflow/tfjs';
import { baseSpec, loadBase } from '../models/bases.js';
import { ConvkitError } from '../util/errors.js';
import { reapply } from './graph.js';
import { truncate } from './head.js';

/** The layer whose output is the combined feature map. */
export const COMBINED_FEATURE_LAYER = 'combined_features';

/** The bases `name` combines ("a+b" → [a, b]); one name for a single base. Unknown or repeated names are refused. */
export function baseParts(name: string): string[] {
  const parts = name.split('+');
  if (parts.length === 1) return [baseSpec(name).name];
  for (const part of parts) {
    if (part === '') throw new ConvkitError(`--base ${JSON.stringify(name)} has an empty part`, 'join base names with one "+", e.g. mobilenet_v1+mobilenet_v2');
    baseSpec(part);
  }
  const repeated = parts.find((p, i) => parts.indexOf(p) !== i);
  if (repeated) throw new ConvkitError(`--base ${JSON.stringify(name)} names ${repeated} twice`, 'name each base once, e.g. mobilenet_v1+mobilenet_v2');
  const sizes = new Set(parts.map((p) => baseSpec(p).inputSize.join('×')));
  if (sizes.size > 1) {
    throw new ConvkitError(
      `--base ${JSON.stringify(name)} combines bases trained at different input sizes (${[...sizes].join(', ')})`,
      'combine bases of one input size',
    );
  }
  return parts;
}

/** Gives each layer of `model` a name no earlier base used (a shared name would break saving). */
function renameClashes(model: tf.LayersModel, prefix: string, taken: Set<string>): void {
  for (const layer of model.layers) {
    if (layer.getClassName() === 'InputLayer') continue;
    if (taken.has(layer.name)) {
      if (layer.weights.length > 0) {
        throw new ConvkitError(`bases share the weighted layer name ${layer.name}`, 'combine bases whose layer names differ');
      }
      (layer as { name: string }).name = `${prefix}_${layer.name}`;
    }
    taken.add(layer.name);
  }
}

/**
 * Loads the bases `parts` at `inputSize` and joins their feature maps: along
 * the channels when they have one spatial size, else each averaged to a vector
 * first.
 */
export async function loadCombinedBase(parts: readonly string[], inputSize: readonly [number, number]): Promise<tf.LayersModel> {
  const input = tf.input({ shape: [inputSize[0], inputSize[1], 3], name: 'input' });
  const taken = new Set<string>([input.sourceLayer.name]);
  const maps: tf.SymbolicTensor[] = [];
  for (const part of parts) {
    const loaded = await loadBase(part, { inputSize });
    const features = truncate(loaded.model, loaded.featureLayer);
    renameClashes(features, part, taken);
    const [out] = reapply(features, new Map([[features.inputs[0]!.id, input]]), (layer) => {
      throw new ConvkitError(`base ${part}: layer ${layer.name} has inputs besides the image`, 'combine bases with one image input');
    });
    maps.push(out!);
  }
  const spatial = new Set(maps.map((m) => m.shape.slice(1, 3).join('×')));
  const joined = spatial.size === 1 ? maps : maps.map((m, i) => tf.layers.globalAveragePooling2d({ name: `${parts[i]}_pool` }).apply(m) as tf.SymbolicTensor);
  const out = tf.layers.concatenate({ axis: -1, name: COMBINED_FEATURE_LAYER }).apply(joined) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out, name: `${parts.join('_and_')}_base` });
}
