/**
 * Conv2D layers with a relu activation train through one fused kernel.
 *
 * tfjs-core fuses conv + bias + relu only outside gradient recording
 * (`shouldFuse`), so under `fit` every such layer runs Conv2D, a broadcast
 * Add and a Relu: two extra passes over its output, which for the small
 * CNN's first block (20×148×148×32 floats) cost as much as a convolution.
 * This runs FusedConv2D in training too, with the gradient tfjs-core gives
 * its fused op (dy · step(y), then the two convolution gradients and the
 * bias sum) registered for the kernel, so only the gradients in use run.
 * The layer keeps its class, config and weights, so models save and load
 * exactly as before. CONVKIT_FUSED_CONV=0 keeps tfjs's unfused path.
 */
import * as tf from '@tensorflow/tfjs';
import { reluGrad } from './activations.js';
import { MAX_POOL_RELU_GRAD } from './native-kernels.js';

interface ConvLayerLike {
  rank: number;
  dataFormat: string;
  padding: 'valid' | 'same';
  strides: number[];
  dilationRate: number | number[];
  activation: { getClassName(): string } | null;
  kernel: { read(): tf.Tensor } | null;
  bias: { read(): tf.Tensor } | null;
  call(inputs: tf.Tensor | tf.Tensor[], kwargs: tf.serialization.ConfigDict): tf.Tensor | tf.Tensor[];
}

let installed = false;

export function installFusedConv(): void {
  if (installed || process.env.CONVKIT_FUSED_CONV === '0') return;
  const entry = tf.serialization.SerializationMap.getMap().classNameMap.Conv2D as unknown as [{ prototype: ConvLayerLike }, unknown] | undefined;
  if (!entry) return; // another tfjs-layers: keep its own
  const proto = entry[0].prototype;
  const shippedCall = proto.call;
  proto.call = function (this: ConvLayerLike, inputs, kwargs) {
    const x = Array.isArray(inputs) ? (inputs.length === 1 ? inputs[0] : null) : inputs;
    const dilations = typeof this.dilationRate === 'number' ? [this.dilationRate, this.dilationRate] : this.dilationRate;
    const fusable =
      x != null &&
      x.rank === 4 &&
      x.dtype === 'float32' &&
      this.rank === 2 &&
      this.dataFormat === 'channelsLast' &&
      this.activation?.getClassName() === 'relu' &&
      this.bias != null &&
      this.kernel != null &&
      dilations.every((d) => d === 1);
    if (!fusable) return shippedCall.call(this, inputs, kwargs);
    return tf.tidy(() =>
      convBiasRelu(x as tf.Tensor4D, this.kernel!.read() as tf.Tensor4D, this.bias!.read() as tf.Tensor1D, this.strides as [number, number], this.padding),
    );
  };
  installed = true;
}

