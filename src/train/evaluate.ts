/**
 * evaluate(): loss, accuracy, balanced and top-k accuracy, confusion matrix,
 * per-class precision/recall/F1 and (binary) ROC AUC of a model on a labeled
 * set: a batch iterator, tensors, or a folder with one sub-folder per class.
 */
import * as tf from '@tensorflow/tfjs';
import { flowFromDirectory } from '../data/iterator.js';
import type { SkippedFile } from '../data/scan.js';
import type { Interpolation } from '../data/decode.js';
import { listNames } from '../util/list-names.js';
import { ConvkitError } from '../util/errors.js';
import { createRng } from '../util/rng.js';
import { argmax } from '../util/stats.js';
import { Progress } from '../util/progress.js';
import { batchStream, filePath, isTensorData, stepsPerPass, type BatchData } from './batches.js';
import { inferClassMode, outputUnits, trueClasses, type LabelMode } from './losses.js';
import { accuracyOf, balancedAccuracy, confusionMatrix, crossEntropy, perClassMetrics, rocAuc, topKAccuracy, type ClassMetrics } from './metrics.js';
import { checkFiniteProbabilities, predictProbabilities, ttaTransform, type TtaOptions } from './tta.js';

export interface EvaluateOptions {
  /** Class names in model output order; a folder whose classes differ is an error. */
  classNames?: readonly string[];
  classMode?: LabelMode;
  batchSize?: number;
  /** Batches to score (default: one full pass). */
  steps?: number;
  /** [height, width] a folder's images are read at: a saved model's convkit.json inputSize (default: the model's input shape). */
  inputSize?: readonly [number, number];
  /** Resize filter when reading a folder (default 'bilinear'). */
  interpolation?: Interpolation;
  /** Leave out (and list in `skipped`) a folder's files that cannot be read instead of failing. */
  skipBad?: boolean;
  colorMode?: 'rgb' | 'grayscale';
  tta?: TtaOptions;
  seed?: number;
  /** Keep per-image results (file, true and predicted class, probabilities). */
  keepPredictions?: boolean;
  /** k of the top-k accuracy, below the number of classes (default 5 with more than 5 classes, none otherwise). */
  topK?: number;
  /** Show a progress bar on stderr. */
  progress?: boolean;
}

export interface ImagePrediction {
  file?: string;
  trueIndex: number;
  predIndex: number;
  probabilities: number[];
}

export interface EvaluationResult {
  loss: number;
  accuracy: number;
  n: number;
  classNames: string[];
  /** confusion[true][pred]. */
  confusion: number[][];
  perClass: ClassMetrics[];
  macroF1: number;
  /** Mean per-class recall (classes with images only). */
  balancedAccuracy: number;
  /** Share of images whose true class is among the k most probable (with more than 5 classes, or when asked). */
  topK?: { k: number; accuracy: number };
  /** Binary only: AUC of the positive class (classNames[1]). */
  rocAuc?: number;
  ttaViews: number;
  predictions?: ImagePrediction[];
  /** Files of the folder left out (skipBad), with the reason. */
  skipped?: SkippedFile[];
}

function modelInputSize(model: tf.LayersModel): [number, number] {
  const shape = model.inputs[0]!.shape;
  const h = shape[1],
    w = shape[2];
  if (!h || !w)
    throw new ConvkitError(`model ${model.name} has no fixed input size (${JSON.stringify(shape)})`, 'pass a batch iterator built with the right targetSize');
  return [h, w];
}

/** Checks that a folder's classes are the model's, in the same order. */
export function checkClassNames(expected: readonly string[], found: readonly string[], where: string): void {
  if (expected.length !== found.length || expected.some((c, i) => c !== found[i])) {
    throw new ConvkitError(
      `${where} has classes [${listNames(found)}] but the model was trained on [${listNames(expected)}]`,
      `give the data folder one sub-folder per model class, named ${listNames(expected.map((c) => JSON.stringify(c)))}`,
    );
  }
}

/** The data to score and its class names: a folder is opened (and checked against `classNames`), an iterator or tensors taken as they are. */
async function openSource(model: tf.LayersModel, data: BatchData | string, options: EvaluateOptions) {
  const wanted = options.classNames ? [...options.classNames] : undefined;
  if (typeof data !== 'string') {
    const given = !isTensorData(data) && data.classNames ? [...data.classNames] : undefined;
    if (given && wanted) checkClassNames(wanted, given, 'the evaluation data');
    return { source: data, classNames: wanted ?? given };
  }
  const it = await flowFromDirectory(data, {
    targetSize: options.inputSize ?? modelInputSize(model),
    classMode: 'sparse',
    batchSize: options.batchSize ?? 32,
    shuffle: false,
    interpolation: options.interpolation ?? 'bilinear',
    colorMode: options.colorMode ?? 'rgb',
    skipBad: options.skipBad,
  });
  if (wanted) checkClassNames(wanted, it.classNames, data);
  return { source: it, classNames: [...it.classNames], owned: it };
}

/** The model's class count, and the class names (class_i when none are known); a mismatch is an error. */
function classesOf(model: tf.LayersModel, known: string[] | undefined): { numClasses: number; classNames: string[] } {
  const units = outputUnits(model);
  const numClasses = units === 1 ? 2 : units;
  const classNames = known ?? Array.from({ length: numClasses }, (_, i) => `class_${i}`);
  if (classNames.length !== numClasses)
    throw new ConvkitError(
      `the data has ${classNames.length} classes but the model outputs ${numClasses}`,
      'evaluate on data with the classes the model was trained on',
    );
  return { numClasses, classNames };
}

