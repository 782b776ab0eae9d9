/**
 * Outliers: images far from every class — a screenshot, a blank frame or a
 * document among photos. The distance is one minus the cosine similarity to
 * the nearest class centroid of the embeddings; an outlier's robust z-score
 * (median and MAD over the folder) is at least the threshold.
 */
import type { AuditFeatures } from './features.js';
import type { OutlierFinding } from './types.js';
import { median } from '../util/stats.js';

/** Unit-length mean embedding of each class. */
function centroids(features: AuditFeatures, classes: number): Float32Array[] {
  const c = Array.from({ length: classes }, () => new Float32Array(features.dim));
  features.images.forEach((img, i) => {
    const row = features.embeddings.subarray(i * features.dim, (i + 1) * features.dim);
    for (let d = 0; d < features.dim; d++) c[img.label]![d]! += row[d]!;
  });
  return c.map((v) => {
    const norm = Math.hypot(...v) || 1;
    return v.map((x) => x / norm);
  });
}

/** Each image's distance to its nearest class centroid. */
function centroidDistances(features: AuditFeatures, classes: number): number[] {
  const c = centroids(features, classes);
  return features.images.map((_, i) => {
    const row = features.embeddings.subarray(i * features.dim, (i + 1) * features.dim);
    let best = -1;
    for (const v of c) {
      let dot = 0;
      for (let d = 0; d < features.dim; d++) dot += row[d]! * v[d]!;
      best = Math.max(best, dot);
    }
    return 1 - best;
  });
}

export function findOutliers(features: AuditFeatures, classes: number, minZ: number): OutlierFinding[] {
  if (features.images.length < 3) return [];
  const distance = centroidDistances(features, classes);
  const med = median(distance);
  // 1.4826 · MAD estimates the standard deviation of normal data without letting the outliers inflate it.
  const scale = 1.4826 * median(distance.map((d) => Math.abs(d - med))) || 1e-9;
  const out: OutlierFinding[] = [];
  distance.forEach((d, i) => {
    const score = (d - med) / scale;
    if (score < minZ) return;
    const img = features.images[i]!;
    const reason = `far from every class: distance ${d.toFixed(3)} to the nearest class centre, typical ${med.toFixed(3)} (robust z ${score.toFixed(1)})`;
    out.push({ file: img.file, className: img.className, distance: d, score, reason });
  });
  return out.sort((a, b) => b.score - a.score);
}
