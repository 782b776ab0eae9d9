/**
 * Recipes: named, declarative training set-ups. Each has the book's exact
 * setting (`book`) and convkit's better default (`best`), and builds its own
 * model. The registry is open: other modules add recipes with registerRecipe().
 *
 *   scratch  — the small convnet from scratch, no augmentation (book: RMSprop 1e-4, batch 20, 150 px, 30 epochs)
 *   augment  — the same convnet with Dropout 0.5 and ImageDataGenerator augmentation (book: 100 epochs, batch 32)
 */
import type * as tf from '@tensorflow/tfjs';
import type { AugmentOptions, FillOptions } from '../augment/options.js';
import { smallCnn } from '../models/small-cnn.js';
import { ConvkitError } from '../util/errors.js';
import type { Callback } from './callbacks.js';
import type { FitResult } from './fit.js';
import type { ConvkitModelMeta } from './saved-model.js';
import type { ScheduleName, OptimizerName } from './optimizers.js';

export type Profile = 'book' | 'best';
export const PROFILES: readonly Profile[] = ['book', 'best'];

/** Random training-time augmentation (ImageDataGenerator options; pixels stay in 0..255, scaling is in the model). */
export type AugmentationSettings = AugmentOptions & FillOptions;

/** Everything a recipe fixes about one training run; CLI flags override single fields. */
export interface TrainSettings {
  /** Square input side in pixels. */
  imageSize: number;
  batchSize: number;
  epochs: number;
  optimizer: OptimizerName;
  learningRate: number;
  momentum?: number;
  schedule?: ScheduleName;
  labelSmoothing?: number;
  /** Dropout before the classifier's hidden Dense layer (0 = none). */
  dropout?: number;
  /** Training-set augmentation; absent = none (pixels only rescaled, inside the model). */
  augmentation?: AugmentationSettings;
  /** Metric that picks the checkpoint kept (default val_loss). */
  monitor?: string;
  /** Stop after this many epochs without improvement of `monitor`. */
  earlyStoppingPatience?: number;
  /** Divide the learning rate by 10 after this many epochs without improvement. */
  reduceLrPatience?: number;
  /** Test-time augmentation: views averaged when scoring the test set (1 = none). */
  ttaViews?: number;
  stepsPerEpoch?: number;
  validationSteps?: number;
  /** Resize filter for reading images. */
  interpolation?: 'nearest' | 'bilinear' | 'bicubic' | 'area';
  /** Model-specific knobs (e.g. smallCnn filters). */
  model?: Record<string, unknown>;
}

export interface BuildContext {
  settings: TrainSettings;
  numClasses: number;
  seed: number;
}

export interface Recipe {
  name: string;
  /** One line for --help. */
  summary: string;
  profiles: Record<Profile, TrainSettings>;
  /** The `settings.model` keys the recipe reads (default none): an override of any other is refused, never dropped. */
  modelOptions?: readonly string[];
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
}

export interface RecipeRunOptions {
  data: string;
  out: string;
  settings: TrainSettings;
  profile: Profile;
  seed: number;
  verbose: boolean;
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
  [key: string]: unknown;
}

const registry = new Map<string, Recipe>();

export function registerRecipe(recipe: Recipe): void {
  if (!recipe.buildModel && !recipe.run) throw new ConvkitError(`recipe ${recipe.name} has neither buildModel nor run`, 'give the recipe one of them');
  registry.set(recipe.name, recipe);
}

export function recipeNames(): string[] {
  return [...registry.keys()];
}

export function getRecipe(name: string): Recipe {
  const r = registry.get(name);
  if (!r) throw new ConvkitError(`unknown recipe ${JSON.stringify(name)}`, `use one of: ${recipeNames().join(', ')}`);
  return r;
}

export function getProfile(name: string): Profile {
  if (!PROFILES.includes(name as Profile)) throw new ConvkitError(`unknown profile ${JSON.stringify(name)}`, `use one of: ${PROFILES.join(', ')}`);
  return name as Profile;
}

const defined = <T extends object>(o: T): Partial<T> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;

