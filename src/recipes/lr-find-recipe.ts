/**
 * lrFindRecipe(): the learning-rate range test of a recipe on a data
 * folder, with the recipe's settings under a profile (`convkit lr-find`).
 * A model-building recipe is tested on its untrained model over the
 * training images; a transfer recipe on what it trains (the head over
 * cached features). Nothing is trained or saved; a cache may be filled.
 */
import { join, resolve } from 'node:path';
import type { LrFindOptions, LrFindResult } from '../train/lr-find.js';
import { ConvkitError } from '../util/errors.js';
import { claimOutputDir } from '../util/output-guard.js';
import { findFitRecipeLr } from './fit-recipe.js';
import type { Profile, Recipe, RecipeSettings, SettingsOverrides } from './recipe.js';
import { getRecipe } from './registry.js';
import type { Run } from './run.js';
import { resolveSettings } from './settings.js';

export interface LrFindRecipeOptions {
  recipe: string | Recipe;
  profile?: Profile;
  /** Folder with train/ (and validation/), one sub-folder per class. */
  data: string;
  overrides?: SettingsOverrides;
  seed?: number;
  verbose?: boolean;
  /** Cache root: decoded images in images/, a pretrained base's features in features/. */
  cacheDir?: string;
  /** The range test's own options (start and end rate, batches, divergence). */
  finder?: LrFindOptions;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export interface LrFindRecipeResult extends LrFindResult {
  recipe: string;
  profile: Profile;
  settings: RecipeSettings;
}

export async function lrFindRecipe(options: LrFindRecipeOptions): Promise<LrFindRecipeResult> {
  const { profile = 'book', seed = 1, verbose = true, log = (l: string) => console.error(l), finder = {} } = options;
  const recipe = typeof options.recipe === 'string' ? getRecipe(options.recipe) : options.recipe;
  const settings = resolveSettings(recipe, profile, options.overrides);
  const data = resolve(options.data);
  const cacheDir = options.cacheDir === undefined ? undefined : resolve(options.cacheDir);
  if (cacheDir !== undefined)
    await claimOutputDir({ path: cacheDir, flag: '--cache-dir', what: 'a convkit cache', owns: async () => true, inputs: [{ path: data, flag: '--data' }] });
  const common = { settings, profile, seed, verbose, log, signal: options.signal, cacheDir };
  let result: LrFindResult;
  if (recipe.run) {
    if (!recipe.findLearningRate)
      throw new ConvkitError(`recipe ${recipe.name} cannot run the learning-rate finder`, 'give it a --learning-rate, or run the finder on another recipe');
    result = await recipe.findLearningRate({ ...common, data, out: '' }, finder);
  } else {
    const run: Run = { ...common, recipe, data, source: data, out: '', imageCacheDir: cacheDir === undefined ? undefined : join(cacheDir, 'images') };
    result = await findFitRecipeLr(run, recipe.buildModel!, finder);
  }
  return { ...result, recipe: recipe.name, profile, settings };
}
