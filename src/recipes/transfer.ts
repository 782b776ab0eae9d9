/**
 * The transfer recipes (features, features-augment, finetune) as recipes,
 * so `convkit train --recipe …` and the studies run them through
 * trainRecipe. Their base-specific knobs are the typed `transfer` section;
 * a knob a recipe does not read is refused rather than dropped.
 */
import { join } from 'node:path';
import { LIGHT_AUGMENTATION } from '../augment/presets.js';
import { TRANSFER_RECIPES, type TransferOptions, type TransferRecipe } from '../transfer/recipes.js';
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
  features: ['base', 'pooling'],
  'features-augment': ['base', 'pooling', 'from', 'variants', 'prefixCache'],
  finetune: ['base', 'pooling', 'from', 'variants', 'prefixCache', 'unfreezeBlocks'],
};

/** The recipe's settings as TransferOptions: every one a transfer recipe honours, none dropped. */
function transferOptions(o: RecipeRunOptions): TransferOptions {
  const s = o.settings,
    t = s.transfer ?? {};
  return {
    base: t.base,
    data: o.data,
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
    augmentation: s.augmentation,
    interpolation: s.interpolation,
    inputSize: [s.imageSize, s.imageSize],
    cacheDir: o.cacheDir ? join(o.cacheDir, 'features') : undefined,
    pooling: t.pooling,
    variants: t.variants,
    prefixCache: t.prefixCache,
    from: t.from,
    unfreezeBlocks: t.unfreezeBlocks,
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
    // The head's Dropout is the book's 0.5; the features recipe trains on plain (cached) features.
    unsupported: r.name === 'features' ? ['dropout', 'augmentation'] : ['dropout'],
    async run(o) {
      const result = await r.run(transferOptions(o));
      result.model.dispose();
      return { meta: result.meta, history: result.history, timings: result.timings };
    },
  };
}

export const TRANSFER_REGISTRY_RECIPES: readonly Recipe[] = Object.values(TRANSFER_RECIPES).map(asRegistryRecipe);
