/**
 * Soft voting: several trained models score the same images, each reading
 * them as it was trained (its own input size and resize), and their class
 * probabilities are averaged per image (scikit-learn's
 * VotingClassifier(voting="soft")). Models that learned differently (a
 * network from scratch and a fine-tuned pretrained one) make different
 * mistakes, so the average is right more often than either.
 */
import type { LoadedModel } from './saved-model.js';
import { ConvkitError } from '../util/errors.js';
import { listNames } from '../util/list-names.js';
import { argmax } from '../util/stats.js';
import { evaluate, evaluationOf, type EvaluateOptions, type EvaluationResult } from './evaluate.js';
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

/** The members' shared class names; at least two members, all with the first one's classes in its order. */
function checkMembers(members: readonly EnsembleMember[]): string[] {
  if (members.length < 2) throw new ConvkitError(`an ensemble needs at least 2 models, got ${members.length}`, 'pass two or more model folders');
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

/** Per image, the mean of the members' class probabilities (`runs[k][i]`: member k, image i); every member must have seen the same files in order. */
function meanProbabilities(runs: readonly { file?: string; probabilities: number[] }[][], members: readonly EnsembleMember[]): number[][] {
  const first = runs[0]!;
  runs.forEach((run, k) => {
    if (run.length !== first.length || run.some((p, i) => p.file !== first[i]!.file))
      throw new ConvkitError(`${members[k]!.name} read other images than ${members[0]!.name}`, 'give every member the same images');
  });
  return first.map((p, i) => p.probabilities.map((_, c) => runs.reduce((sum, run) => sum + run[i]!.probabilities[c]!, 0) / runs.length));
}

/** Evaluates the soft vote of `members` on the folder `dir`, with each member's own scores beside it. */
export async function evaluateEnsemble(members: readonly EnsembleMember[], dir: string, options: EnsembleOptions = {}): Promise<EnsembleEvaluation> {
  const classNames = checkMembers(members);
  const own: (EvaluationResult & { name: string })[] = [];
  for (const m of members) {
    const { targetSize, colorMode, interpolation } = modelReadOptions(m.meta);
    const r = await evaluate(m.model, dir, { ...options, classNames, inputSize: targetSize, colorMode, interpolation, keepPredictions: true });
    own.push({ ...r, name: m.name });
  }
  const first = own[0]!.predictions!;
  const mean = meanProbabilities(
    own.map((r) => r.predictions!),
    members,
  );
  const averaged = first.map((p, i) => ({ file: p.file, trueIndex: p.trueIndex, predIndex: argmax(mean[i]!), probabilities: mean[i]! }));
  const result = evaluationOf(averaged, classNames, { views: options.tta?.views, topK: options.topK });
  if (own[0]!.skipped?.length) result.skipped = own[0]!.skipped;
  if (options.keepPredictions) result.predictions = averaged;
  return { ...result, members: own.map(({ predictions: _, ...r }) => r) };
}

/** The soft vote of `members` for each of `files` (a file the members cannot read is reported once). */
export async function predictEnsemble(members: readonly EnsembleMember[], files: readonly string[], options: PredictOptions = {}): Promise<Prediction[]> {
  const classNames = checkMembers(members);
  const runs: Prediction[][] = [];
  for (const [k, m] of members.entries()) {
    const onBadFile = k === 0 || !options.onBadFile ? options.onBadFile : () => undefined;
    runs.push(await predict(m, files, { ...options, onBadFile, progress: options.progress && k === 0 }));
  }
  const mean = meanProbabilities(
    runs.map((run) => run.map((p) => ({ file: p.file, probabilities: classNames.map((c) => p.probabilities[c]!) }))),
    members,
  );
  return runs[0]!.map((p, i) => {
    const row = mean[i]!,
      best = argmax(row);
    return { file: p.file, label: classNames[best]!, probability: row[best]!, probabilities: Object.fromEntries(classNames.map((c, j) => [c, row[j]!])) };
  });
}