/** Per image, in order: true class, predicted class, probabilities and file. */
interface Scores {
  trueIdx: number[];
  predIdx: number[];
  probs: number[][];
  files: (string | undefined)[];
}

/** One pass over `source`: every image's true class and probabilities (averaged over TTA views when asked). */
async function scoreBatches(model: tf.LayersModel, source: BatchData, options: EvaluateOptions): Promise<Scores> {
  const { batchSize = 32, seed = 1 } = options;
  const views = options.tta?.views ?? 1;
  const transform = views > 1 ? ttaTransform(options.tta?.augmentation) : undefined;
  const rng = createRng(seed);
  const scores: Scores = { trueIdx: [], predIdx: [], probs: [], files: [] };
  let mode = options.classMode;
  const label = views > 1 ? `evaluating (${views}-view TTA)` : 'evaluating';
  const bar = new Progress({ total: options.steps ?? stepsPerPass(source, batchSize) ?? 0, label, unit: 'batch', silent: !options.progress });
  for await (const batch of batchStream(source, { steps: options.steps, defaultBatchSize: batchSize })) {
    try {
      if (!batch.y) throw new ConvkitError('evaluation batches have no labels', 'use a labeled folder (one sub-folder per class)');
      mode ??= inferClassMode(model, batch.y, isTensorData(source) ? undefined : source.classMode);
      const t = trueClasses(batch.y, mode);
      const p = predictProbabilities(model, batch.x, views, transform, rng);
      const [tv, pv] = await Promise.all([t.data(), p.array()]);
      tf.dispose([t, p]);
      const fileOf = (i: number) => (batch.files?.[i] !== undefined ? filePath(batch.files[i]!) : undefined);
      checkFiniteProbabilities(pv, fileOf);
      pv.forEach((row, i) => addScore(scores, tv[i]!, row, fileOf(i)));
      bar.tick(1);
    } finally {
      batch.x.dispose();
      batch.y?.dispose();
    }
  }
  bar.finish();
  return scores;
}

function addScore(scores: Scores, trueIndex: number, row: number[], file: string | undefined, predIndex = argmax(row)): void {
  scores.trueIdx.push(trueIndex);
  scores.predIdx.push(predIndex);
  scores.probs.push(row);
  scores.files.push(file);
}

/** The top-k accuracy's k: the one asked for (checked against the classes), else 5 with more than 5 classes. */
function topKOf(asked: number | undefined, numClasses: number): number | undefined {
  if (asked === undefined) return numClasses > 5 ? 5 : undefined;
  if (!(Number.isInteger(asked) && asked >= 1 && asked < numClasses))
    throw new ConvkitError(
      `top-k accuracy's k (topK, --top-k) is ${asked} but the model has ${numClasses} classes`,
      `pass a whole number from 1 to ${numClasses - 1} (with k = ${numClasses} every image would count as right)`,
    );
  return asked;
}

/** Loss, accuracy, confusion matrix, per-class metrics and (two classes) ROC AUC of the scores. */
function summarizeScores(s: Scores, classNames: string[], numClasses: number, views: number, topK: number | undefined): EvaluationResult {
  const confusion = confusionMatrix(s.trueIdx, s.predIdx, numClasses);
  const perClass = perClassMetrics(confusion, classNames);
  const result: EvaluationResult = {
    loss: crossEntropy(s.trueIdx, s.probs),
    accuracy: accuracyOf(confusion),
    n: s.trueIdx.length,
    classNames,
    confusion,
    perClass,
    macroF1: perClass.reduce((sum, c) => sum + c.f1, 0) / perClass.length,
    balancedAccuracy: balancedAccuracy(confusion),
    ttaViews: views,
  };
  if (topK !== undefined) result.topK = { k: topK, accuracy: topKAccuracy(s.trueIdx, s.probs, topK) };
  const auc =
    numClasses === 2
      ? rocAuc(
          s.trueIdx,
          s.probs.map((p) => p[1]!),
        )
      : undefined;
  if (auc !== undefined) result.rocAuc = auc;
  return result;
}

/** The metrics of per-image predictions made elsewhere (an ensemble's averaged probabilities). */
export function evaluationOf(predictions: readonly ImagePrediction[], classNames: string[], options: { views?: number; topK?: number } = {}): EvaluationResult {
  const scores: Scores = { trueIdx: [], predIdx: [], probs: [], files: [] };
  for (const p of predictions) addScore(scores, p.trueIndex, p.probabilities, p.file, p.predIndex);
  return summarizeScores(scores, classNames, classNames.length, options.views ?? 1, topKOf(options.topK, classNames.length));
}

export async function evaluate(model: tf.LayersModel, data: BatchData | string, options: EvaluateOptions = {}): Promise<EvaluationResult> {
  const { source, classNames: known, owned } = await openSource(model, data, options);
  let scores: Scores;
  try {
    const { numClasses, classNames } = classesOf(model, known);
    const topK = topKOf(options.topK, numClasses);
    scores = await scoreBatches(model, source, options);
    if (scores.trueIdx.length === 0)
      throw new ConvkitError(`no images to evaluate${typeof data === 'string' ? ` in ${data}` : ''}`, 'put images in one sub-folder per class');
    const result = summarizeScores(scores, classNames, numClasses, options.tta?.views ?? 1, topK);
    if (owned?.skipped.length) result.skipped = [...owned.skipped];
    if (options.keepPredictions)
      result.predictions = scores.trueIdx.map((t, i) => ({
        file: scores.files[i],
        trueIndex: t,
        predIndex: scores.predIdx[i]!,
        probabilities: scores.probs[i]!,
      }));
    return result;
  } finally {
    owned?.dispose();
  }
}
