/**
 * trainRecipe(): the whole "train a classifier on a folder" run that
 * `convkit train` and every study step perform: check every split, then
 * either fit the recipe's model (fitRecipe) or run its own pipeline, and
 * score DIR/test (when present) the same way for both.
 */
import { join, resolve } from 'node:path';
import { trainingAugmentation } from '../augment/training-augmentation.js';
import { checkData, type DataCheckResult } from '../data/check.js';
import type { SkippedFile } from '../data/scan.js';
import { MODEL_FOLDER } from '../models/fs-io.js';
import type { Callback } from '../train/callbacks.js';
import { updateModelMeta } from '../train/saved-model.js';
import { claimOutputDir, lockOutput } from '../util/output-guard.js';
import { fitRecipe } from './fit-recipe.js';
import type { Profile, Recipe, SettingsOverrides } from './recipe.js';
import { getRecipe } from './registry.js';
import type { Run, RunResult } from './run.js';
import { scoreTest, scoredMetrics } from './score-test.js';
import { resolveSettings } from './settings.js';

export interface TrainRecipeOptions {
  recipe: string | Recipe;
  profile?: Profile;
  /** Folder with train/ and validation/ (and optionally test/), each with one sub-folder per class. */
  data: string;
  /** Model folder to write. */
  out: string;
  /** Settings laid over the profile's; one the recipe cannot honour is an error naming it. */
  overrides?: SettingsOverrides;
  seed?: number;
  verbose?: boolean;
  /** Cache root: decoded images in images/, a pretrained base's features in features/. */
  cacheDir?: string;
  /** Leave unreadable images out (listed in the result's `skipped`) instead of stopping. */
  skipBad?: boolean;
  /** The data already checked (a study checks once for all its steps): skips the check. */
  checked?: DataCheckResult;
  /** Extra user hooks, called after the recipe's own. */
  callbacks?: Callback[];
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export interface TrainRecipeResult extends RunResult {
  /** Images left out with `skipBad`, each with the reason. */
  skipped: SkippedFile[];
}

/** Before any work: the model folder and the cache may be written, and neither overlaps the data. */
async function claimOutputs(out: string, data: string, cacheDir: string | undefined): Promise<void> {
  const inputs = [{ path: data, flag: '--data' }];
  await claimOutputDir({ path: out, flag: '--out', ...MODEL_FOLDER, inputs });
  if (cacheDir !== undefined)
    await claimOutputDir({
      path: cacheDir,
      flag: '--cache-dir',
      what: 'a convkit cache',
      owns: async () => true,
      inputs: [...inputs, { path: out, flag: '--out' }],
    });
}

export async function trainRecipe(options: TrainRecipeOptions): Promise<TrainRecipeResult> {
  const { profile = 'book', seed = 1, verbose = true, log = (l: string) => console.error(l) } = options;
  const recipe = typeof options.recipe === 'string' ? getRecipe(options.recipe) : options.recipe;
  const settings = resolveSettings(recipe, profile, options.overrides);
  // A bad augmentation value fails here, before any image is read.
  trainingAugmentation(settings);
  const data = resolve(options.data),
    out = resolve(options.out);
  const cacheDir = options.cacheDir === undefined ? undefined : resolve(options.cacheDir);
  // Decoded images are cached only for the recipes that read them through the cache (the others cache features).
  const imageCacheDir = cacheDir !== undefined && !recipe.run ? join(cacheDir, 'images') : undefined;
  await claimOutputs(out, data, cacheDir);
  const release = await lockOutput(out, '--out');
  try {
    // Every split is read before the first epoch: a bad image, an empty class or a test/ with other
    // classes would otherwise surface only after the last epoch, leaving a model without its metrics.
    const checked =
      options.checked ??
      (await checkData(data, {
        imageSize: settings.imageSize,
        interpolation: settings.interpolation ?? 'bilinear',
        imageCacheDir,
        skipBad: options.skipBad,
        silent: !verbose,
        log,
        signal: options.signal,
      }));
    // With skipBad, checked.root is a view of the data without the bad files; convkit.json records the user's folder.
    const run: Run = {
      recipe,
      profile,
      settings,
      data: checked.root,
      source: data,
      out,
      seed,
      verbose,
      log,
      imageCacheDir,
      cacheDir,
      callbacks: options.callbacks,
      signal: options.signal,
    };
    const result = await (recipe.run ? runOwnPipeline(run, recipe.run) : fitRecipe(run, recipe.buildModel!));
    return { ...result, skipped: checked.skipped };
  } finally {
    await release();
  }
}

/** A recipe with its own pipeline (the transfer recipes): it writes the model; the test set is scored here like any other's. */
async function runOwnPipeline(o: Run, run: NonNullable<Recipe['run']>): Promise<RunResult> {
  const { data, out, settings, seed, verbose } = o;
  const r = await run({
    data,
    source: o.source,
    out,
    settings,
    profile: o.profile,
    seed,
    verbose,
    cacheDir: o.cacheDir,
    log: o.log,
    callbacks: o.callbacks,
    signal: o.signal,
  });
  const ran = { out, meta: r.meta, history: r.history, settings, timings: r.timings };
  if (r.history.stopReason === 'interrupted') return ran;
  const interpolation = (r.meta.preprocessing as { interpolation?: 'nearest' | 'bilinear' } | undefined)?.interpolation ?? settings.interpolation ?? 'bilinear';
  const scoring = { classNames: r.meta.classNames, batchSize: settings.batchSize, interpolation, seed, verbose };
  const scored = await scoreTest(out, data, { ...scoring, ttaViews: settings.ttaViews });
  const meta = scored.test ? await updateModelMeta(out, { metrics: { ...(r.meta.metrics ?? {}), ...scoredMetrics(scored) } }) : r.meta;
  return { ...ran, meta, ...scored };
}
