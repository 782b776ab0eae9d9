/**
 * Conv2D and DepthwiseConv2D layers train through one fused kernel.
 *
 * tfjs-core fuses conv + bias + relu only outside gradient recording
 * (`shouldFuse`), so under `fit` every such layer runs Conv2D, a broadcast
 * Add and a Relu: two extra passes over its output, which for the small
 * CNN's first block (20×148×148×32 floats) cost as much as a convolution.
 * DepthwiseConv2D layers always run depthwise conv, bias add and activation
 * apart, and relu6 (every MobileNet convolution) is never fused. This runs
 * FusedConv2D / FusedDepthwiseConv2D in training too, for relu, relu6 and
 * linear layers, with their gradient (dy times the activation's derivative
 * at the output, then the two convolution gradients and the bias sum)
 * registered for the kernel, so only the gradients in use run: a linear
 * convolution no longer goes through tfjs's customGrad, which computes the
 * gradient of its input even when that is the images (mini-Xception's 5×5
 * stem). The layer keeps its class, config and weights, so models save and
 * load exactly as before. CONVKIT_FUSED_CONV=0 keeps tfjs's unfused path.
 */
import * as tf from '@tensorflow/tfjs';
import { relu6Grad, reluGrad } from './activations.js';
import { MAX_POOL_RELU_GRAD } from './native-kernels.js';

/** Activations fused into the convolution, by the class name of the layer's activation. */
type FusedActivation = 'relu' | 'relu6' | 'linear';
const FUSED_ACTIVATIONS: readonly string[] = ['relu', 'relu6', 'linear'] satisfies FusedActivation[];

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

interface DepthwiseLayerLike extends Omit<ConvLayerLike, 'kernel'> {
  depthwiseKernel: { read(): tf.Tensor } | null;
  useBias: boolean;
}

let installed = false;

export function installFusedConv(): void {
  if (installed || process.env.CONVKIT_FUSED_CONV === '0') return;
  const classes = tf.serialization.SerializationMap.getMap().classNameMap;
  const conv = classes.Conv2D as unknown as [{ prototype: ConvLayerLike }, unknown] | undefined;
  const depthwise = classes.DepthwiseConv2D as unknown as [{ prototype: DepthwiseLayerLike }, unknown] | undefined;
  if (!conv || !depthwise) return; // another tfjs-layers: keep its own
  const convCall = conv[0].prototype.call;
  conv[0].prototype.call = function (this: ConvLayerLike, inputs, kwargs) {
    const x = fusableInput(this, inputs);
    const dilations = typeof this.dilationRate === 'number' ? [this.dilationRate, this.dilationRate] : this.dilationRate;
    if (!x || this.rank !== 2 || this.kernel == null || dilations.some((d) => d !== 1)) return convCall.call(this, inputs, kwargs);
    const act = this.activation!.getClassName() as FusedActivation;
    return tf.tidy(() =>
      fusedConv(
        x,
        this.kernel!.read() as tf.Tensor4D,
        this.bias?.read() as tf.Tensor1D | undefined,
        this.strides as [number, number],
        this.padding,
        act,
        false,
      ),
    );
  };
  const depthwiseCall = depthwise[0].prototype.call;
  depthwise[0].prototype.call = function (this: DepthwiseLayerLike, inputs, kwargs) {
    const x = fusableInput(this, inputs);
    if (!x || this.depthwiseKernel == null) return depthwiseCall.call(this, inputs, kwargs);
    const act = this.activation!.getClassName() as FusedActivation;
    const bias = this.useBias ? (this.bias?.read() as tf.Tensor1D | undefined) : undefined;
    // tfjs-layers runs depthwise layers without dilation whatever their config says; so does this.
    return tf.tidy(() => fusedConv(x, this.depthwiseKernel!.read() as tf.Tensor4D, bias, this.strides as [number, number], this.padding, act, true));
  };
  installed = true;
}

/** The layer's one 4-D float32 NHWC input when its activation can be fused, else null. */
function fusableInput(layer: Pick<ConvLayerLike, 'dataFormat' | 'activation'>, inputs: tf.Tensor | tf.Tensor[]): tf.Tensor4D | null {
  const x = Array.isArray(inputs) ? (inputs.length === 1 ? inputs[0]! : null) : inputs;
  const act = layer.activation?.getClassName();
  const ok = x != null && x.rank === 4 && x.dtype === 'float32' && layer.dataFormat === 'channelsLast' && act !== undefined && FUSED_ACTIVATIONS.includes(act);
  return ok ? (x as tf.Tensor4D) : null;
}

