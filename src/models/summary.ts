/**
 * A text summary of a model in the layout of Keras's model.summary():
 * layer (type), output shape and parameter count, then totals.
 */
import type * as tf from '@tensorflow/tfjs';

function shapeText(shape: tf.Shape | tf.Shape[]): string {
  const one = (s: tf.Shape) => `(${s.map((d) => (d == null ? 'None' : String(d))).join(', ')}${s.length === 1 ? ',' : ''})`;
  return Array.isArray(shape[0]) || (shape.length > 0 && shape[0] !== null && typeof shape[0] === 'object')
    ? (shape as tf.Shape[]).map(one).join(', ')
    : one(shape as tf.Shape);
}

const fmt = (n: number) => n.toLocaleString('en-US');

function countWeights(weights: { shape: tf.Shape }[]): number {
  return weights.reduce((sum, w) => sum + w.shape.reduce<number>((p, d) => p * (d ?? 1), 1), 0);
}

export interface ParamCounts {
  total: number;
  trainable: number;
  nonTrainable: number;
}

export function paramCounts(model: tf.LayersModel): ParamCounts {
  const trainable = countWeights(model.trainableWeights);
  const nonTrainable = countWeights(model.nonTrainableWeights);
  return { total: trainable + nonTrainable, trainable, nonTrainable };
}

/** Returns the summary as one string (print it with console.log). */
export function summary(model: tf.LayersModel): string {
  const rows = model.layers.map((layer) => {
    let shape: string;
    try {
      shape = shapeText(layer.outputShape as tf.Shape | tf.Shape[]);
    } catch {
      shape = 'multiple';
    }
    return [`${layer.name} (${layer.getClassName()})`, shape, fmt(layer.countParams())] as const;
  });
  const header = ['Layer (type)', 'Output Shape', 'Param #'] as const;
  const w0 = Math.max(28, header[0].length, ...rows.map((r) => r[0].length)) + 2;
  const w1 = Math.max(25, ...rows.map((r) => r[1].length)) + 2;
  const w2 = Math.max(10, ...rows.map((r) => r[2].length));
  const width = 1 + w0 + w1 + w2;
  const line = (r: readonly [string, string, string]) => ` ${r[0].padEnd(w0)}${r[1].padEnd(w1)}${r[2]}`.trimEnd();
  const lines = [`Model: "${model.name}"`, '_'.repeat(width), line(header), '='.repeat(width)];
  rows.forEach((r, i) => {
    lines.push(line(r));
    if (i < rows.length - 1) lines.push('');
  });
  const counts = paramCounts(model);
  lines.push(
    '='.repeat(width),
    `Total params: ${fmt(counts.total)}`,
    `Trainable params: ${fmt(counts.trainable)}`,
    `Non-trainable params: ${fmt(counts.nonTrainable)}`,
    '_'.repeat(width),
  );
  return lines.join('\n');
}
