/**
 * Soft voting: several trained models score one labeled folder, each reading
 * the images as it was trained (its own input size and resize), and their
 * class probabilities are averaged per image (scikit-learn's
 * VotingClassifier(voting="soft")). Models that learned differently (a
 * network from scratch and a fine-tuned pretrained one) make different
 * mistakes, so the average is right more often than either.
 */
import type { LoadedModel } from './saved-model.js';
import { ConvkitError } from '../util/errors.js';
import { listNames } from '../util/list-names.js';
import { evaluate, evaluationOf, type EvaluateOptions, type EvaluationResult, type ImagePrediction } from './evaluate.js';
import { modelReadOptions, predict, type Prediction, type PredictOptions } from './predict.js';

export interface EnsembleMember extends LoadedModel {
  /** Where the model came from, for messages (its folder). */
  name: string;
}

export interface EnsembleEvaluation extends EvaluationResult {
  /** Each member's own evaluation on the same images, in the members' order. */
  members: (EvaluationResult & { name: string })[];
}

type EnsembleOptions = Omit<EvaluateOptions, 'classNames' | 'inputSize' | 'colorMode' | 'interpolation'>;

/** Checks that every member has the first one's classes, in the same order. */
function checkSameClasses(members: readonly EnsembleMember[]): string[] {
  const first = members[0]!;
  for (const m of members.slice(1)) {
    const a = first.meta.classNames,
      b = m.meta.classNames;
    if (a.length !== b.length || a.some((c, i) => c !== b[i])) {
      throw new ConvkitError(
        `${m.name} has classes [${listNames(b)}] but ${first.name} has [${listNames(a)}]`,
        'an ensemble averages models trained on the same classes',
      );
    }
  }
  return [...first.meta.classNames];
}

/** Averages the members' probabilities per image; every member must have scored the same images in the same order. */
function averagePredictions(runs: readonly ImagePrediction[][], names: readonly string[]): ImagePrediction[] {
  const first = runs[0]!;
  runs.forEach((run, k) => {
    const differs = run.length !== first.length || run.some((p, i) => p.file !== first[i]!.file || p.trueIndex !== first[i]!.trueIndex);
    if (differs) throw new ConvkitError(`${names[k]} scored other images than ${names[0]}`, 'score every member on the same folder');
  });
  return first.map((p, i) => {
    const probabilities = p.probabilities.map((_, c) => runs.reduce((sum, run) => sum + run[i]!.probabilities[c]!, 0) / runs.length);
    let best = 0;
    for (let c = 1; c < probabilities.length; c++) if (probabilities[c]! > probabilities[best]!) best = c;
    return { file: p.file, trueIndex: p.trueIndex, predIndex: best, probabilities };
  });
}

/** Evaluates the soft vote of `members` on the folder `dir`, with each member's own scores beside it. */
export async function evaluateEnsemble(members: readonly EnsembleMember[], dir: string, options: EnsembleOptions = {}): Promise<EnsembleEvaluation> {
  if (members.length < 2) throw new ConvkitError(`an ensemble needs at least 2 models, got ${members.length}`, 'pass two or more model folders');
  const classNames = checkSameClasses(members);
  const own: (EvaluationResult & { name: string })[] = [];
  for (const m of members) {
    const { targetSize, colorMode, interpolation } = modelReadOptions(m.meta);
    const r = await evaluate(m.model, dir, { ...options, classNames, inputSize: targetSize, colorMode, interpolation, keepPredictions: true });
    own.push({ ...r, name: m.name });
  }
  const averaged = averagePredictions(
    own.map((r) => r.predictions!),
    members.map((m) => m.name),
  );
  const result = evaluationOf(averaged, classNames, { views: options.tta?.views, topK: options.topK });
  if (own[0]!.skipped?.length) result.skipped = own[0]!.skipped;
  if (options.keepPredictions) result.predictions = averaged;
  return { ...result, members: own.map(({ predictions: _, ...r }) => r) };
}

/** The soft vote of `members` for each of `files` (a file one member cannot read, all cannot: it is reported once). */
export async function predictEnsemble(members: readonly EnsembleMember[], files: readonly string[], options: PredictOptions = {}): Promise<Prediction[]> {
  if (members.length < 2) throw new ConvkitError(`an ensemble needs at least 2 models, got ${members.length}`, 'pass two or more model folders');
  const classNames = checkSameClasses(members);
  const runs: Prediction[][] = [];
  for (const [k, m] of members.entries()) {
    const onBadFile = k === 0 || !options.onBadFile ? options.onBadFile : () => undefined;
    runs.push(await predict(m, files, { ...options, onBadFile, progress: options.progress && k === 0 }));
  }
  const first = runs[0]!;
  runs.forEach((run, k) => {
    if (run.length !== first.length || run.some((p, i) => p.file !== first[i]!.file))
      throw new ConvkitError(`${members[k]!.name} read other files than ${members[0]!.name}`, 'predict every member on the same files');
  });
  return first.map((p, i) => {
    const probabilities = Object.fromEntries(classNames.map((c) => [c, runs.reduce((sum, run) => sum + run[i]!.probabilities[c]!, 0) / runs.length]));
    const label = classNames.reduce((best, c) => (probabilities[c]! > probabilities[best]! ? c : best), classNames[0]!);
    return { file: p.file, label, probability: probabilities[label]!, probabilities };
  });
}
