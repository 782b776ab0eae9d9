/**
 * What a recipe is: a named, declarative training set-up with the book's
 * exact setting (`book`) and convkit's better default (`best`). A recipe
 * either builds a model that trainRecipe fits (the small convnets), or runs
 * its own pipeline (the transfer recipes, which cache a base's features).
 * Its settings are typed: the run's (TrainSettings), the small convnet's
 * (`model`) and the pretrained base's (`transfer`).
 */
import type * as tf from '@tensorflow/tfjs';
import type { Callback } from '../train/callbacks.js';
import type { FitResult } from '../train/fit.js';
import type { LrFindOptions, LrFindResult } from '../train/lr-find.js';
import type { ConvkitModelMeta } from '../train/model-meta.js';
import type { TrainSettings } from '../train/settings.js';
import type { PretrainedBase } from '../transfer/bases.js';
import type { Pooling } from '../transfer/head.js';

export type Profile = 'book' | 'best';
export const PROFILES: readonly Profile[] = ['book', 'best'];

/** The knobs of the convnets trained from scratch. */
export interface ConvnetSettings {
  /** Filters of the conv blocks (small convnet: 32, 64, 128, 128; mini-Xception: 32 … 512) or the stage widths (xresnet: 64 … 512). */
  filters?: number[];
  /** Units of the hidden Dense layer (book: 512). */
  denseUnits?: number;
  /** xresnet: multiplier of the stage widths (fastai's `widen`). */
  widen?: number;
  /** xception, xresnet: BatchNormalization's momentum, Keras's (0.99; PyTorch's momentum 0.1 is 0.9). */
  batchNormMomentum?: number;
}

/** The pretrained-base recipes' knobs. */
export interface TransferSettings {
  /** Base name (mobilenet_v1, mobilenet_v2, vgg16) or a loaded base; default the `from` model's base, else mobilenet_v1. */
  base?: string | PretrainedBase;
  /** finetune: the features-augment model folder to start from; features-augment: a features model whose head starts the new one. */
  from?: string;
  /** Head pooling (default: Flatten for small feature maps, global average pooling otherwise). */
  pooling?: Pooling;
  /** Augmented variants per training image in the frozen-prefix cache. */
  variants?: number;
  /** Train on cached frozen-prefix activations (default true). */
  prefixCache?: boolean;
  /** finetune: blocks of the base to unfreeze, or 'all'. */
  unfreezeBlocks?: number | 'all';
  /** features: a merged feature folder (`convkit features merge`) read instead of running the base. */
  features?: string;
}

/** A recipe's whole setting: the run's, and the sections of the model kinds it builds. */
export interface RecipeSettings extends TrainSettings {
  model?: ConvnetSettings;
  transfer?: TransferSettings;
}

/** The name of a model or transfer knob, as recipes list the ones they read. */
export type KnobName = keyof ConvnetSettings | keyof TransferSettings;

/** Overrides of a recipe's settings: any field, sections merged field by field. */
export type SettingsOverrides = Partial<TrainSettings> & { model?: Partial<ConvnetSettings>; transfer?: Partial<TransferSettings> };

export interface BuildContext {
  settings: RecipeSettings;
  numClasses: number;
  seed: number;
}

export interface Recipe {
  name: string;
  /** One line for --help. */
  summary: string;
  profiles: Record<Profile, RecipeSettings>;
  /** The `model` and `transfer` knobs the recipe reads (default none): an override of any other is refused, never dropped. */
  options?: readonly KnobName[];
  /** Settings the recipe cannot apply: an override of one is refused. */
  unsupported?: readonly (keyof TrainSettings)[];
  /** Builds the untrained (or pretrained-base) model; it takes RGB pixels in [0, 255]. */
  buildModel?(ctx: BuildContext): tf.LayersModel | Promise<tf.LayersModel>;
  /**
   * Replaces the whole run (data reading, training, saving) when present, for
   * recipes with their own pipeline (e.g. cached features of a pretrained base).
   * It must write a convkit model folder to `options.out`.
   */
  run?(options: RecipeRunOptions): Promise<RecipeRunResult>;
  /**
   * The learning-rate range test on what the recipe trains, for a recipe with
   * its own pipeline (a model-building recipe is tested on its model); it
   * trains and saves nothing (`options.out` is unused).
   */
  findLearningRate?(options: RecipeRunOptions, finder: LrFindOptions): Promise<LrFindResult>;
}

export interface RecipeRunOptions {
  data: string;
  /** The data folder as the user named it, for convkit.json (`data` may be a view of it without bad files). */
  source?: string;
  out: string;
  settings: RecipeSettings;
  profile: Profile;
  seed: number;
  verbose: boolean;
  /** Cache root: decoded images in images/, a base's features in features/. */
  cacheDir?: string;
  log: (line: string) => void;
  /** The user's hooks, called after the recipe's own. */
  callbacks?: Callback[];
  /** Stops training after the current batch (and any long pass over the images) when aborted. */
  signal?: AbortSignal;
}

export interface RecipeRunResult {
  meta: ConvkitModelMeta;
  history: FitResult;
  /** Seconds by phase (e.g. features, train). */
  timings?: Record<string, number>;
}
