/**
 * Conv2D layers with a relu activation train through one fused kernel.
 *
 * tfjs-core fuses conv + bias + relu only outside gradient recording
 * (`shouldFuse`), so under `fit` every such layer runs Conv2D, a broadcast
 * Add and a Relu: two extra passes over its output, which for the small
 * CNN's first block (20×148×148×32 floats) cost as much as a convolution.
 * This runs FusedConv2D in training too, with the gradient tfjs-core itself
 * defines for its fused op (dy · step(y), then the two convolution
 * gradients and the bias sum); step(y) equals step(x) since y = relu(x).
 * The layer keeps its class, config and weights, so models save and load
 * exactly as before. CONVKIT_FUSED_CONV=0 keeps tfjs's unfused path.
 */
import * as tf from '@tensorflow/tfjs';
import { reluGrad } from './activations.js';

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
    const fusable = x != null && x.rank === 4 && x.dtype === 'float32' && this.rank === 2 && this.dataFormat === 'channelsLast'
      && this.activation?.getClassName() === 'relu' && this.bias != null && this.kernel != null && dilations.every((d) => d === 1);
    if (!fusable) return shippedCall.call(this, inputs, kwargs);
    return tf.tidy(() => convBiasRelu(x as tf.Tensor4D, this.kernel!.read() as tf.Tensor4D, this.bias!.read() as tf.Tensor1D,
      this.strides as [number, number], this.padding));
  };
  installed = true;
}

/** relu(conv2d(x, filter) + bias) in one kernel, differentiable in x, filter and bias. */
export function convBiasRelu(x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D, strides: [number, number], pad: 'valid' | 'same'): tf.Tensor4D {
  const convAttrs = { strides, pad, dataFormat: 'NHWC', dimRoundingMode: undefined };
  const op = tf.customGrad((...args: unknown[]) => {
    const [xs, f, b, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.Tensor1D, (t: tf.Tensor[]) => void];
    const y = tf.engine().runKernel('FusedConv2D', { x: xs, filter: f, bias: b },
      { ...convAttrs, dilations: [1, 1], activation: 'relu' } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
    save([xs, f, y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [sx, sf, sy] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
        const g = dy as tf.Tensor4D;
        const dz = reluGrad(g, sy) as tf.Tensor4D;
        const dx = tf.engine().runKernel('Conv2DBackpropInput', { dy: dz, filter: sf },
          { ...convAttrs, inputShape: sx.shape } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
        const df = tf.engine().runKernel('Conv2DBackpropFilter', { x: sx, dy: dz },
          { ...convAttrs, filterShape: sf.shape } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
        return [dx, df, tf.sum(dz, [0, 1, 2])];
      },
    };
  });
  return op(x, filter, bias) as tf.Tensor4D;
}
