/**
 * One step of a study: trains it into its own folder with the recipe it
 * names, then scores the kept model on the test split (confusion matrix,
 * most confidently wrong images) and returns the step's record.
 */
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { scanImageFolder } from '../data/scan.js';
import { trainRecipe } from '../train/train-recipe.js';
import { evaluate } from '../train/evaluate.js';
import { loadModel } from '../train/saved-model.js';
import { getRecipe, resolveSettings, type Profile, type TrainSettings } from '../train/recipes.js';
import { paramCounts } from '../models/summary.js';
import { lastValue } from '../report/history.js';
import { runTransferRecipe } from '../transfer/recipes.js';
import { transferOptions } from '../transfer/register.js';
import type { PretrainedBase } from '../transfer/bases.js';
import type { StepName, StepSettings } from './steps.js';

export interface StepRunContext {
  name: StepName;
  /** Data folder (train/validation/test). */
  data: string;
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
  imageCacheDir?: string;
  featureCacheDir?: string;
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

/** The small-convnet recipe settings of a step (recipe profile + study settings). */
export function convnetSettings(name: StepName, recipeProfile: Profile, s: StepSettings): TrainSettings {
  const overrides: Partial<TrainSettings> = {
    imageSize: s.imageSize, epochs: s.epochs, batchSize: s.batchSize, learningRate: s.learningRate, optimizer: s.optimizer,
    stepsPerEpoch: s.stepsPerEpoch, validationSteps: s.validationSteps, ttaViews: s.ttaViews, model: s.model,
  };
  return resolveSettings(getRecipe(name), s.recipeProfile ?? recipeProfile, overrides);
}

/**
 * A transfer step's recipe settings (recipe profile + study settings, the
 * knobs a recipe does not read left out); `from`: the model it starts from.
 */
function transferSettings(name: StepName, recipeProfile: Profile, s: StepSettings, from: string | undefined): TrainSettings {
  const model = name === 'features' ? {} : { variants: s.variants, from };
  const overrides: Partial<TrainSettings> = { imageSize: s.imageSize, epochs: s.epochs, batchSize: s.batchSize, learningRate: s.learningRate, optimizer: s.optimizer, model };
  return resolveSettings(getRecipe(name), s.recipeProfile ?? recipeProfile, overrides);
}

export async function runStep(ctx: StepRunContext): Promise<StepRecord> {
  const t0 = performance.now();
  const { name, data, dir, seed, log } = ctx;
  let history: { epoch: number[]; history: Record<string, number[]> };
  let settings: Record<string, unknown>;
  let valAccuracy: number | undefined, valLoss: number | undefined;
  let trainSeconds: number;
  let trainImages: number;
  if (SMALL_CNN_STEPS.has(name)) {
    const resolved = convnetSettings(name, ctx.recipeProfile, ctx.settings);
    const r = await trainRecipe({
      recipe: name, profile: ctx.settings.recipeProfile ?? ctx.recipeProfile, data, out: dir, overrides: resolved, seed,
      verbose: ctx.verbose, cacheDir: ctx.imageCacheDir, signal: ctx.signal, log,
    });
    ctx.signal?.throwIfAborted();
    history = { epoch: r.history.epoch, history: r.history.history };
    settings = { ...resolved };
    const metrics = (r.meta.metrics ?? {}) as Record<string, unknown>;
    valAccuracy = typeof metrics.val_acc === 'number' ? metrics.val_acc : undefined;
    valLoss = typeof metrics.val_loss === 'number' ? metrics.val_loss : undefined;
    trainSeconds = r.history.seconds;
    const n = (r.meta.data as { train?: number } | undefined)?.train ?? 0;
    // With stepsPerEpoch the batches loop over the data (Keras's generators), so an epoch may be more than one pass.
    const perEpoch = resolved.stepsPerEpoch ? resolved.stepsPerEpoch * resolved.batchSize : n;
    trainImages = perEpoch * r.history.epoch.length;
  } else {
    const s = ctx.settings;
    const from = name === 'finetune' ? ctx.featuresAugmentDir : name === 'features-augment' && s.headFromFeatures ? ctx.featuresDir : undefined;
    const profile = s.recipeProfile ?? ctx.recipeProfile;
    const run = { data, out: dir, settings: transferSettings(name, profile, s, from), profile, seed, verbose: ctx.verbose, log, signal: ctx.signal };
    const r = await runTransferRecipe(name, { ...transferOptions(run), base: ctx.base, cacheDir: ctx.featureCacheDir });
    r.model.dispose();
    ctx.signal?.throwIfAborted();
    history = { epoch: r.history.epoch, history: r.history.history };
    settings = { base: typeof ctx.base === 'string' ? ctx.base : ctx.base.name, ...(r.meta.recipe?.settings ?? {}), inputSize: r.meta.inputSize };
    valAccuracy = r.metrics.val_acc;
    valLoss = r.metrics.val_loss;
    trainSeconds = r.timings.train ?? r.history.seconds;
    trainImages = (await scanImageFolder(join(data, 'train'))).files.length * r.history.epoch.length;
  }

  // Score the kept model on the test split: the same evaluation for every step.
  const saved = await loadModel(dir);
  let record: StepRecord;
  try {
    const classNames = saved.meta.classNames;
    let testAccuracy: number | undefined, confusion: number[][] | undefined;
    const wrong: WrongImage[] = [];
    if (existsSync(join(data, 'test'))) {
      const interpolation = (saved.meta.preprocessing as { interpolation?: string } | undefined)?.interpolation as 'nearest' | 'bilinear' | undefined;
      const ev = await evaluate(saved.model, join(data, 'test'), { classNames, batchSize: 32, interpolation: interpolation ?? 'bilinear', seed, keepPredictions: true });
      testAccuracy = ev.accuracy;
      confusion = ev.confusion;
      for (const p of ev.predictions ?? []) {
        if (p.predIndex !== p.trueIndex && p.file) wrong.push({ file: p.file, trueClass: classNames[p.trueIndex]!, predClass: classNames[p.predIndex]!, probability: p.probabilities[p.predIndex]! });
      }
      wrong.sort((a, b) => b.probability - a.probability || (basename(a.file) < basename(b.file) ? -1 : 1));
      wrong.splice(12);
    }
    const epochs = history.epoch.length;
    record = {
      name, recipe: name, settings, testAccuracy, valAccuracy, valLoss,
      trainAccuracy: lastValue(history.history.acc),
      epochs, wallSeconds: (performance.now() - t0) / 1000, trainSeconds, trainImages,
      imagesPerSecond: trainSeconds > 0 ? trainImages / trainSeconds : undefined,
      params: paramCounts(saved.model), history, classNames, confusion, wrong,
      finishedAt: new Date().toISOString(),
    };
  } finally {
    saved.model.dispose();
  }
  return record;
}
