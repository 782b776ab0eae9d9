/**
 * Decoupled weight decay (Loshchilov & Hutter's AdamW; fastai's `wd`,
 * Keras's `weight_decay`): at every step, after the gradients are computed
 * and before the optimizer's update, each decayed weight shrinks by
 * lr · wd of itself, w ← w − lr·wd·w, at the optimizer's current
 * (scheduled) rate. Unlike an L2 term in the loss, the shrinkage does not
 * pass through Adam's or RMSprop's per-weight scaling, so every weight
 * decays at the same relative rate.
 *
 * Only kernels decay (weights of rank ≥ 2: Dense, Conv2D, depthwise and
 * pointwise kernels); biases and BatchNormalization's γ and β (rank 1) do
 * not, as fastai's default (`wd_bn_bias=False`) and timm's.
 */
import * as tf from '@tensorflow/tfjs';
import { check } from '../util/errors.js';
import { getLearningRate } from './optimizers.js';

type NamedGradients = Parameters<tf.Optimizer['applyGradients']>[0];

function names(grads: NamedGradients): string[] {
  return Array.isArray(grads) ? grads.map((g) => g.name) : Object.keys(grads);
}

/** Whether decoupled weight decay shrinks this variable: kernels yes, biases and normalization scales and offsets no. */
function isDecayed(variable: tf.Variable): boolean {
  return variable.rank >= 2;
}

/**
 * Makes `optimizer` apply decoupled weight decay `weightDecay` before each
 * update. Returns a function that takes it off again (fit() uses it on an
 * optimizer the caller passed in).
 */
export function decoupleWeightDecay(optimizer: tf.Optimizer, weightDecay: number): () => void {
  check(Number.isFinite(weightDecay) && weightDecay >= 0, 'weightDecay', weightDecay, 'a number ≥ 0 (e.g. 0.01; 0 = none)');
  const target = optimizer as tf.Optimizer & { applyGradients: tf.Optimizer['applyGradients'] };
  const own = Object.prototype.hasOwnProperty.call(target, 'applyGradients') ? target.applyGradients : undefined;
  const apply = target.applyGradients.bind(target);
  target.applyGradients = (grads: NamedGradients) => {
    const factor = 1 - getLearningRate(optimizer) * weightDecay;
    if (factor !== 1) {
      const registered = tf.engine().registeredVariables;
      for (const name of names(grads)) {
        const v = registered[name];
        if (v && isDecayed(v)) tf.tidy(() => v.assign(tf.mul(v, factor)));
      }
    }
    apply(grads);
  };
  return () => {
    if (own) target.applyGradients = own;
    else delete (target as { applyGradients?: unknown }).applyGradients;
  };
}
