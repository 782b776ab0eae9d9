/**
 * Loss and accuracy by class mode, as Keras picks them: binary labels with a
 * sigmoid unit → binaryCrossentropy; one-hot labels → categoricalCrossentropy;
 * integer labels → sparseCategoricalCrossentropy. Models output probabilities.
 */
import * as tf from '@tensorflow/tfjs';
import { ConvkitError } from '../util/errors.js';

export type LabelMode = 'binary' | 'categorical' | 'sparse';

/** Units of the model's (single) output. */
export function outputUnits(model: tf.LayersModel): number {
  const shape = model.outputs[0]!.shape;
  return shape[shape.length - 1] ?? 1;
}

/** The class mode implied by the model's head and a label tensor's shape. */
export function inferClassMode(model: tf.LayersModel, y?: tf.Tensor, declared?: string | null): LabelMode {
  if (declared === 'binary' || declared === 'categorical' || declared === 'sparse') return declared;
  const units = outputUnits(model);
  if (units === 1) return 'binary';
  if (y && y.rank >= 2 && y.shape[y.rank - 1] === units) return 'categorical';
  return 'sparse';
}

/** Labels as the loss wants them: float [b, 1] for binary, float [b, n] one-hot, or int [b] indices. */
export function prepareLabels(y: tf.Tensor, mode: LabelMode, units: number): tf.Tensor {
  return tf.tidy(() => {
    switch (mode) {
      case 'binary':
        return y.reshape([-1, 1]).toFloat();
      case 'categorical':
        if (y.rank !== 2 || y.shape[1] !== units)
          throw new ConvkitError(
            `one-hot labels have shape [${y.shape}], the model has ${units} outputs`,
            'use classMode "sparse" for integer labels, or match the class count',
          );
        return y.toFloat();
      case 'sparse':
        return y.reshape([-1]).toInt();
    }
  });
}

/**
 * Mean loss over the batch; `labelSmoothing` ε mixes targets with the
 * uniform distribution. With `classWeights` (Keras's class_weight), each
 * sample's loss is multiplied by its true class's weight and the sum divided
 * by the batch size (Keras's sum_over_batch_size reduction).
 */
export function computeLoss(yTrue: tf.Tensor, yPred: tf.Tensor, mode: LabelMode, labelSmoothing = 0, classWeights?: readonly number[]): tf.Scalar {
  return tf.tidy(() => {
    const units = yPred.shape[yPred.rank - 1] ?? 1;
    let perSample: tf.Tensor;
    if (mode === 'binary') {
      const t = labelSmoothing > 0 ? yTrue.mul(1 - labelSmoothing).add(labelSmoothing / 2) : yTrue;
      perSample = tf.metrics.binaryCrossentropy(t, yPred);
    } else {
      // Sparse labels are one-hot encoded here: same value as Keras's sparse loss.
      let t = mode === 'sparse' ? tf.oneHot(yTrue.reshape([-1]).toInt() as tf.Tensor1D, units).toFloat() : yTrue;
      if (labelSmoothing > 0) t = t.mul(1 - labelSmoothing).add(labelSmoothing / units);
      perSample = tf.metrics.categoricalCrossentropy(t, yPred);
    }
    if (!classWeights) return tf.mean(perSample) as tf.Scalar;
    const weights = tf.gather(tf.tensor1d([...classWeights], 'float32'), trueClasses(yTrue, mode));
    return tf.mean(tf.mul(perSample.reshape([-1]), weights)) as tf.Scalar;
  });
}

/** Predicted class index per sample. */
function predictedClasses(yPred: tf.Tensor, mode: LabelMode): tf.Tensor1D {
  return tf.tidy(() => (mode === 'binary' ? yPred.reshape([-1]).greater(0.5).toInt() : yPred.argMax(-1).toInt()) as tf.Tensor1D);
}

/** True class index per sample. */
export function trueClasses(yTrue: tf.Tensor, mode: LabelMode): tf.Tensor1D {
  return tf.tidy(() => {
    if (mode === 'binary') return yTrue.reshape([-1]).greater(0.5).toInt() as tf.Tensor1D;
    if (mode === 'categorical') return yTrue.argMax(-1).toInt() as tf.Tensor1D;
    return yTrue.reshape([-1]).toInt() as tf.Tensor1D;
  });
}

/** Number of correctly classified samples, as a scalar. */
export function countCorrect(yTrue: tf.Tensor, yPred: tf.Tensor, mode: LabelMode): tf.Scalar {
  return tf.tidy(() => tf.sum(tf.equal(predictedClasses(yPred, mode), trueClasses(yTrue, mode)).toFloat()) as tf.Scalar);
}

/** Class probabilities [b, n] from a model's output ([b, 1] sigmoid → [1 − p, p]). */
export function classProbabilities(yPred: tf.Tensor): tf.Tensor2D {
  return tf.tidy(() => {
    const p = yPred.reshape([yPred.shape[0]!, -1]) as tf.Tensor2D;
    return p.shape[1] === 1 ? tf.concat([tf.sub(1, p) as tf.Tensor2D, p], 1) : p;
  });
}
