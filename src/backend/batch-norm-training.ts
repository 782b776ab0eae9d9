/**
 * BatchNormalization layers train through one differentiable op whose
 * gradient is the closed form, instead of tfjs's chain of moments and
 * FusedBatchNorm gradients.
 *
 * In training mode TF.js normalizes with the batch's moments and lets the
 * tape differentiate through them: the FusedBatchNorm gradient tiles 1/σ
 * to the full activation shape with the JS Tile kernel, and the moments add
 * a dozen more passes. On an xresnet18 step that was half the time. Here
 * the forward pass is the same arithmetic (batch mean, biased variance,
 * y = γ·(x − μ)/√(σ² + ε) + β) in ops every backend runs natively, and the
 * gradient is
 *
 *   dβ = Σ dy,  dγ = Σ dy·x̂,  dx = γ/√(σ² + ε) · (dy − dβ/N − x̂·dγ/N)
 *
 * (sums over every axis but the channels; N values per channel). The moving
 * mean and variance are updated exactly as TF.js does:
 * moving ← moving − (moving − batch)·(1 − momentum). Inference mode (and a
 * frozen layer, see src/transfer/batch-norm.ts) keeps tfjs's own path. The
 * layer keeps its class, config and weights, so models save and load as
 * before. CONVKIT_FUSED_BN=0 keeps tfjs's path in training too.
 */
import * as tf from '@tensorflow/tfjs';
import { nativeBatchNormTraining } from './batch-norm-native.js';

interface BatchNormLike {
  axis: number;
  momentum: number;
  epsilon: number;
  center: boolean;
  scale: boolean;
  gamma: tf.LayerVariable;
  beta: tf.LayerVariable;
  movingMean: tf.LayerVariable;
  movingVariance: tf.LayerVariable;
  call(inputs: tf.Tensor | tf.Tensor[], kwargs: tf.serialization.ConfigDict): tf.Tensor | tf.Tensor[];
}

let installed = false;

export function installBatchNormTraining(): void {
  if (installed || process.env.CONVKIT_FUSED_BN === '0') return;
  const entry = tf.serialization.SerializationMap.getMap().classNameMap.BatchNormalization as unknown as [{ prototype: BatchNormLike }, unknown] | undefined;
  if (!entry) return; // another tfjs-layers: keep its own
  const proto = entry[0].prototype;
  const shippedCall = proto.call;
  proto.call = function (this: BatchNormLike, inputs, kwargs) {
    const x = Array.isArray(inputs) ? (inputs.length === 1 ? inputs[0] : null) : inputs;
    const fusable =
      kwargs.training === true &&
      x != null &&
      x.rank >= 2 &&
      x.dtype === 'float32' &&
      this.center &&
      this.scale &&
      (this.axis === -1 || this.axis === x.rank - 1);
    if (!fusable) return shippedCall.call(this, inputs, kwargs);
    return tf.tidy(() => {
      const { y, mean, variance } = batchNormTraining(x, this.gamma.read() as tf.Tensor1D, this.beta.read() as tf.Tensor1D, this.epsilon);
      for (const [moving, batch] of [
        [this.movingMean, mean],
        [this.movingVariance, variance],
      ] as const) {
        const value = moving.read();
        moving.write(tf.sub(value, tf.mul(tf.sub(value, batch), 1 - this.momentum)));
        batch.dispose();
      }
      return y;
    });
  };
  installed = true;
}

/**
 * Batch normalization in training mode over every axis of `x` but the last:
 * the output (differentiable in x, γ and β) and the batch's mean and biased
 * variance (constants, for the moving averages; the caller disposes them).
 */
function batchNormTraining(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, epsilon: number): { y: tf.Tensor; mean: tf.Tensor1D; variance: tf.Tensor1D } {
  // The native backend runs each direction as one kernel (./batch-norm-native.ts).
  const native = nativeBatchNormTraining(x, gamma, beta, epsilon);
  if (native) return native;
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const n = x.size / x.shape[x.rank - 1]!;
  let mean: tf.Tensor1D | undefined, variance: tf.Tensor1D | undefined;
  // y = (x − μ)·a + β with a = γ/√(σ² + ε), and dx = dy·a − (x − μ)·k − c with per-channel k and c: each
  // full-size pass is a trip through memory (6 forward, 8 backward), and x − μ is never lost to cancellation
  // when |μ| ≫ σ. The forward function runs off the tape: only the closed-form gradient is recorded.
  const forward = (xs: tf.Tensor, gs: tf.Tensor1D, bs: tf.Tensor1D, save: tf.GradSaveFunc) => {
    // Kept: the engine runs this function in a tidy of its own.
    mean = tf.keep(tf.mean(xs, axes) as tf.Tensor1D);
    variance = tf.keep(tf.mean(tf.squaredDifference(xs, mean), axes) as tf.Tensor1D);
    const rstd = tf.rsqrt(tf.add(variance, epsilon));
    const a = tf.mul(gs, rstd);
    save([xs, mean, rstd, a]);
    return {
      value: tf.add(tf.mul(tf.sub(xs, mean), a), bs),
      gradFunc: (dyT: tf.Tensor, saved: tf.Tensor[]) => {
        const [xv, mu, r, scale] = saved as [tf.Tensor, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
        const dBeta = tf.sum(dyT, axes);
        const centered = tf.sub(xv, mu);
        const dGamma = tf.mul(tf.sum(tf.mul(dyT, centered), axes), r);
        // dx = a·(dy − dβ/N − x̂·dγ/N) = dy·a − (x − μ)·k − a·dβ/N, k = a·dγ/(σN)
        const k = tf.div(tf.mul(tf.mul(scale, dGamma), r), n);
        const dx = tf.sub(tf.sub(tf.mul(dyT, scale), tf.mul(centered, k)), tf.div(tf.mul(scale, dBeta), n));
        return [dx, dGamma, dBeta];
      },
    };
  };
  const y = tf.customGrad(forward as unknown as Parameters<typeof tf.customGrad>[0])(x, gamma, beta);
  return { y, mean: mean!, variance: variance! };
}
