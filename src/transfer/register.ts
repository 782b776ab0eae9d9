/**
 * The transfer recipes in the training-recipe registry (src/train/recipes.ts),
 * so `convkit train --recipe features|features-augment|finetune` runs them.
 * Importing this module registers them. Transfer-specific settings come in
 * `settings.model`: base (default mobilenet_v1), from (finetune), pooling,
 * variants, prefixCache, unfreezeBlocks.
 */
import { join } from 'node:path';
import { LIGHT_AUGMENTATION, registerRecipe, type Recipe, type TrainSettings } from '../train/recipes.js';
import type { OptimizerName } from '../train/optimizers.js';
import { TRANSFER_RECIPES, type TransferOptions, type TransferRecipe } from './recipes.js';
import type { Pooling } from './head.js';

/** The book's and convkit's settings of a transfer recipe (studies use them too). */
export function transferProfiles(r: TransferRecipe): Recipe['profiles'] {
  const book: TrainSettings = { imageSize: 224, batchSize: r.defaults.batchSize, epochs: r.defaults.epochs, optimizer: 'rmsprop', learningRate: r.defaults.learningRate, interpolation: 'bilinear' };
  // Adam for the heads converges in far fewer epochs than the book's RMSprop 2e-5. Fine-tuning opens the
  // whole base (photos far from ImageNet's, faces, need more than the top block) at a low rate decayed
  // by a cosine, on freshly augmented images each epoch; the lighter augmentation suits aligned photos.
  // Like the scratch and augment recipes' best profiles, the test set is also scored with 4-view TTA.
  const best: TrainSettings = r.name === 'finetune'
    ? { ...book, epochs: 10, optimizer: 'adam', learningRate: 5e-5, schedule: 'cosine', augmentation: LIGHT_AUGMENTATION, monitor: 'val_acc', ttaViews: 4, model: { unfreezeBlocks: 'all', prefixCache: false } }
    : r.name === 'features-augment'
      ? { ...book, epochs: 10, batchSize: 32, optimizer: 'adam', learningRate: 1e-3, augmentation: LIGHT_AUGMENTATION, monitor: 'val_acc', ttaViews: 4 }
      : { ...book, epochs: 15, batchSize: 32, optimizer: 'adam', learningRate: 1e-3, monitor: 'val_acc', ttaViews: 4 };
  return { book, best };
}

function asRegistryRecipe(r: TransferRecipe): Recipe {
  return {
    name: r.name,
    summary: r.summary,
    profiles: transferProfiles(r),
    async run(o) {
      const m = o.settings.model ?? {};
      const options: TransferOptions = {
        base: (m.base as string | undefined) ?? 'mobilenet_v1',
        data: o.data,
        out: o.out,
        epochs: o.settings.epochs,
        batchSize: o.settings.batchSize,
        learningRate: o.settings.learningRate,
        optimizer: o.settings.optimizer as OptimizerName,
        inputSize: [o.settings.imageSize, o.settings.imageSize],
        seed: o.seed,
        cacheDir: o.cacheDir ? join(o.cacheDir, 'features') : undefined,
        pooling: m.pooling as Pooling | undefined,
        variants: m.variants as number | undefined,
        prefixCache: m.prefixCache as boolean | undefined,
        from: m.from as string | undefined,
        unfreezeBlocks: m.unfreezeBlocks as number | 'all' | undefined,
        schedule: o.settings.schedule,
        monitor: o.settings.monitor,
        augmentation: o.settings.augmentation,
        silent: !o.verbose,
        log: o.log,
      };
      const result = await r.run(options);
      return { meta: result.meta, history: result.history, metrics: result.metrics, timings: result.timings };
    },
  };
}

for (const r of Object.values(TRANSFER_RECIPES)) registerRecipe(asRegistryRecipe(r));
