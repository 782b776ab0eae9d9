/**
 * A combined base's features (combined-base.ts) from each part's own: every
 * part runs, and is cached, under its own name, exactly as a run on that base
 * alone, so `--base a+b` after runs on a and on b reads both caches and never
 * runs a base, and the parts' entries serve single-base runs later.
 */
import * as tf from '@tensorflow/tfjs';
import { ConvkitError } from '../util/errors.js';
import { COMBINED_FEATURE_LAYER } from './combined-base.js';
import { extractFeatures, type FeatureCacheOptions, type FeatureSet, type FeatureSource } from './feature-cache.js';
import { layerInputs } from './graph.js';

/** Each part's branch of the combined `model`: the image in, what the part gives the Concatenate out. */
function partModels(model: tf.LayersModel, parts: readonly string[]): tf.LayersModel[] {
  const inputs = layerInputs(model, COMBINED_FEATURE_LAYER);
  if (inputs.length !== parts.length) {
    throw new ConvkitError(`the combined base joins ${inputs.length} feature maps, not ${parts.length} (${parts.join('+')})`, 'load it with getBase');
  }
  return inputs.map((out, i) => tf.model({ inputs: model.inputs, outputs: out, name: `${parts[i]}_features` }));
}

/** Joins per-image features along their last axis, as the Concatenate layer does. */
export function concatFeatureSets(sets: readonly FeatureSet[]): FeatureSet {
  const first = sets[0]!;
  const lead = first.shape.slice(0, -1);
  for (const s of sets) {
    if (s.n !== first.n || s.shape.slice(0, -1).join('×') !== lead.join('×') || s.files.some((f, i) => f !== first.files[i])) {
      throw new ConvkitError('the parts of a combined base gave features of different images or sizes', 'clear the feature cache and run again');
    }
  }
  const depths = sets.map((s) => s.shape.at(-1)!);
  const depth = depths.reduce((a, b) => a + b, 0);
  const positions = first.n * lead.reduce((a, b) => a * b, 1);
  const x = new Float32Array(positions * depth);
  let offset = 0;
  sets.forEach((s, k) => {
    const d = depths[k]!;
    for (let p = 0; p < positions; p++) x.set(s.x.subarray(p * d, (p + 1) * d), p * depth + offset);
    offset += d;
  });
  return { ...first, x, shape: [...lead, depth], key: sets.map((s) => s.key).join('+'), hit: sets.every((s) => s.hit) };
}

/** The combined base's features of `data`, each part from its own cache entry (computed and stored when missing). */
export async function extractCombinedFeatures(
  model: tf.LayersModel,
  parts: readonly string[],
  data: FeatureSource,
  options: FeatureCacheOptions,
): Promise<FeatureSet> {
  const sets: FeatureSet[] = [];
  for (const [i, part] of partModels(model, parts).entries()) {
    const label = options.label ? `${options.label} (${parts[i]})` : undefined;
    sets.push(await extractFeatures(part, data, { ...options, baseName: parts[i]!, label }));
  }
  return concatFeatureSets(sets);
}