/** relu(conv2d(x, filter) + bias) in one kernel, differentiable in x, filter and bias. */
export function convBiasRelu(x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D, strides: [number, number], pad: 'valid' | 'same'): tf.Tensor4D {
  registerGradients();
  const y = tf.engine().runKernel('FusedConv2D', { x, filter, bias }, {
    strides,
    pad,
    dataFormat: 'NHWC',
    dilations: [1, 1],
    dimRoundingMode: undefined,
    activation: 'relu',
  } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
  reluOutputs.add(y.dataId);
  return y;
}

/*
 * Max pooling right after a relu convolution (every block of VGG16 and of
 * the book's convnet) trains with one pass less. Its gradient is nonzero
 * only at each window's maximum, and the convolution's gradient then
 * multiplies by step(y): the pool's gradient kernel can apply that step
 * while it scatters (the maximum is right there), and the convolution skips
 * its own pass over the largest activation of the net. The pool's input
 * gradient then is no longer the true one (a window of zeros passes
 * nothing back), so this is done only while an optimizer takes gradients:
 * then only the weights' gradients leave the tape, and each is exact.
 * Tensors are known by their data, which clones and reshapes share.
 */
const reluOutputs = new WeakSet<object>();
const stepApplied = new WeakSet<object>();
let weightGradientsOnly = 0;

let gradientsRegistered = false;

function registerGradients(): void {
  if (gradientsRegistered) return;
  registerFusedConvGradient();
  registerMaxPoolGradient();
  const proto = tf.Optimizer.prototype as unknown as { computeGradients: (...args: unknown[]) => unknown };
  const shipped = proto.computeGradients;
  proto.computeGradients = function (this: unknown, ...args: unknown[]) {
    weightGradientsOnly++;
    try {
      return shipped.apply(this, args);
    } finally {
      weightGradientsOnly--;
    }
  };
  gradientsRegistered = true;
}

/** tfjs-core's MaxPool gradient, with the relu step folded in where that is exact (see above). */
function registerMaxPoolGradient(): void {
  tf.registerGradient({
    kernelName: 'MaxPool',
    inputsToSave: ['x'],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [x, y] = saved as [tf.Tensor4D, tf.Tensor4D];
      const poolAttrs = attrs as tf.NamedAttrMap; // MaxPool's attributes are MaxPoolGrad's
      return {
        x: () => {
          const inputs = { dy: dy as tf.Tensor4D, input: x, output: y };
          if (weightGradientsOnly > 0 && reluOutputs.has(x.dataId) && tf.getKernel(MAX_POOL_RELU_GRAD, tf.getBackend())) {
            const g = tf.engine().runKernel(MAX_POOL_RELU_GRAD, inputs, poolAttrs) as tf.Tensor4D;
            stepApplied.add(g.dataId);
            return g;
          }
          return tf.engine().runKernel('MaxPoolGrad', inputs, poolAttrs) as tf.Tensor4D;
        },
      };
    },
  });
}

/**
 * FusedConv2D's gradient as a registered kernel gradient rather than a
 * customGrad: the engine then asks only for the gradients it needs, so the
 * first layer skips its input gradient (on the small CNN, the costliest
 * single kernel of a step: a 3-channel Conv2DBackpropInput over
 * 20×150×150). tfjs-core registers none for this kernel; its own fused ops
 * wrap it in customGrad, which never consults this one.
 */
function registerFusedConvGradient(): void {
  tf.registerGradient({
    kernelName: 'FusedConv2D',
    inputsToSave: ['x', 'filter'],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter, y] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
      const a = attrs as unknown as { strides: [number, number]; pad: 'valid' | 'same'; activation: string; dilations: number[] | number };
      const dilations = typeof a.dilations === 'number' ? [a.dilations, a.dilations] : a.dilations;
      // Only convBiasRelu records this kernel on a tape (tfjs's fused ops use customGrad).
      if (a.activation !== 'relu' || dilations.some((d) => d !== 1)) {
        throw new Error(`FusedConv2D gradient: activation ${a.activation} with dilations ${dilations} is not supported; use tf.fused.conv2d`);
      }
      // step(y) equals step(x·w + b) since y = relu(x·w + b). dz serves all three gradients, so it is made
      // here, outside the per-input scopes the engine disposes after each one.
      const dz = (stepApplied.has((dy as tf.Tensor).dataId) ? dy : reluGrad(dy as tf.Tensor, y)) as tf.Tensor4D;
      const convAttrs = { strides: a.strides, pad: a.pad, dataFormat: 'NHWC', dimRoundingMode: undefined };
      return {
        x: () =>
          tf.engine().runKernel('Conv2DBackpropInput', { dy: dz, filter }, { ...convAttrs, inputShape: x.shape } as unknown as tf.NamedAttrMap) as tf.Tensor4D,
        filter: () =>
          tf
            .engine()
            .runKernel('Conv2DBackpropFilter', { x, dy: dz }, { ...convAttrs, filterShape: filter.shape } as unknown as tf.NamedAttrMap) as tf.Tensor4D,
        bias: () => tf.sum(dz, [0, 1, 2]),
      };
    },
  });
}
