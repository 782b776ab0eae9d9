/**
 * trainRecipe(): the whole "train a classifier on a folder" run that
 * `convkit train` performs: read DIR/train and DIR/validation, build the
 * recipe's model, fit with checkpoints of the best epoch into the output
 * folder, then score DIR/test (when present) and record everything in
 * convkit.json, history.csv and history.json.
 */
import type * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import { join, resolve } from 'node:path';
import { ImageDataGenerator } from '../augment/generator.js';
import { flowFromDirectory, type DirectoryIterator } from '../data/iterator.js';
import { ConvkitError } from '../util/errors.js';
import { listNames } from '../util/list-names.js';
import { writeFileAtomic } from '../util/atomic.js';
import { checkData } from '../data/check.js';
import type { SkippedFile } from '../data/scan.js';
import { claimOutputDir, lockOutput } from '../util/output-guard.js';
import { MODEL_FOLDER } from '../models/fs-io.js';
import { CSVLogger, EarlyStopping, JSONHistoryLogger, ModelCheckpoint, ReduceLROnPlateau, historyToCsv, type Callback, type TrainingState } from './callbacks.js';
import { evaluate, type EvaluationResult } from './evaluate.js';
import { fit, type FitResult } from './fit.js';
import { getRecipe, resolveSettings, type Profile, type Recipe, type TrainSettings } from './recipes.js';
import { chooseTta, type TtaChoice } from './tta.js';
import { loadModel, saveModel, updateModelMeta, type ConvkitModelMeta, type ModelMetaInput } from './saved-model.js';

