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
 *
 * A ReLU that alone reads a BatchNormalization's output (mini-Xception's and
 * xresnet's BN → ReLU) runs inside the BN kernels while a model trains
 * (fuseBatchNormRelu, called by fit): the forward kernel writes max(y, 0),
 * the gradient kernel gates dy by y > 0, and the Activation layer passes the
 * tensor on. That saves two passes over the activations each way.
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

interface ActivationLike {
  activation?: { getClassName(): string };
  call(inputs: tf.Tensor | tf.Tensor[], kwargs: tf.serialization.ConfigDict): tf.Tensor | tf.Tensor[];
}

/** BatchNormalization layers of models in training whose output only a ReLU layer reads (a count: fits may nest). */
const reluAfter = new WeakMap<object, number>();
/** Outputs of BN layers that already applied the ReLU after them. */
const reluApplied = new WeakSet<tf.Tensor>();

const isRelu = (layer: tf.layers.Layer): boolean =>
  layer.getClassName() === 'Activation' && (layer as unknown as ActivationLike).activation?.getClassName() === 'relu';

/**
 * Lets each BatchNormalization layer of `model` (and of models nested in it)
 * whose output is read by one ReLU layer alone, and is not an output of the
 * model, apply that ReLU itself while training. Returns the undo.
 */
export function fuseBatchNormRelu(model: tf.LayersModel): () => void {
  const marked: tf.layers.Layer[] = [];
  const visit = (m: tf.LayersModel) => {
    const inModel = new Set<tf.layers.Layer>(m.layers);
    const outputs = new Set<tf.layers.Layer>(m.outputLayers);
    for (const layer of m.layers) {
      if (layer instanceof tf.LayersModel) visit(layer);
      if (layer.getClassName() !== 'BatchNormalization' || outputs.has(layer)) continue;
      const readers = layer.outboundNodes.filter((n) => inModel.has(n.outboundLayer));
      if (readers.length !== 1 || !isRelu(readers[0]!.outboundLayer)) continue;
      reluAfter.set(layer, (reluAfter.get(layer) ?? 0) + 1);
      marked.push(layer);
    }
  };
  visit(model);
  return () => {
    for (const layer of marked) {
      const n = reluAfter.get(layer)! - 1;
      if (n > 0) reluAfter.set(layer, n);
      else reluAfter.delete(layer);
    }
  };
}

let installed = false;

export function installBatchNormTraining(): void {
  if (installed || process.env.CONVKIT_FUSED_BN === '0') return;
  const classes = tf.serialization.SerializationMap.getMap().classNameMap;
  const entry = classes.BatchNormalization as unknown as [{ prototype: BatchNormLike }, unknown] | undefined;
  const activation = classes.Activation as unknown as [{ prototype: ActivationLike }, unknown] | undefined;
  if (!entry || !activation) return; // another tfjs-layers: keep its own
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
    const relu = reluAfter.has(this);
    const out = tf.tidy(() => {
      const { y, mean, variance } = batchNormTraining(x, this.gamma.read() as tf.Tensor1D, this.beta.read() as tf.Tensor1D, this.epsilon, relu);
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
    if (relu) reluApplied.add(out);
    return out;
  };
  const shippedActivation = activation[0].prototype.call;
  activation[0].prototype.call = function (this: ActivationLike, inputs, kwargs) {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    // A clone (the same data, counted twice): the model's executor disposes the BN output and this one apart.
    if (x && reluApplied.has(x) && this.activation?.getClassName() === 'relu') return tf.clone(x);
    return shippedActivation.call(this, inputs, kwargs);
  };
  installed = true;
}

/**
 * Batch normalization in training mode over every axis of `x` but the last:
 * the output (differentiable in x, γ and β; with `relu`, max(y, 0)) and the
 * batch's mean and biased variance (constants, for the moving averages; the
 * caller disposes them).
 */
function batchNormTraining(
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
  relu: boolean,
): { y: tf.Tensor; mean: tf.Tensor1D; variance: tf.Tensor1D } {
  // The native backend runs each direction as one kernel (./batch-norm-native.ts).
  const native = nativeBatchNormTraining(x, gamma, beta, epsilon, relu);
  if (native) return native;
  const composed = composedBatchNormTraining(x, gamma, beta, epsilon);
  return relu ? { ...composed, y: tf.relu(composed.y) } : composed;
}

function composedBatchNormTraining(
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
): { y: tf.Tensor; mean: tf.Tensor1D; variance: tf.Tensor1D } {
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
