/**
 * Discriminative learning rates for fine-tuning (fastai's `slice(lo, hi)`):
 * the earliest unfrozen block of the base learns at `lowest`, the head at
 * `highest`, and the blocks between at rates spread geometrically, since
 * early features (edges, textures) need the least change. The groups are
 * the base's blocks (BaseSpec.blockOf) in order, then the head (layers
 * named head_*); a layer outside any block joins the group before it.
 */
import type * as tf from '@tensorflow/tfjs';
import { ConvkitError } from '../util/errors.js';
import { defaultBlockOf } from './freeze.js';
import { leafLayers } from './graph.js';

export interface LayerGroup {
  name: string;
  /** Trainable layers with weights, in order. */
  layers: string[];
}

/** The trainable layers of `model` grouped by block, input to output, the head last. */
export function trainableGroups(model: tf.LayersModel, blockOf: (layerName: string) => string | undefined = defaultBlockOf): LayerGroup[] {
  const groups: LayerGroup[] = [];
  let key = 'stem';
  for (const layer of leafLayers(model)) {
    key = layer.name.startsWith('head_') ? 'head' : (blockOf(layer.name) ?? key);
    if (!layer.trainable || layer.trainableWeights.length === 0) continue;
    const last = groups[groups.length - 1];
    if (last?.name === key) last.layers.push(layer.name);
    else groups.push({ name: key, layers: [layer.name] });
  }
  return groups;
}

/**
 * Multipliers of `highest` per trainable layer: group i of n runs at
 * lowest · (highest/lowest)^(i/(n−1)), so the first group gets `lowest` and
 * the last (the head) `highest`. Pass them to fit as `lrMultipliers` with
 * learningRate `highest`.
 */
export function discriminativeMultipliers(
  model: tf.LayersModel,
  rates: { lowest: number; highest: number },
  blockOf?: (layerName: string) => string | undefined,
): Map<string, number> {
  const { lowest, highest } = rates;
  if (!(lowest > 0 && highest > lowest && Number.isFinite(highest)))
    throw new ConvkitError(`invalid learning-rate range ${lowest}:${highest}`, 'give LO:HI with 0 < LO < HI, e.g. --learning-rate 1e-5:1e-4');
  const groups = trainableGroups(model, blockOf);
  if (groups.length < 2)
    throw new ConvkitError(
      `--learning-rate ${lowest}:${highest} spreads rates over the unfrozen blocks, but model ${model.name} trains ${groups.length === 1 ? `one group (${groups[0]!.name})` : 'nothing'}`,
      'unfreeze at least one block of the base besides the head (--unfreeze-blocks), or give a single --learning-rate',
    );
  const n = groups.length;
  const out = new Map<string, number>();
  groups.forEach((g, i) => {
    const m = (lowest / highest) ** ((n - 1 - i) / (n - 1));
    for (const layer of g.layers) out.set(layer, m);
  });
  return out;
}
