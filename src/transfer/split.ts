/**
 * Splitting a model at a layer into a prefix (inputs → that layer's output)
 * and a suffix (that output → the model's outputs). Both share the original
 * layers, hence its weights: training the suffix trains the model.
 */
import * as tf from '@tensorflow/tfjs';
import { ConvkitError } from '../util/errors.js';
import { graphOf, layerOutput, reapply } from './graph.js';

export interface SplitModel {
  prefix: tf.LayersModel;
  suffix: tf.LayersModel;
  /** The layer whose output joins them. */
  at: string;
}

/**
 * Splits `model` after layer `at`. Every path from the inputs to the outputs
 * must pass through `at` (true between blocks; a residual connection that
 * jumps over `at` makes the split impossible and is reported).
 */
export function splitModel(model: tf.LayersModel, at: string): SplitModel {
  const graph = graphOf(model);
  if (!graph.layers.some((l) => l.name === at)) {
    throw new ConvkitError(`cannot split model ${model.name} at "${at}": no such layer`, 'pick a layer name from the model summary');
  }
  const cut = layerOutput(model, at);
  const prefix = tf.model({ inputs: graph.inputs, outputs: cut, name: `${model.name}_prefix` });

  const input = tf.input({ shape: cut.shape.slice(1) as number[], dtype: cut.dtype, name: `${at}_features` });
  const mapped = new Map<number, tf.SymbolicTensor>([[cut.id, input]]);
  const reached = reapply(model, mapped, (layer) => {
    throw new ConvkitError(
      `cannot split model ${model.name} at "${at}": layer ${layer.name} also reads a tensor from before the split (a skip connection)`,
      'split at the end of a block, where no connection jumps over the split point',
    );
  });
  const outputs = reached.map((m, i) => {
    if (!m) {
      throw new ConvkitError(
        `cannot split model ${model.name} at "${at}": output ${graph.outputs[i]!.name} does not depend on it`,
        'split at a layer every output depends on',
      );
    }
    return m;
  });
  const suffix = tf.model({ inputs: input, outputs: outputs.length === 1 ? outputs[0]! : outputs, name: `${model.name}_suffix` });
  return { prefix, suffix, at };
}
