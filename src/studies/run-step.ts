/**
 * One step of a study: trains it into its own folder with the recipe it
 * names, then scores the kept model on the test split (confusion matrix,
 * most confidently wrong images) and returns the step's record.
 */
import { basename } from 'node:path';
import type { DataCheckResult } from '../data/check.js';
import { paramCounts } from '../models/summary.js';
import type { Profile, RecipeSettings, SettingsOverrides } from '../recipes/recipe.js';
import { getRecipe } from '../recipes/registry.js';
import { resolveSettings } from '../recipes/settings.js';
import { trainRecipe, type TrainRecipeResult } from '../recipes/train-recipe.js';
import { lastValue } from '../report/history.js';
import type { EvaluationResult } from '../train/evaluate.js';
import { loadModel } from '../train/saved-model.js';
import type { PretrainedBase } from '../transfer/bases.js';
import type { StepName, StepSettings } from './steps.js';

export interface StepRunContext {
  name: StepName;
  /** The user's data folder (train/validation/test). */
  data: string;
  /** The data as the study checked it once (with --skip-bad, a view without the bad files). */
  checked: DataCheckResult;
  /** The step's folder (its model is written here). */
  dir: string;
  /** Folder of the study's features-augment step (finetune starts from its model). */
  featuresAugmentDir: string;
  /** Folder of a finished features step, when features-augment should start from its head. */
  featuresDir?: string;
  /** The recipes' profile the step's settings start from. */
  recipeProfile: Profile;
  settings: StepSettings;
  base: string | PretrainedBase;
  seed: number;
  /** Cache root (images/, features/). */
  cacheDir: string;
  signal?: AbortSignal;
  verbose: boolean;
  log: (line: string) => void;
}

export interface WrongImage {
  file: string;
  trueClass: string;
  predClass: string;
  probability: number;
}

/** What a finished step leaves in steps/<name>/step.json. */
export interface StepRecord {
  name: StepName;
  recipe: string;
  settings: Record<string, unknown>;
  testAccuracy?: number;
  /** More than two classes: the test set's mean per-class recall. */
  testBalancedAccuracy?: number;
  /** More than five classes: the test set's top-k accuracy. */
  testTopK?: { k: number; accuracy: number };
  /** The kept epoch's validation accuracy and loss: what picks the study's best model. */
  valAccuracy?: number;
  valLoss?: number;
  trainAccuracy?: number;
  epochs: number;
  wallSeconds: number;
  trainSeconds: number;
  trainImages: number;
  imagesPerSecond?: number;
  params: { trainable: number; total: number };
  history: { epoch: number[]; history: Record<string, number[]> };
  classNames: string[];
  confusion?: number[][];
  wrong: WrongImage[];
  finishedAt: string;
}

const SMALL_CNN_STEPS = new Set<StepName>(['scratch', 'augment']);

/** What stepOverrides reads of a step (the small-convnet steps need no base). */
type StepInput = Pick<StepRunContext, 'name' | 'settings'> & Partial<Pick<StepRunContext, 'base' | 'featuresAugmentDir' | 'featuresDir'>>;

/** What a step changes of its recipe's profile: the study's settings, and the base and model a transfer step starts from. */
function stepOverrides(step: StepInput): SettingsOverrides {
  const { name, settings: s } = step;
  const run = { imageSize: s.imageSize, epochs: s.epochs, batchSize: s.batchSize, learningRate: s.learningRate, optimizer: s.optimizer };
  if (SMALL_CNN_STEPS.has(name)) return { ...run, stepsPerEpoch: s.stepsPerEpoch, validationSteps: s.validationSteps, ttaViews: s.ttaViews, model: s.model };
  if (name === 'features') return { ...run, transfer: { base: step.base } };
  const from = name === 'finetune' ? step.featuresAugmentDir : s.headFromFeatures ? step.featuresDir : undefined;
  return { ...run, transfer: { base: step.base, from, variants: s.variants } };
}

/** The settings of a small-convnet step (recipe profile + study settings). */
export function convnetSettings(name: StepName, recipeProfile: Profile, settings: StepSettings): RecipeSettings {
  return resolveSettings(getRecipe(name), settings.recipeProfile ?? recipeProfile, stepOverrides({ name, settings }));
}

/** The most confidently wrong test images, at most 12. */
function mostConfidentlyWrong(test: EvaluationResult | undefined, classNames: string[]): WrongImage[] {
  const wrong: WrongImage[] = [];
  for (const p of test?.predictions ?? []) {
    if (p.predIndex !== p.trueIndex && p.file)
      wrong.push({ file: p.file, trueClass: classNames[p.trueIndex]!, predClass: classNames[p.predIndex]!, probability: p.probabilities[p.predIndex]! });
  }
  wrong.sort((a, b) => b.probability - a.probability || (basename(a.file) < basename(b.file) ? -1 : 1));
  return wrong.slice(0, 12);
}

