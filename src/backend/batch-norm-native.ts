/**
 * BatchNormalization's training step as two native kernels: the forward
 * pass (batch moments and the normalized output, two passes over x) and its
 * closed-form gradient (two passes over dy and x), in place of a dozen
 * composed ops each way. The gradient is registered for the forward kernel,
 * so the engine asks for it like any other; the batch's mean and variance
 * come out as constants for the moving averages (no gradient flows into
 * them), as on the composed path of ./batch-norm-training.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { BATCH_NORM_TRAIN, BATCH_NORM_TRAIN_GRAD } from './native-kernels.js';

let gradientRegistered = false;

function registerGradient(): void {
  if (gradientRegistered) return;
  tf.registerGradient({
    kernelName: BATCH_NORM_TRAIN,
    inputsToSave: ['x', 'gamma', 'beta'],
    outputsToSave: [false, true, true],
    gradFunc: (dys, saved, attrs) => {
      const dy = (Array.isArray(dys) ? dys[0] : dys) as tf.Tensor;
      const [x, gamma, beta, mean, variance] = saved as [tf.Tensor, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
      // One kernel gives all three; made here, outside the per-input scopes the engine disposes after each one.
      const [dx, dGamma, dBeta] = tf.engine().runKernel(BATCH_NORM_TRAIN_GRAD, { dy, x, mean, variance, gamma, beta }, attrs as tf.NamedAttrMap) as tf.Tensor[];
      return { x: () => dx!, gamma: () => dGamma!, beta: () => dBeta! };
    },
  });
  gradientRegistered = true;
}

/**
 * Batch normalization in training mode over every axis of `x` but the last,
 * on the backend's native kernel: the output (differentiable in x, γ and β;
 * with `relu`, max(y, 0), the ReLU after it run in the same passes) and the
 * batch's mean and biased variance; undefined where the backend has no such
 * kernel.
 */
export function nativeBatchNormTraining(
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
  relu: boolean,
): { y: tf.Tensor; mean: tf.Tensor1D; variance: tf.Tensor1D } | undefined {
  if (!tf.getKernel(BATCH_NORM_TRAIN, tf.getBackend())) return undefined;
  registerGradient();
  const [y, mean, variance] = tf.engine().runKernel(BATCH_NORM_TRAIN, { x, gamma, beta }, { epsilon, relu }) as tf.Tensor[];
  return { y: y!, mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D };
}