/** How an option is spelled on the command line (`denseUnits` → `--dense-units`), for messages. */
function flagOf(option: string): string {
  return option === 'prefixCache' ? '--no-prefix-cache' : `--${option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** An option `recipe` cannot honour (a model knob it does not read, a setting it cannot apply), or undefined. */
function refusedOption(recipe: Recipe, overrides: Partial<TrainSettings>): { option: string; usedBy: string[] } | undefined {
  const model = Object.keys(defined(overrides.model ?? {})).find((k) => !(recipe.modelOptions ?? []).includes(k));
  if (model !== undefined) return { option: model, usedBy: [...registry.values()].filter((r) => r.modelOptions?.includes(model)).map((r) => r.name) };
  const setting = (recipe.unsupported ?? []).find((k) => overrides[k] !== undefined);
  if (setting !== undefined) return { option: setting, usedBy: [...registry.values()].filter((r) => !r.unsupported?.includes(setting)).map((r) => r.name) };
  return undefined;
}

/**
 * The settings of `recipe` under `profile` with `overrides` applied
 * (undefined fields ignored). An override the recipe cannot honour is an
 * error naming the option and the recipe: silently training without it
 * would mislead.
 */
export function resolveSettings(recipe: Recipe, profile: Profile, overrides: Partial<TrainSettings> = {}): TrainSettings {
  const refused = refusedOption(recipe, overrides);
  if (refused) {
    const { option, usedBy } = refused;
    throw new ConvkitError(`recipe ${recipe.name} cannot use ${flagOf(option)} (${option})`, `leave ${flagOf(option)} out${usedBy.length ? `; it applies to recipe ${usedBy.join(', ')}` : ''}`);
  }
  const base = recipe.profiles[profile];
  const clean = defined(overrides);
  return { ...base, ...clean, model: { ...(base.model ?? {}), ...defined(clean.model ?? {}) } };
}

/** The small convnet's knobs (`settings.model`) that buildSmallCnn reads. */
const SMALL_CNN_OPTIONS = ['filters', 'denseUnits'] as const;

function buildSmallCnn({ settings, numClasses, seed }: BuildContext): tf.LayersModel {
  const m = settings.model ?? {};
  return smallCnn({
    inputShape: [settings.imageSize, settings.imageSize, 3], numClasses, dropout: settings.dropout ?? 0, seed,
    filters: m.filters as number[] | undefined, denseUnits: m.denseUnits as number | undefined,
  });
}

/** The book's augmentation (Deep Learning with Python, 5.2.5). */
export const BOOK_AUGMENTATION: AugmentationSettings = {
  rotationRange: 40, widthShiftRange: 0.2, heightShiftRange: 0.2, shearRange: 0.2, zoomRange: 0.2, horizontalFlip: true, fillMode: 'nearest',
};

/** convkit's lighter augmentation (the best profiles): small rotations and shears, mirrored borders. */
export const LIGHT_AUGMENTATION: AugmentationSettings = {
  rotationRange: 20, widthShiftRange: 0.15, heightShiftRange: 0.15, shearRange: 0.1, zoomRange: 0.2, horizontalFlip: true, fillMode: 'reflect',
};

export const scratch: Recipe = {
  name: 'scratch',
  summary: 'small convnet trained from scratch, no augmentation',
  profiles: {
    book: { imageSize: 150, batchSize: 20, epochs: 30, optimizer: 'rmsprop', learningRate: 1e-4, dropout: 0, monitor: 'val_loss', interpolation: 'nearest' },
    // Adam with warm-up + cosine decay and light label smoothing; the checkpoint keeps the best epoch, so overfitting late costs nothing.
    best: { imageSize: 150, batchSize: 32, epochs: 30, optimizer: 'adam', learningRate: 1e-3, schedule: 'cosine', labelSmoothing: 0.1, dropout: 0.5, monitor: 'val_acc', earlyStoppingPatience: 8, ttaViews: 4, interpolation: 'bilinear' },
  },
  modelOptions: SMALL_CNN_OPTIONS,
  buildModel: buildSmallCnn,
};

export const augment: Recipe = {
  name: 'augment',
  summary: 'small convnet with Dropout 0.5 and data augmentation (rotation, shifts, shear, zoom, flips)',
  profiles: {
    // The book's generator loops: 100 steps of 32 augmented images per epoch (1.6 passes), 50 validation steps.
    book: { imageSize: 150, batchSize: 32, epochs: 100, stepsPerEpoch: 100, validationSteps: 50, optimizer: 'rmsprop', learningRate: 1e-4, dropout: 0.5, augmentation: BOOK_AUGMENTATION, monitor: 'val_loss', interpolation: 'nearest' },
    best: {
      imageSize: 150, batchSize: 32, epochs: 100, optimizer: 'adam', learningRate: 1e-3, schedule: 'one-cycle', labelSmoothing: 0.1, dropout: 0.5,
      augmentation: LIGHT_AUGMENTATION,
      monitor: 'val_acc', earlyStoppingPatience: 20, ttaViews: 4, interpolation: 'bilinear',
    },
  },
  modelOptions: SMALL_CNN_OPTIONS,
  buildModel: buildSmallCnn,
};

registerRecipe(scratch);
registerRecipe(augment);
