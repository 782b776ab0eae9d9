/**
 * Freezing and unfreezing layers, Keras style: a frozen layer's weights are
 * left out of training (bit-identical afterwards) and a frozen
 * BatchNormalization runs in inference mode (see batch-norm.ts).
 *
 * As in Keras, a change of `trainable` takes effect at the next `compile()`:
 * TF.js collects the trainable weights when the model is compiled.
 */
import * as tf from '@tensorflow/tfjs';
import { BASES } from '../models/bases.js';
import { ConvkitError } from '../util/errors.js';
import { guardBatchNormLayer, isBatchNorm } from './batch-norm.js';
import { isContainer, leafLayers } from './graph.js';

type Layer = tf.layers.Layer;

/** Sets `trainable` on each layer (nested models opened up) and guards BatchNormalization layers. */
export function setTrainable(layers: Layer | readonly Layer[], trainable: boolean): void {
  for (const layer of Array.isArray(layers) ? layers : [layers as Layer]) {
    if (isContainer(layer)) {
      setTrainable(leafLayers(layer), trainable);
      layer.trainable = trainable;
    } else {
      guardBatchNormLayer(layer);
      layer.trainable = trainable;
    }
  }
}

function indexOfLayer(layers: readonly Layer[], name: string, option: string): number {
  const i = layers.findIndex((l) => l.name === name);
  if (i < 0) {
    const near = layers
      .filter((l) => l.name.includes(name.replace(/\d+$/, '')))
      .slice(0, 5)
      .map((l) => l.name);
    throw new ConvkitError(
      `${option}: the model has no layer named "${name}"`,
      near.length ? `did you mean ${near.join(', ')}?` : 'list the layer names with "convkit summary" or model.summary()',
    );
  }
  return i;
}

export interface FreezeOptions {
  /** Freeze the layers up to and including this one (a layer name), or the first N layers (a count). Default: all. */
  upTo?: string | number;
}

/**
 * Freezes the first layers of `model` (all of them by default); the other
 * layers keep their setting. Returns the layers frozen.
 */
export function freeze(model: tf.LayersModel, options: FreezeOptions = {}): Layer[] {
  const layers = leafLayers(model);
  const { upTo } = options;
  let end = layers.length;
  if (typeof upTo === 'string') end = indexOfLayer(layers, upTo, 'freeze upTo') + 1;
  else if (typeof upTo === 'number') {
    if (!Number.isInteger(upTo) || upTo < 0) throw new ConvkitError(`freeze upTo: ${upTo} is not a layer count`, 'pass a whole number ≥ 0 or a layer name');
    end = Math.min(upTo, layers.length);
  }
  const frozen = layers.slice(0, end);
  setTrainable(frozen, false);
  return frozen;
}

/**
 * The block a layer belongs to, by the first of the bases convkit ships
 * whose blockOf (models/bases.ts, the one definition) knows the name: VGG16 `block5_conv1` → `block5`, MobileNet v1
 * `conv_dw_13_bn` / `conv_pw_13` → `conv_13` (one depthwise-separable
 * block), MobileNet v2 `block_16_project` → `block_16` (Keras names) or
 * `expanded_conv_16_expand` → `expanded_conv_16` (TFLite names). Other layers
 * (stem, head) belong to no block.
 */
export function defaultBlockOf(name: string): string | undefined {
  for (const base of Object.values(BASES)) {
    const block = base.blockOf(name);
    if (block !== undefined) return block;
  }
  return undefined;
}

export interface UnfreezeOptions {
  /** Unfreeze this layer and every layer after it. */
  from?: string;
  /** Unfreeze the last N blocks (and every layer after them). */
  blocks?: number;
  /** Maps a layer name to its block (default: defaultBlockOf). */
  blockOf?: (layerName: string) => string | undefined;
  /**
   * Keep BatchNormalization layers frozen (inference mode, moving statistics
   * untouched) inside the unfrozen part — the usual advice for fine-tuning
   * on small batches. Default true.
   */
  keepBatchNormFrozen?: boolean;
}

/** The name of the first layer of the last `blocks` blocks. */
export function firstLayerOfLastBlocks(model: tf.LayersModel, blocks: number | 'all', blockOf = defaultBlockOf): string {
  const layers = leafLayers(model);
  const order: string[] = [];
  const first = new Map<string, string>();
  for (const l of layers) {
    const b = blockOf(l.name);
    if (b !== undefined && !first.has(b)) {
      first.set(b, l.name);
      order.push(b);
    }
  }
  // 'all': from the first block on; layers before it (the base's preprocessing) stay frozen.
  if (blocks === 'all') blocks = order.length;
  if (order.length === 0) {
    throw new ConvkitError(`unfreeze blocks: no layer of model ${model.name} names a block`, 'pass from: <layer name> instead, or a blockOf function');
  }
  if (!Number.isInteger(blocks) || blocks < 1 || blocks > order.length) {
    throw new ConvkitError(
      `unfreeze blocks: ${blocks} is not between 1 and ${order.length} (the model's blocks: ${order.slice(-4).join(', ')}…)`,
      `pass blocks from 1 to ${order.length}`,
    );
  }
  return first.get(order[order.length - blocks]!)!;
}

/**
 * Unfreezes the top of `model`: from a named layer, or the last N blocks;
 * with neither, the whole model. Returns the layers unfrozen.
 */
export function unfreeze(model: tf.LayersModel, options: UnfreezeOptions = {}): Layer[] {
  const layers = leafLayers(model);
  const { keepBatchNormFrozen = true } = options;
  let start = 0;
  if (options.from !== undefined && options.blocks !== undefined) {
    throw new ConvkitError('unfreeze: pass either from or blocks, not both', 'use from: <layer name> or blocks: <count>');
  }
  if (options.from !== undefined) start = indexOfLayer(layers, options.from, 'unfreeze from');
  if (options.blocks !== undefined) start = indexOfLayer(layers, firstLayerOfLastBlocks(model, options.blocks, options.blockOf), 'unfreeze blocks');
  const top = layers.slice(start);
  const opened = keepBatchNormFrozen ? top.filter((l) => !isBatchNorm(l)) : top;
  setTrainable(opened, true);
  if (keepBatchNormFrozen) setTrainable(top.filter(isBatchNorm), false);
  // A nested model switched off as a whole must be on again for its unfrozen layers to train.
  for (const layer of model.layers) {
    if (!isContainer(layer) || layer.trainable) continue;
    const inner = leafLayers(layer);
    if (!inner.some((l) => opened.includes(l))) continue;
    layer.trainable = true;
    setTrainable(
      inner.filter((l) => !opened.includes(l)),
      false,
    );
  }
  return opened;
}

/** Names of the layers whose weights would train at the next compile. */
export function trainableLayerNames(model: tf.LayersModel): string[] {
  return leafLayers(model)
    .filter((l) => l.trainable && l.trainableWeights.length > 0)
    .map((l) => l.name);
}
