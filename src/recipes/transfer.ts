/**
 * The transfer recipes (features, features-augment, finetune) as recipes,
 * so `convkit train --recipe …` and the studies run them through
 * trainRecipe. Their base-specific knobs are the typed `transfer` section;
 * a knob a recipe does not read is refused rather than dropped.
 */
import { join } from 'node:path';
import { BOOK_AUGMENTATION, LIGHT_AUGMENTATION, type AugmentationSettings } from '../augment/presets.js';
import { trainingAugmentation } from '../augment/training-augmentation.js';
import { TRANSFER_RECIPES, findTransferLr, type TransferOptions, type TransferRecipe } from '../transfer/recipes.js';
import type { KnobName, Recipe, RecipeRunOptions, RecipeSettings } from './recipe.js';

/** The book's and convkit's settings of a transfer recipe (studies use them too). */
function transferProfiles(r: TransferRecipe): Recipe['profiles'] {
  const book: RecipeSettings = {
    imageSize: 224,
    batchSize: r.defaults.batchSize,
    epochs: r.defaults.epochs,
    optimizer: 'rmsprop',
    learningRate: r.defaults.learningRate,
    interpolation: 'bilinear',
  };
  // Adam for the heads converges in far fewer epochs than the book's RMSprop 2e-5. Fine-tuning opens the
  // whole base (photos far from ImageNet's, faces, need more than the top block) at a low rate decayed
  // by a cosine, on freshly augmented images each epoch; the lighter augmentation suits aligned photos.
  // Like the scratch and augment recipes' best profiles, the test set is also scored with 4-view TTA.
  const best: RecipeSettings =
    r.name === 'finetune'
      ? {
          ...book,
          epochs: 10,
          optimizer: 'adam',
          learningRate: 5e-5,
          schedule: 'cosine',
          augmentation: LIGHT_AUGMENTATION,
          monitor: 'val_acc',
          ttaViews: 4,
          transfer: { unfreezeBlocks: 'all', prefixCache: false },
        }
      : r.name === 'features-augment'
        ? { ...book, epochs: 10, batchSize: 32, optimizer: 'adam', learningRate: 1e-3, augmentation: LIGHT_AUGMENTATION, monitor: 'val_acc', ttaViews: 4 }
        : { ...book, epochs: 15, batchSize: 32, optimizer: 'adam', learningRate: 1e-3, monitor: 'val_acc', ttaViews: 4 };
  return { book, best };
}

/** The `transfer` knobs each transfer recipe reads (anything else is refused by resolveSettings). */
const OPTIONS: Record<TransferRecipe['name'], readonly KnobName[]> = {
  features: ['base', 'pooling', 'features'],
  'features-augment': ['base', 'pooling', 'from', 'variants', 'prefixCache'],
  finetune: ['base', 'pooling', 'from', 'variants', 'prefixCache', 'unfreezeBlocks'],
};

/** Per-image augmentation: the features recipe trains on features cached once per image. */
const PER_IMAGE_AUGMENTATION = ['augmentation', 'randAugment', 'trivialAugment', 'randomErasing'] as const;
/** MixUp and CutMix mix batches of images; these recipes train on cached features or activations. */
const BATCH_MIXING = ['mixup', 'cutmix'] as const;

/** The settings each transfer recipe cannot apply (resolveSettings refuses an override of one). */
const UNSUPPORTED: Record<TransferRecipe['name'], NonNullable<Recipe['unsupported']>> = {
  features: ['dropout', ...PER_IMAGE_AUGMENTATION, ...BATCH_MIXING, 'lowestLearningRate', 'weightDecay'],
  'features-augment': ['dropout', ...BATCH_MIXING, 'lowestLearningRate', 'sampling', 'weightDecay'],
  finetune: ['dropout', ...BATCH_MIXING, 'autoLearningRate', 'sampling', 'weightDecay'],
};

/** features-augment, finetune: RandAugment, TrivialAugment and random erasing laid over the recipe's augmentation (the book's when it has none). */
function transferAugmentation(s: RecipeSettings): AugmentationSettings | undefined {
  const strong = Boolean(s.randAugment || s.trivialAugment || s.randomErasing);
  return strong ? trainingAugmentation({ ...s, augmentation: s.augmentation ?? BOOK_AUGMENTATION }).augmentation : s.augmentation;
}

/** The recipe's settings as TransferOptions: every one a transfer recipe honours, none dropped. */
function transferOptions(o: RecipeRunOptions): TransferOptions {
  const s = o.settings,
    t = s.transfer ?? {};
  return {
    base: t.base,
    data: o.data,
    source: o.source,
    out: o.out,
    seed: o.seed,
    epochs: s.epochs,
    batchSize: s.batchSize,
    learningRate: s.learningRate,
    optimizer: s.optimizer,
    momentum: s.momentum,
    schedule: s.schedule,
    labelSmoothing: s.labelSmoothing,
    stepsPerEpoch: s.stepsPerEpoch,
    validationSteps: s.validationSteps,
    monitor: s.monitor,
    earlyStoppingPatience: s.earlyStoppingPatience,
    reduceLrPatience: s.reduceLrPatience,
    augmentation: transferAugmentation(s),
    interpolation: s.interpolation,
    autoLearningRate: s.autoLearningRate,
    lowestLearningRate: s.lowestLearningRate,
    ema: s.ema,
    classWeight: s.classWeight,
    sampling: s.sampling,
    inputSize: [s.imageSize, s.imageSize],
    cacheDir: o.cacheDir ? join(o.cacheDir, 'features') : undefined,
    pooling: t.pooling,
    variants: t.variants,
    prefixCache: t.prefixCache,
    from: t.from,
    unfreezeBlocks: t.unfreezeBlocks,
    features: t.features,
    callbacks: o.callbacks,
    signal: o.signal,
    silent: !o.verbose,
    log: o.log,
  };
}

function asRegistryRecipe(r: TransferRecipe): Recipe {
  return {
    name: r.name,
    summary: r.summary,
    profiles: transferProfiles(r),
    options: OPTIONS[r.name],
    // The head's Dropout is the book's 0.5; the features recipe trains on plain (cached) features. A range of
    // rates spreads over unfrozen blocks (finetune only); balanced sampling needs the examples in memory (features);
    // the range test needs a cheap trainable part (not finetune's unfrozen base).
    unsupported: UNSUPPORTED[r.name],
    async run(o) {
      const result = await r.run(transferOptions(o));
      result.model.dispose();
      return { meta: result.meta, history: result.history, timings: result.timings };
    },
    findLearningRate: (o, finder) => findTransferLr(r.name, transferOptions(o), finder),
  };
}

export const TRANSFER_REGISTRY_RECIPES: readonly Recipe[] = Object.values(TRANSFER_RECIPES).map(asRegistryRecipe);
