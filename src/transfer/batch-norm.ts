/**
 * Frozen BatchNormalization layers run in inference mode.
 *
 * TF.js's BatchNormalization decides its mode from the `training` flag alone:
 * `fit()` executes every layer with `training: true`, so a BN layer whose
 * `trainable` is false still normalizes with the batch's statistics and
 * overwrites its moving mean and variance — which wrecks a pretrained base
 * (Keras 2 runs frozen BN layers in inference mode; TF.js does not). The
 * executor also ignores per-node call arguments, so calling the base with
 * `training: false` in a wrapper model does not help. The fix is per layer:
 * its `call` is wrapped to force `training: false` while the layer is frozen.
 * The wrapper lives on the layer object only; the saved model is unchanged.
 */
import * as tf from '@tensorflow/tfjs';
import { leafLayers } from './graph.js';

type Layer = tf.layers.Layer;
type Kwargs = Parameters<Layer['call']>[1];

const GUARDED = Symbol('convkit.frozenBatchNormGuard');

export function isBatchNorm(layer: Layer): boolean {
  return layer.getClassName() === 'BatchNormalization';
}

/**
 * True when no weight of the layer is being trained: its own `trainable` flag
 * is off, or an enclosing model switched all its weights off.
 */
export function isFrozen(layer: Layer): boolean {
  if (!layer.trainable) return true;
  const own = (layer as unknown as { _trainableWeights: tf.LayerVariable[] })._trainableWeights;
  return own.length > 0 && own.every((w) => !w.trainable);
}

/** Makes `layer` (if a BatchNormalization) run in inference mode whenever it is frozen. */
export function guardBatchNormLayer(layer: Layer): void {
  if (!isBatchNorm(layer)) return;
  const tagged = layer as Layer & { [GUARDED]?: true };
  if (tagged[GUARDED]) return;
  const call = layer.call.bind(layer);
  layer.call = (inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs) => call(inputs, isFrozen(layer) ? { ...kwargs, training: false } : kwargs);
  tagged[GUARDED] = true;
}

/** Guards every BatchNormalization layer of `model` (nested models included). */
export function guardBatchNorm(model: tf.LayersModel): void {
  for (const layer of leafLayers(model)) guardBatchNormLayer(layer);
}