/** A step's settings as step.json records them: a transfer step's as its convkit.json does (base by name, input size). */
function recordedSettings(r: TrainRecipeResult, step: StepInput): Record<string, unknown> {
  if (SMALL_CNN_STEPS.has(step.name)) return { ...r.settings };
  const base = typeof step.base === 'string' ? step.base : step.base?.name;
  return { base, ...(r.meta.recipe?.settings ?? {}), inputSize: r.meta.inputSize };
}

/** One recipe run into its own folder: what trainRecorded needs. */
export interface RecipeRunContext {
  recipe: string;
  profile: Profile;
  overrides: SettingsOverrides;
  /** The user's data folder (train/validation/test). */
  data: string;
  checked: DataCheckResult;
  /** The model folder to write. */
  dir: string;
  seed: number;
  cacheDir: string;
  signal?: AbortSignal;
  verbose: boolean;
  log: (line: string) => void;
}

/** What trainRecorded keeps of a run: the record without its name and settings, which the caller words. */
export type RecordedRun = Omit<StepRecord, 'name' | 'settings'>;

/** Trains a recipe through trainRecipe, as `convkit train` would, and keeps what a report shows of it. */
export async function trainRecorded(ctx: RecipeRunContext): Promise<{ result: TrainRecipeResult; record: RecordedRun }> {
  const t0 = performance.now();
  const { dir, seed, log } = ctx;
  const r = await trainRecipe({
    recipe: ctx.recipe,
    profile: ctx.profile,
    data: ctx.data,
    checked: ctx.checked,
    out: dir,
    overrides: ctx.overrides,
    seed,
    verbose: ctx.verbose,
    cacheDir: ctx.cacheDir,
    signal: ctx.signal,
    log,
  });
  ctx.signal?.throwIfAborted();
  const history = { epoch: r.history.epoch, history: r.history.history };
  const metrics = (r.meta.metrics ?? {}) as Record<string, unknown>;
  const trainSeconds = r.timings?.train ?? r.history.seconds;
  const n = (r.meta.data as { train?: number } | undefined)?.train ?? ctx.checked.counts.train ?? 0;
  // With stepsPerEpoch the batches loop over the data (Keras's generators), so an epoch may be more than one pass.
  const perEpoch = r.settings.stepsPerEpoch ? r.settings.stepsPerEpoch * r.settings.batchSize : n;
  const trainImages = perEpoch * r.history.epoch.length;
  const classNames = r.meta.classNames;
  const saved = await loadModel(dir);
  try {
    const record: RecordedRun = {
      recipe: ctx.recipe,
      testAccuracy: r.test?.accuracy,
      ...(r.test && r.test.classNames.length > 2 && { testBalancedAccuracy: r.test.balancedAccuracy }),
      ...(r.test?.topK && { testTopK: r.test.topK }),
      valAccuracy: typeof metrics.val_acc === 'number' ? metrics.val_acc : undefined,
      valLoss: typeof metrics.val_loss === 'number' ? metrics.val_loss : undefined,
      trainAccuracy: lastValue(history.history.acc),
      epochs: history.epoch.length,
      wallSeconds: (performance.now() - t0) / 1000,
      trainSeconds,
      trainImages,
      imagesPerSecond: trainSeconds > 0 ? trainImages / trainSeconds : undefined,
      params: paramCounts(saved.model),
      history,
      classNames,
      confusion: r.test?.confusion,
      wrong: mostConfidentlyWrong(r.test, classNames),
      finishedAt: new Date().toISOString(),
    };
    return { result: r, record };
  } finally {
    saved.model.dispose();
  }
}

/** Trains a step through trainRecipe, as `convkit train` would, and keeps what the report shows of it. */
export async function runStep(ctx: StepRunContext): Promise<StepRecord> {
  const { name } = ctx;
  const { result, record } = await trainRecorded({
    recipe: name,
    profile: ctx.settings.recipeProfile ?? ctx.recipeProfile,
    overrides: stepOverrides(ctx),
    data: ctx.data,
    checked: ctx.checked,
    dir: ctx.dir,
    seed: ctx.seed,
    cacheDir: ctx.cacheDir,
    signal: ctx.signal,
    verbose: ctx.verbose,
    log: ctx.log,
  });
  return { name, ...record, settings: recordedSettings(result, ctx) };
}
/** A step of one study run: trained now, or reused from an earlier run. */
export interface StudyStepOutcome {
  name: StepName;
  /** 'trained' this run, or 'reused' from an earlier one. */
  status: 'trained' | 'reused';
  record: StepRecord;
}
