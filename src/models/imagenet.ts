/** ImageNet class labels and top-k readout of a probability vector. */
export interface ImagenetPrediction {
  /** Index into the model's output. */
  index: number;
  /** ImageNet class index 0..999 (output index minus 1 for 1001-output models with "background"). */
  classIndex: number;
  label: string;
  probability: number;
}

/** The k largest entries of `probs`, highest first (ties: lower index first). */
export function topK(probs: ArrayLike<number>, k: number): { index: number; value: number }[] {
  const n = Math.min(Math.max(0, Math.floor(k)), probs.length);
  const best: { index: number; value: number }[] = [];
  for (let i = 0; i < probs.length; i++) {
    const v = probs[i];
    if (best.length === n && (n === 0 || v <= best[n - 1].value)) continue;
    let j = best.length === n ? n - 1 : best.length;
    if (best.length < n) best.push({ index: i, value: v });
    while (j > 0 && best[j - 1].value < v) {
      best[j] = best[j - 1];
      j--;
    }
    best[j] = { index: i, value: v };
  }
  return best;
}

/**
 * Top-k ImageNet predictions. `labels` is indexed like the model output;
 * with 1001 labels index 0 is "background" and classIndex = index − 1.
 */
export function imagenetTopK(probs: ArrayLike<number>, labels: readonly string[], k = 5): ImagenetPrediction[] {
  const offset = labels.length === 1001 ? 1 : 0;
  return topK(probs, k).map(({ index, value }) => ({ index, classIndex: index - offset, label: labels[index] ?? `class ${index}`, probability: value }));
}
