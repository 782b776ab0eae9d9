/**
 * Likely mislabeled images by confident learning (Northcutt et al., as
 * cleanlab's find_label_issues): out-of-sample class probabilities from
 * k-fold softmax heads on the embeddings — no image is scored by a head that
 * saw it — and per-class thresholds, the mean probability a class's own
 * images get. An image whose probability for another class clears that
 * class's threshold and beats its own class, or that another class has
 * most of the probability of, is an issue; issues are ranked by how little
 * probability their given class gets.
 */
import * as tf from '@tensorflow/tfjs';
import { fit } from '../train/fit.js';
import { Progress } from '../util/progress.js';
import { createRng } from '../util/rng.js';
import { argmax } from '../util/stats.js';
import type { AuditFeatures } from './features.js';
import type { LabelIssueFinding } from './types.js';

export interface LabelIssueOptions {
  folds?: number;
  /** Least score of a reported issue (default 0.8: its own class gets at most 0.2). */
  minScore?: number;
  seed?: number;
  epochs?: number;
  /** No progress output. */
  silent?: boolean;
  signal?: AbortSignal;
}

/** Fold of each image, stratified by class and shuffled with `seed`. */
export function stratifiedFolds(labels: readonly number[], folds: number, seed: number): Int32Array {
  const rng = createRng(seed);
  const fold = new Int32Array(labels.length);
  const byClass = new Map<number, number[]>();
  labels.forEach((l, i) => (byClass.get(l) ?? byClass.set(l, []).get(l)!).push(i));
  for (const members of byClass.values()) {
    for (let i = members.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [members[i], members[j]] = [members[j]!, members[i]!];
    }
    members.forEach((m, r) => (fold[m] = r % folds));
  }
  return fold;
}

/** A softmax regression on the embeddings (a linear probe: enough on a pretrained base's features). */
async function trainHead(x: tf.Tensor2D, labels: number[], classes: number, o: { epochs: number; seed: number; signal?: AbortSignal }) {
  const head = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [x.shape[1]], units: classes, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: o.seed }) }),
    ],
  });
  const y = tf.oneHot(tf.tensor1d(labels, 'int32'), classes);
  try {
    await fit(
      head,
      { x: x as unknown as tf.Tensor4D, y, batchSize: 64 },
      {
        epochs: o.epochs,
        optimizer: 'adam',
        learningRate: 1e-2,
        seed: o.seed,
        verbose: false,
        handleSigint: false,
        signal: o.signal,
      },
    );
  } finally {
    y.dispose();
  }
  return head;
}

/** Out-of-sample class probabilities [n, classes]: each fold's images scored by a head trained on the other folds. */
export async function outOfSampleProbabilities(features: AuditFeatures, classes: number, options: LabelIssueOptions = {}): Promise<Float32Array> {
  const { folds = 5, seed = 1, epochs = 30, signal } = options;
  const o = { folds, seed, epochs, signal };
  const labels = features.images.map((i) => i.label);
  const fold = stratifiedFolds(labels, o.folds, o.seed);
  const n = labels.length,
    dim = features.dim;
  const probs = new Float32Array(n * classes);
  // Minutes on tens of thousands of images: show the folds going by.
  const progress = new Progress({ total: o.folds, label: 'label check', unit: 'fold', silent: options.silent });
  for (let f = 0; f < o.folds; f++) {
    const train = [...fold.keys()].filter((i) => fold[i] !== f);
    const held = [...fold.keys()].filter((i) => fold[i] === f);
    if (!held.length) continue;
    const rows = (idx: number[]) => tf.tensor2d(gather(features.embeddings, dim, idx), [idx.length, dim]);
    const [x, xh] = [rows(train), rows(held)];
    const head = await trainHead(
      x,
      train.map((i) => labels[i]!),
      classes,
      { ...o, seed: o.seed + f },
    );
    const p = (await (head.predict(xh) as tf.Tensor).data()) as Float32Array;
    held.forEach((i, r) => probs.set(p.subarray(r * classes, (r + 1) * classes), i * classes));
    tf.dispose([x, xh]);
    head.dispose();
    progress.tick();
  }
  progress.finish();
  return probs;
}

function gather(m: Float32Array, dim: number, idx: number[]): Float32Array {
  const out = new Float32Array(idx.length * dim);
  idx.forEach((i, r) => out.set(m.subarray(i * dim, (i + 1) * dim), r * dim));
  return out;
}

/** Per-class thresholds: the mean probability of class j over the images labelled j. */
export function classThresholds(probs: Float32Array, labels: readonly number[], classes: number): Float64Array {
  const sum = new Float64Array(classes),
    count = new Float64Array(classes);
  labels.forEach((l, i) => {
    sum[l]! += probs[i * classes + l]!;
    count[l]!++;
  });
  return sum.map((s, j) => (count[j]! > 0 ? s / count[j]! : 1));
}

/** The class an image confidently belongs to: at or above that class's threshold, the most probable such; -1 when none. */
function confidentClass(p: Float32Array, t: Float64Array): number {
  let confident = -1;
  for (let j = 0; j < p.length; j++) if (p[j]! >= t[j]! && (confident < 0 || p[j]! > p[confident]!)) confident = j;
  return confident;
}

/**
 * Images whose confident class is another one (confident learning), and
 * those another class has most of the probability of: the second rule
 * catches flips in a class whose own images all score near 1, which puts
 * its threshold out of reach. Ranked by how little their own class gets.
 */
export function confidentLabelIssues(
  probs: Float32Array,
  labels: readonly number[],
  classes: number,
  classNames: readonly string[],
  files: readonly string[],
): LabelIssueFinding[] {
  const t = classThresholds(probs, labels, classes);
  const out: LabelIssueFinding[] = [];
  labels.forEach((given, i) => {
    const p = probs.subarray(i * classes, (i + 1) * classes);
    const confident = confidentClass(p, t);
    const suggested = confident >= 0 && confident !== given && p[confident]! > p[given]! ? confident : argmax(p);
    if (suggested === given) return;
    const [gp, sp] = [p[given]!, p[suggested]!];
    const reason = `labelled ${classNames[given]} but looks like ${classNames[suggested]}: out-of-sample probability ${sp.toFixed(3)} (${classNames[suggested]}) vs ${gp.toFixed(3)} (${classNames[given]})`;
    out.push({
      file: files[i]!,
      givenClass: classNames[given]!,
      suggestedClass: classNames[suggested]!,
      givenProbability: gp,
      suggestedProbability: sp,
      score: 1 - gp,
      reason,
    });
  });
  return out.sort((a, b) => b.score - a.score || (a.file < b.file ? -1 : 1));
}

/** Likely mislabeled images, most likely first. */
export async function findLabelIssues(features: AuditFeatures, classNames: readonly string[], options: LabelIssueOptions = {}): Promise<LabelIssueFinding[]> {
  if (classNames.length < 2 || features.images.length < 2 * (options.folds ?? 5)) return [];
  const probs = await outOfSampleProbabilities(features, classNames.length, options);
  const labels = features.images.map((i) => i.label);
  const files = features.images.map((i) => i.file);
  return confidentLabelIssues(probs, labels, classNames.length, classNames, files).filter((i) => i.score >= (options.minScore ?? 0.8));
}
