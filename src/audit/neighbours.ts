/**
 * Each image's nearest images by cosine similarity of the embeddings: one
 * matrix product per block of rows (the native backend's GEMM), so 13,000
 * images cost seconds, and memory stays at one block × n.
 */
import * as tf from '@tensorflow/tfjs';

export interface Neighbours {
  /** k nearest other images of each image: [n, k] indices and similarities, most similar first. */
  index: Int32Array;
  similarity: Float32Array;
  k: number;
}

/** The k most similar other images of every image (`embeddings`: [n, dim], rows of unit length). */
export async function nearestNeighbours(embeddings: Float32Array, dim: number, k: number, blockRows = 512): Promise<Neighbours> {
  const n = embeddings.length / dim;
  const kk = Math.min(k, Math.max(0, n - 1));
  const index = new Int32Array(n * kk);
  const similarity = new Float32Array(n * kk);
  const all = tf.tensor2d(embeddings, [n, dim]);
  try {
    for (let start = 0; start < n; start += blockRows) {
      const rows = Math.min(blockRows, n - start);
      const { values, indices } = tf.tidy(() => {
        const sims = tf.matMul(all.slice([start, 0], [rows, dim]), all, false, true);
        // The image itself is its own nearest neighbour: push it to the end.
        const self = tf.oneHot(tf.range(start, start + rows, 1, 'int32'), n).mul(-4);
        return tf.topk(sims.add(self), kk);
      });
      const [v, i] = [await values.data(), await indices.data()];
      similarity.set(v as Float32Array, start * kk);
      index.set(i as Int32Array, start * kk);
      tf.dispose([values, indices]);
    }
  } finally {
    all.dispose();
  }
  return { index, similarity, k: kk };
}
