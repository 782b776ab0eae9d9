/**
 * The studies as declarative recipes: which steps run in which order, what
 * the book reports for each, and the per-step settings of every profile.
 * `quick` is one table (QUICK) of reduced settings chosen so that the whole
 * cats-vs-dogs study finishes in about a quarter of an hour on two cores
 * while keeping the ranking of the steps.
 */
import type { OptimizerName } from '../train/optimizers.js';
import type { ConvnetSettings, Profile } from '../recipes/recipe.js';
import { ConvkitError } from '../util/errors.js';

export type StepName = 'scratch' | 'augment' | 'features' | 'features-augment' | 'finetune';
export const STEP_NAMES: readonly StepName[] = ['scratch', 'augment', 'features', 'features-augment', 'finetune'];

export type StudyProfile = 'quick' | 'book' | 'best';
export const STUDY_PROFILES: readonly StudyProfile[] = ['quick', 'book', 'best'];

/** What a profile may change about one step (fields a step does not use are ignored). */
export interface StepSettings {
  /** Small-convnet steps: the recipe profile the step starts from (default: book, or best under --profile best). */
  recipeProfile?: Profile;
  /** Small-convnet steps: test-time augmentation views when the recipe scores the test set. */
  ttaViews?: number;
  epochs?: number;
  /** Square input side (small convnet: imageSize; pretrained base: its input size). */
  imageSize?: number;
  batchSize?: number;
  learningRate?: number;
  optimizer?: OptimizerName;
  /** Small-convnet steps: batches per epoch (default one pass). */
  stepsPerEpoch?: number;
  validationSteps?: number;
  /** features-augment / finetune: augmented variants per training image in the prefix cache. */
  variants?: number;
  /** features-augment: start from the features step's trained head instead of a new one. */
  headFromFeatures?: boolean;
  /** Small-convnet model knobs (filters, denseUnits). */
  model?: ConvnetSettings;
}

export interface StepDefinition {
  name: StepName;
  /** One line for the report. */
  description: string;
  /** The book's test accuracy [low, high], when it reports one. */
  book?: [number, number];
}

export interface StudyDefinition {
  name: string;
  title: string;
  steps: StepDefinition[];
  /** Face photos and the like: no image goes into the report unless asked for. */
  privateImages?: boolean;
  /** Notes shown in every report of this study. */
  notes?: string[];
  /** Changes to the QUICK table for this study. */
  quick?: Partial<Record<StepName, StepSettings>>;
}

const DESCRIPTIONS: Record<StepName, string> = {
  scratch: 'small convnet trained from scratch, no augmentation',
  augment: 'the same convnet with Dropout 0.5 and random augmentation of the training images',
  features: 'pretrained base run once over every image (features cached); a small dense head trained on the features',
  'features-augment': 'frozen pretrained base inside the model, head trained on augmented images',
  finetune: "the features-augment model with the base's top block unfrozen, trained at a low learning rate",
};

const step = (name: StepName, book?: [number, number]): StepDefinition => ({ name, description: DESCRIPTIONS[name], book });

export const STUDIES: Record<string, StudyDefinition> = {
  'cats-vs-dogs': {
    name: 'cats-vs-dogs',
    title: 'Cats vs dogs: from a small convnet to fine-tuning',
    steps: [
      step('scratch', [0.71, 0.74]),
      step('augment', [0.82, 0.85]),
      step('features', [0.9, 0.97]),
      step('features-augment', [0.96, 0.975]),
      step('finetune', [0.96, 0.975]),
    ],
  },
  gender: {
    name: 'gender',
    title: 'Gender from face photos: overfitting, then transfer learning',
    privateImages: true,
    steps: [step('scratch'), step('features'), step('features-augment'), step('finetune')],
    // Without an augment step there is time for the epochs that show the scratch convnet overfitting.
    quick: { scratch: { epochs: 14 } },
    notes: [
      'The face photos are non-commercial research data: this report holds only numbers and charts (run with --include-images to add images for local viewing; never publish such a report).',
    ],
  },
};

export function getStudy(name: string): StudyDefinition {
  const s = STUDIES[name];
  if (!s) throw new ConvkitError(`unknown study ${JSON.stringify(name)}`, `use one of: ${Object.keys(STUDIES).join(', ')}`);
  return s;
}

export function getStudyProfile(name: string): StudyProfile {
  if (!STUDY_PROFILES.includes(name as StudyProfile))
    throw new ConvkitError(`unknown --profile ${JSON.stringify(name)}`, `use one of: ${STUDY_PROFILES.join(', ')}`);
  return name as StudyProfile;
}

/**
 * The quick profile, per step: the book's recipes with fewer epochs,
 * smaller images and higher learning rates. The small convnet sees 80 px
 * images at RMSprop 5e-4; the augmented one gets the epochs augmentation
 * needs to pass the plain convnet. The pretrained base runs at its own
 * 224 px; its heads train with Adam, the augmented steps cache 2 variants
 * per training image, and features-augment continues from the features
 * step's head.
 */
export const QUICK: Record<StepName, StepSettings> = {
  scratch: { imageSize: 80, epochs: 6, batchSize: 32, learningRate: 5e-4 },
  augment: { imageSize: 80, epochs: 26, batchSize: 32, learningRate: 5e-4 },
  features: { imageSize: 224, epochs: 10, batchSize: 32, optimizer: 'adam', learningRate: 1e-3 },
  'features-augment': { imageSize: 224, epochs: 6, batchSize: 32, optimizer: 'adam', learningRate: 1e-3, variants: 2, headFromFeatures: true },
  finetune: { imageSize: 224, epochs: 4, batchSize: 20, learningRate: 1e-5, variants: 2 },
};

/** The best profile: the recipes' best settings, and features-augment continues from the features head. */
const BEST: Partial<Record<StepName, StepSettings>> = {
  'features-augment': { headFromFeatures: true },
};

/**
 * Settings the study adds to a recipe's own profile: `quick` is the QUICK
 * table, `best` the BEST one; `book` uses the recipes' book settings
 * unchanged.
 */
export function profileSettings(profile: StudyProfile, stepName: StepName, study?: StudyDefinition): StepSettings {
  if (profile === 'quick') return { ...QUICK[stepName], ...(study?.quick?.[stepName] ?? {}) };
  return profile === 'best' ? { ...(BEST[stepName] ?? {}) } : {};
}

/**
 * Seconds per training image-pass at 150 px (pretrained steps: per image
 * the base sees), measured on two cores with the native backend; only the
 * overall ETA before any step has finished uses them.
 */
export const COST_PER_IMAGE: Record<StepName, number> = {
  scratch: 0.025,
  augment: 0.025,
  features: 0.012,
  'features-augment': 0.008,
  finetune: 0.015,
};