export interface TrainRecipeOptions {
  recipe: string | Recipe;
  profile?: Profile;
  /** Folder with train/ and validation/ (and optionally test/), each with one sub-folder per class. */
  data: string;
  /** Model folder to write. */
  out: string;
  overrides?: Partial<TrainSettings>;
  seed?: number;
  verbose?: boolean;
  /** Disk cache of decoded images. */
  cacheDir?: string;
  /** Leave unreadable images out (listed in the result's `skipped`) instead of stopping. */
  skipBad?: boolean;
  /** Extra user hooks. */
  callbacks?: Callback[];
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export interface TrainRecipeResult {
  out: string;
  meta: ConvkitModelMeta;
  history: FitResult;
  settings: TrainSettings;
  test?: EvaluationResult;
  testTta?: EvaluationResult;
  /** With `ttaViews`: validation with and without TTA, and whether TTA is worth using. */
  ttaChoice?: TtaChoice;
  /** Images left out with `skipBad`, each with the reason. */
  skipped: SkippedFile[];
}

async function isDir(path: string): Promise<boolean> {
  return fs.stat(path).then((s) => s.isDirectory(), () => false);
}

/** Strips bulky per-image data for convkit.json. */
function summarize(e: EvaluationResult): Record<string, unknown> {
  const { predictions: _p, ...rest } = e;
  return rest;
}

type Scored = { test?: EvaluationResult; testTta?: EvaluationResult; ttaChoice?: TtaChoice };

/** What convkit.json's metrics keep of the scores. */
function scoredMetrics(s: Scored): Record<string, unknown> {
  return {
    ...(s.test && { test: summarize(s.test) }),
    ...(s.testTta && { testTta: summarize(s.testTta) }),
    ...(s.ttaChoice && { ttaChoice: s.ttaChoice }),
  };
}

/**
 * The saved model in `out` scored on data/test when there is one: plainly, and
 * with TTA when asked, TTA's worth being judged on data/validation first. The
 * plain validation pass is run again rather than taken from fit, whose loss
 * carries label smoothing and whose pass may be a sample (validationSteps).
 */
async function scoreTest(out: string, data: string, o: { classNames: string[]; batchSize: number; interpolation: 'nearest' | 'bilinear' | 'bicubic' | 'area'; seed: number; verbose: boolean; ttaViews?: number }): Promise<Scored> {
  if (!(await isDir(join(data, 'test')))) return {};
  const saved = await loadModel(out);
  try {
    const evalOpts = { classNames: o.classNames, batchSize: o.batchSize, interpolation: o.interpolation, seed: o.seed, progress: o.verbose };
    const test = await evaluate(saved.model, join(data, 'test'), evalOpts);
    const views = o.ttaViews ?? 1;
    if (views === 1) return { test };
    const withTta = { ...evalOpts, tta: { views } };
    let ttaChoice: TtaChoice | undefined;
    if (await isDir(join(data, 'validation'))) {
      const validation = join(data, 'validation');
      ttaChoice = chooseTta(views, await evaluate(saved.model, validation, evalOpts), await evaluate(saved.model, validation, withTta));
    }
    return { test, testTta: await evaluate(saved.model, join(data, 'test'), withTta), ttaChoice };
  } finally {
    saved.model.dispose();
  }
}

/** Before any work: the model folder and the cache may be written, and neither overlaps the data. */
async function claimOutputs(out: string, data: string, cacheDir: string | undefined): Promise<void> {
  const inputs = [{ path: data, flag: '--data' }];
  await claimOutputDir({ path: out, flag: '--out', ...MODEL_FOLDER, inputs });
  if (cacheDir !== undefined) await claimOutputDir({ path: cacheDir, flag: '--cache-dir', what: 'a convkit cache', owns: async () => true, inputs: [...inputs, { path: out, flag: '--out' }] });
}

export async function trainRecipe(options: TrainRecipeOptions): Promise<TrainRecipeResult> {
  const { profile = 'book', seed = 1, verbose = true, log = (l: string) => console.error(l) } = options;
  const recipe = typeof options.recipe === 'string' ? getRecipe(options.recipe) : options.recipe;
  const settings = resolveSettings(recipe, profile, options.overrides);
  const data = resolve(options.data), out = resolve(options.out);
  await claimOutputs(out, data, options.cacheDir);
  const release = await lockOutput(out, '--out');
  try {
    // Every split is read before the first epoch: a bad image, an empty class or a test/ with other
    // classes would otherwise surface only after the last epoch, leaving a model without its metrics.
    // The decoded images stay in the disk cache only for the recipes that read them through it.
    const checked = await checkData(data, {
      imageSize: settings.imageSize, interpolation: settings.interpolation ?? 'bilinear', imageCacheDir: recipe.run ? undefined : options.cacheDir,
      skipBad: options.skipBad, silent: !verbose, log, signal: options.signal,
    });
    // With skipBad, checked.root is a view of the data without the bad files; convkit.json records the user's folder.
    const run: Run = { options, recipe, profile, settings, data: checked.root, source: data, out, seed, verbose, log };
    const result = await (recipe.run ? runOwnPipeline(run, recipe.run) : fitRecipe(run, recipe.buildModel!));
    return { ...result, skipped: checked.skipped };
  } finally {
    await release();
  }
}

/** What the two kinds of recipe share of one trainRecipe() call. */
interface Run {
  options: TrainRecipeOptions;
  recipe: Recipe;
  profile: Profile;
  settings: TrainSettings;
  data: string;
  /** The folder the user gave (data may be a view of it without bad files). */
  source: string;
  out: string;
  seed: number;
  verbose: boolean;
  log: (line: string) => void;
}

/** A recipe with its own pipeline (the transfer recipes): it writes the model; the test set is scored here like any other's. */
async function runOwnPipeline(o: Run, run: NonNullable<Recipe['run']>): Promise<Omit<TrainRecipeResult, 'skipped'>> {
  const { data, out, settings, seed, verbose } = o;
  const r = await run({ data, out, settings, profile: o.profile, seed, verbose, cacheDir: o.options.cacheDir, log: o.log, callbacks: o.options.callbacks, signal: o.options.signal });
  if (r.history.stopReason === 'interrupted') return { out, meta: r.meta, history: r.history, settings };
  const interpolation = (r.meta.preprocessing as { interpolation?: 'nearest' | 'bilinear' } | undefined)?.interpolation ?? settings.interpolation ?? 'bilinear';
  const scored = await scoreTest(out, data, { classNames: r.meta.classNames, batchSize: settings.batchSize, interpolation, seed, verbose, ttaViews: settings.ttaViews });
  const meta = scored.test ? await updateModelMeta(out, { metrics: { ...(r.meta.metrics ?? {}), ...scoredMetrics(scored) } }) : r.meta;
  return { out, meta, history: r.history, settings, test: scored.test, testTta: scored.testTta, ttaChoice: scored.ttaChoice };
}

/** EarlyStopping and ReduceLROnPlateau on `monitor`, as far as the settings ask for them. */
export function plateauCallbacks(s: Pick<TrainSettings, 'earlyStoppingPatience' | 'reduceLrPatience'>, monitor: string, log: (line: string) => void): { early?: EarlyStopping; callbacks: Callback[] } {
  const early = s.earlyStoppingPatience === undefined ? undefined : new EarlyStopping({ monitor, patience: s.earlyStoppingPatience });
  const reduce = s.reduceLrPatience === undefined ? undefined : new ReduceLROnPlateau({ monitor, patience: s.reduceLrPatience, log });
  return { early, callbacks: [early, reduce].filter((c): c is EarlyStopping | ReduceLROnPlateau => c !== undefined) };
}

/** A recipe that builds a model: one fit with checkpoints of the best epoch, then the test set. */
async function fitRecipe(o: Run, buildModel: NonNullable<Recipe['buildModel']>): Promise<Omit<TrainRecipeResult, 'skipped'>> {
  const { recipe, profile, settings, data, out, seed, verbose, log, options } = o;
  const size = settings.imageSize;
  const interpolation = settings.interpolation ?? 'bilinear';
  const common = { targetSize: [size, size] as const, classMode: 'sparse' as const, batchSize: settings.batchSize, interpolation, cacheDir: options.cacheDir };
  const transform = settings.augmentation ? new ImageDataGenerator({ ...settings.augmentation, rescale: null }).batchTransform() : undefined;
  const train = await flowFromDirectory(join(data, 'train'), { ...common, shuffle: true, seed, transform });
  // A partial validation pass (validationSteps) draws a shuffled sample: the sorted files would give one class only.
  const validation = await flowFromDirectory(join(data, 'validation'), { ...common, shuffle: settings.validationSteps !== undefined, seed: seed + 1 });
  const iterators: DirectoryIterator[] = [train, validation];
  let model: tf.LayersModel | undefined;
  try {
    const classNames = [...train.classNames];
    const numClasses = classNames.length;
    const classMode = numClasses === 2 ? 'binary' : 'categorical';
    model = await buildModel({ settings, numClasses, seed });

    const baseMeta = (): ModelMetaInput => ({
      classNames, inputSize: [size, size], colorMode: 'rgb', classMode,
      preprocessing: { input: 'RGB pixels as floats in [0, 255], shape [batch, height, width, 3]', interpolation, inModel: 'scaling is done by the model\'s first layer(s)' },
      recipe: { name: recipe.name, profile, settings: settings as unknown as Record<string, unknown>, seed },
      data: { root: o.source, train: train.n, validation: validation.n },
    });
    const monitor = settings.monitor ?? 'val_loss';
    const checkpoint = new ModelCheckpoint(out, { monitor, saveBestOnly: true, meta: baseMeta });
    const plateau = plateauCallbacks(settings, monitor, log);
    const callbacks: Callback[] = [checkpoint, new CSVLogger(join(out, 'history.csv')), new JSONHistoryLogger(join(out, 'history.json')), ...plateau.callbacks, ...(options.callbacks ?? [])];

    if (verbose) log(`convkit train: recipe ${recipe.name} (${profile}), ${numClasses} classes [${listNames(classNames)}], ${train.n} training / ${validation.n} validation images, ${size}×${size} px, batch ${settings.batchSize}, ${settings.epochs} epochs, ${settings.optimizer} lr ${settings.learningRate}${settings.augmentation ? ', augmentation on' : ''}`);
    const history = await fit(model, train, {
      epochs: settings.epochs, stepsPerEpoch: settings.stepsPerEpoch, validationData: validation, validationSteps: settings.validationSteps,
      optimizer: settings.optimizer, learningRate: settings.learningRate, momentum: settings.momentum, schedule: settings.schedule,
      labelSmoothing: settings.labelSmoothing, classMode: classMode === 'binary' ? 'binary' : 'sparse',
      callbacks, seed, verbose, signal: options.signal,
    });
    const early = plateau.early;
    if (early && early.stoppedEpoch >= 0 && verbose) log(`convkit train: early stopping at epoch ${early.stoppedEpoch + 1} (best ${monitor} ${early.best.toFixed(4)} at epoch ${early.bestEpoch + 1})`);

    if (checkpoint.saves === 0) {
      if (history.epoch.length === 0) {
        throw new ConvkitError('training stopped before the first epoch ended; no model was saved', 'let at least one epoch finish');
      }
      await saveModel(model, out, { ...baseMeta(), history });
    }
    // Score the kept checkpoint (not the last epoch's weights) on the test set.
    const scored: Scored = history.stopReason === 'interrupted' ? {} : await scoreTest(out, data, { classNames, batchSize: settings.batchSize, interpolation, seed, verbose, ttaViews: settings.ttaViews });
    const metrics = { ...keptEpochMetrics(history, checkpoint.bestEpoch, monitor), ...scoredMetrics(scored) };
    const meta = await updateModelMeta(out, { history: { epoch: history.epoch, history: history.history }, metrics });
    await writeFileAtomic(join(out, 'history.csv'), historyToCsv(history));
    await writeFileAtomic(join(out, 'history.json'), JSON.stringify({ epoch: history.epoch, history: history.history }, null, 2) + '\n');
    return { out, meta, history, settings, ...scored };
  } finally {
    model?.dispose();
    for (const it of iterators) it.dispose();
  }
}

/** convkit.json's metrics of the kept epoch (the last one when none was checkpointed): its logs and how the run ended. */
function keptEpochMetrics(history: FitResult, keptEpoch: number, monitor: string): Record<string, unknown> {
  const bestEpoch = keptEpoch >= 0 ? keptEpoch : history.epoch[history.epoch.length - 1]!;
  const at = history.epoch.indexOf(bestEpoch);
  const epochLogs = Object.fromEntries(Object.entries(history.history).map(([k, v]) => [k, v[at]]));
  return { bestEpoch: bestEpoch + 1, monitor, ...epochLogs, stopReason: history.stopReason, epochsRun: history.epoch.length, trainSeconds: history.seconds };
}

export type { TrainingState };
