/**
 * What one trainRecipe() call hands the two kinds of recipe (those that
 * build a model, those with their own pipeline), and what they give back.
 */
import type { Callback } from '../train/callbacks.js';
import type { EvaluationResult } from '../train/evaluate.js';
import type { FitResult } from '../train/fit.js';
import type { ConvkitModelMeta } from '../train/model-meta.js';
import type { TtaChoice } from '../train/tta.js';
import type { Profile, Recipe, RecipeSettings } from './recipe.js';

export interface Run {
  recipe: Recipe;
  profile: Profile;
  settings: RecipeSettings;
  /** The data folder to read (with skipBad, a view of the user's folder without the bad files). */
  data: string;
  /** The folder the user gave, as convkit.json records it. */
  source: string;
  out: string;
  seed: number;
  verbose: boolean;
  log: (line: string) => void;
  /** Disk cache of decoded images, or undefined. */
  imageCacheDir?: string;
  /** Cache root (images/, features/), or undefined. */
  cacheDir?: string;
  callbacks?: Callback[];
  signal?: AbortSignal;
}

export interface RunResult {
  out: string;
  meta: ConvkitModelMeta;
  history: FitResult;
  settings: RecipeSettings;
  test?: EvaluationResult;
  testTta?: EvaluationResult;
  /** With `ttaViews`: validation with and without TTA, and whether TTA is worth using. */
  ttaChoice?: TtaChoice;
  /** Seconds by phase (e.g. features, train), when the recipe reports them. */
  timings?: Record<string, number>;
}
