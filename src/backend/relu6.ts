/**
 * TF.js layers compute the 'relu6' activation as minimum(6, relu(x)): two
 * passes over every activation, and a scalar-broadcast Minimum that no
 * backend fuses. MobileNet v1 and v2 apply it after every convolution, where
 * it took a third of the forward time. This swaps in the single Relu6
 * kernel under the same class name, so models still save as 'relu6' and
 * load in plain TF.js. (The two differ only in the gradient at exactly 6.)
 */
import * as tf from '@tensorflow/tfjs';

interface ActivationLike {
  apply(x: tf.Tensor): tf.Tensor;
  getConfig(): tf.serialization.ConfigDict;
}
type ActivationClass = new () => ActivationLike;

let installed = false;

export function installRelu6(): void {
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
  installed = true;
}
