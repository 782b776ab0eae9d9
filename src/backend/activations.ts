/**
 * Faster ReLU-family activations, the same models.
 *
 * TF.js layers compute the 'relu6' activation as minimum(6, relu(x)): two
 * passes over every activation, and a scalar-broadcast Minimum that no
 * backend fuses. MobileNet v1 and v2 apply it after every convolution, where
 * it took a third of the forward time. This swaps in the single Relu6
 * kernel under the same class name, so models still save as 'relu6' and
 * load in plain TF.js.
 *
 * Gradients: tfjs-core's relu6 gradient, dy · (x ≤ 6) · step(x), goes
 * through a boolean comparison and a bool × float product that only the JS
 * kernels take (2.5 of the 3.3 s of a MobileNet training step); its relu
 * gradient, dy · step(x), is two passes over each activation. On the native
 * backend each is one pass of a kernel of its own; elsewhere relu keeps
 * tfjs's gradient and relu6 gets dy · step(x) · step(6 − x), float32
 * throughout. The relu6 gradient is TensorFlow's, dy · (0 < x < 6): 0 at
 * exactly 6, where tfjs says 1.
 */
import * as tf from '@tensorflow/tfjs';
import { RELU_GRAD, RELU6_GRAD } from './native-kernels.js';

interface ActivationLike {
  apply(x: tf.Tensor): tf.Tensor;
  getConfig(): tf.serialization.ConfigDict;
}
type ActivationClass = new () => ActivationLike;

let installed = false;

export function installActivations(): void {
  if (installed) return;
  const entry = tf.serialization.SerializationMap.getMap().classNameMap.relu6 as unknown as [ActivationClass, unknown] | undefined;
  if (!entry) return; // another tfjs-layers: keep its own
  const Shipped = entry[0];
  class Relu6 extends Shipped {
    static className = 'relu6';
    override apply(x: tf.Tensor): tf.Tensor {
      return tf.relu6(x);
    }
  }
  tf.serialization.registerClass(Relu6 as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);
  for (const [kernelName, grad] of [
    ['Relu6', relu6Grad],
    ['Relu', reluGrad],
  ] as const) {
    tf.registerGradient({ kernelName, inputsToSave: ['x'], gradFunc: (dy, [x]) => ({ x: () => grad(dy as tf.Tensor, x) }) });
  }
  installed = true;
}

/** relu's gradient, dy · step(x): one pass of the native kernel where the backend has it. */
export function reluGrad(dy: tf.Tensor, x: tf.Tensor): tf.Tensor {
  if (tf.getKernel(RELU_GRAD, tf.getBackend())) return tf.engine().runKernel(RELU_GRAD, { dy, x }) as tf.Tensor;
  return tf.mul(dy, tf.cast(tf.step(x), 'float32'));
}

/** relu6's gradient, dy · (0 < x < 6), TensorFlow's: one pass of the native kernel where the backend has it. */
export function relu6Grad(dy: tf.Tensor, x: tf.Tensor): tf.Tensor {
  if (tf.getKernel(RELU6_GRAD, tf.getBackend())) return tf.engine().runKernel(RELU6_GRAD, { dy, x }) as tf.Tensor;
  return tf.mul(dy, tf.mul(tf.step(x), tf.step(tf.sub(6, x))));
}