/** relu(conv2d(x, filter) + bias) in one kernel, differentiable in x, filter and bias. */
export function convBiasRelu(x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D, strides: [number, number], pad: 'valid' | 'same'): tf.Tensor4D {
  return fusedConv(x, filter, bias, strides, pad, 'relu', false);
}

/**
 * activation(conv(x, filter) + bias) in one kernel, plain or depthwise,
 * bias optional, differentiable in each input.
 */
function fusedConv(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  bias: tf.Tensor1D | undefined,
  strides: [number, number],
  pad: 'valid' | 'same',
  activation: FusedActivation,
  depthwise: boolean,
): tf.Tensor4D {
  registerGradients();
  const inputs: tf.NamedTensorMap = bias ? { x, filter, bias } : { x, filter };
  const y = tf.engine().runKernel(depthwise ? 'FusedDepthwiseConv2D' : 'FusedConv2D', inputs, {
    strides,
    pad,
    dataFormat: 'NHWC',
    dilations: [1, 1],
    dimRoundingMode: undefined,
    activation,
  } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
  if (activation === 'relu') reluOutputs.add(y.dataId);
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
  registerFusedConvGradient('FusedConv2D', false);
  registerFusedConvGradient('FusedDepthwiseConv2D', true);
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
 * The fused convolutions' gradient as a registered kernel gradient rather
 * than a customGrad: the engine then asks only for the gradients it needs,
 * so the first layer skips its input gradient (on the small CNN, the
 * costliest single kernel of a step: a 3-channel Conv2DBackpropInput over
 * 20×150×150). tfjs-core registers none for these kernels; its own fused
 * ops wrap them in customGrad, which never consults this one.
 */
function registerFusedConvGradient(kernelName: 'FusedConv2D' | 'FusedDepthwiseConv2D', depthwise: boolean): void {
  tf.registerGradient({
    kernelName,
    inputsToSave: ['x', 'filter'],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter, y] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
      const a = attrs as unknown as { strides: [number, number]; pad: 'valid' | 'same'; activation: string; dilations: number[] | number };
      const dilations = typeof a.dilations === 'number' ? [a.dilations, a.dilations] : a.dilations;
      // Only fusedConv records these kernels on a tape (tfjs's fused ops use customGrad).
      if (!FUSED_ACTIVATIONS.includes(a.activation) || dilations.some((d) => d !== 1)) {
        throw new Error(
          `${kernelName} gradient: activation ${a.activation} with dilations ${dilations} is not supported; use tf.fused.${depthwise ? 'depthwiseConv2d' : 'conv2d'}`,
        );
      }
      // The activation's derivative at the output equals its derivative at the input: y > 0 ⇔ z > 0, and
      // 0 < y < 6 ⇔ 0 < z < 6 for y = relu6(z). dz serves all three gradients, so it is made here, outside the
      // per-input scopes the engine disposes after each one.
      const g = dy as tf.Tensor4D;
      let dz = g;
      if (a.activation === 'relu' && !stepApplied.has(g.dataId)) dz = reluGrad(g, y) as tf.Tensor4D;
      else if (a.activation === 'relu6') dz = relu6Grad(g, y) as tf.Tensor4D;
      const convAttrs = { strides: a.strides, pad: a.pad, dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode: undefined };
      const [inputKernel, filterKernel] = depthwise
        ? ['DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter']
        : ['Conv2DBackpropInput', 'Conv2DBackpropFilter'];
      return {
        x: () => tf.engine().runKernel(inputKernel, { dy: dz, filter }, { ...convAttrs, inputShape: x.shape } as unknown as tf.NamedAttrMap) as tf.Tensor4D,
        filter: () =>
          tf.engine().runKernel(filterKernel, { x, dy: dz }, { ...convAttrs, filterShape: filter.shape } as unknown as tf.NamedAttrMap) as tf.Tensor4D,
        bias: () => tf.sum(dz, [0, 1, 2]),
      };
    },
  });
}
