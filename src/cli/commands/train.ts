import { join } from 'node:path';
import { initBackend } from '../../backend/index.js';
import { learningCurves, writeFigure, confusionMatrixChart } from '../../report/plots.js';
import type { ConvnetSettings, SettingsOverrides, TransferSettings } from '../../recipes/recipe.js';
import { getProfile, getRecipe, recipeNames } from '../../recipes/registry.js';
import { trainRecipe } from '../../recipes/train-recipe.js';
import { OPTIMIZERS, SCHEDULES, type OptimizerName, type ScheduleName } from '../../train/optimizers.js';
import { ConvkitError } from '../../util/errors.js';
import { intFlag, intListFlag, MAX_IMAGE_SIZE, numberFlag, parseCommandArgs } from '../args.js';
import { listSkipped } from '../bad-files.js';
import type { Command } from '../command.js';
import { TRAINING_TOOL_OPTIONS, TRAINING_TOOL_USAGE, trainingToolOverrides } from '../training-flags.js';
import { BATCH_MIX_OPTIONS, BATCH_MIX_USAGE, PER_IMAGE_AUGMENT_OPTIONS, PER_IMAGE_AUGMENT_USAGE, augmentOverrides } from '../augment-flags.js';

const spec = {
  name: 'train',
  usage: `convkit train --recipe NAME --data DIR --out MODEL_DIR [options]
  Trains an image classifier on DIR/train, keeps the best epoch (by validation)
  in MODEL_DIR, and scores DIR/test when it exists.

  --recipe NAME          ${recipeNames().join(' | ')}
  --data DIR             folder with train/ and validation/ (test/ optional), one sub-folder per class
  --out MODEL_DIR        model folder to write (model.json, weights.bin, convkit.json, history, plots)
  --profile book|best    the book's exact settings (default) or convkit's better default
  --epochs N             --batch-size N   --image-size N
  --optimizer NAME       ${OPTIMIZERS.join(' | ')}
  --schedule NAME        learning-rate schedule: ${SCHEDULES.join(' | ')} (default: the profile's)
  --weight-decay X       decoupled weight decay of the kernels (AdamW's; fastai's wd), e.g. 0.01
  --label-smoothing X    label smoothing ε in [0, 1), e.g. 0.1
${TRAINING_TOOL_USAGE}
${PER_IMAGE_AUGMENT_USAGE}
${BATCH_MIX_USAGE}
  --steps-per-epoch N    batches per epoch (default: one pass over train/)
  --validation-steps N   validation batches per epoch (default: one pass)
  --seed N               fixes weights, shuffling, augmentation and dropout (default 1)
  --base NAME            pretrained base of the transfer recipes (mobilenet_v1, mobilenet_v2, vgg16;
                         default: the --from model's, else mobilenet_v1); NAME+NAME: both bases'
                         features side by side (features, features-augment)
  --from MODEL_DIR       finetune: the features-augment model to start from;
                         features-augment: a features model whose head it continues
  --unfreeze-blocks N    finetune: top blocks of the base to train (default 1: VGG16 block5, MobileNet's last block; all)
  --variants K           features-augment, finetune: augmented variants per training image in the frozen-prefix cache (default 5)
  --no-prefix-cache      features-augment, finetune: run the frozen base at every step on freshly augmented images
  --features FEAT_DIR    features: train on features merged by "convkit features merge" instead of running the base
                         (refused unless they match the base, --image-size and the files of --data)
  --filters A,B,..       conv filters per stage of the small convnet (default 32,64,128,128), of the
                         xception blocks (32,64,128,256,512) or xresnet's stage widths (64,128,256,512)
  --dense-units N        units of the small convnet's hidden Dense layer (default 512)
  --widen X              xresnet: multiplier of the stage widths (fastai's widen; 0.5 halves them)
  --batch-norm-momentum X
                         xception, xresnet: BatchNormalization's momentum, Keras's sense (xception 0.99,
                         xresnet 0.9: PyTorch's and fastai's momentum 0.1)
  --cache-dir DIR        disk cache: decoded images (images/) and a pretrained base's features (features/)
  --skip-bad             leave out images that cannot be read (listed) instead of stopping
  --no-plots             skip the learning-curve and confusion-matrix figures
  --quiet                no progress output
  --json                 print the result as one JSON object`,
  options: {
    recipe: { type: 'string' },
    data: { type: 'string' },
    out: { type: 'string' },
    profile: { type: 'string' },
    epochs: { type: 'string' },
    'batch-size': { type: 'string' },
    'image-size': { type: 'string' },
    ...TRAINING_TOOL_OPTIONS,
    ...PER_IMAGE_AUGMENT_OPTIONS,
    ...BATCH_MIX_OPTIONS,
    optimizer: { type: 'string' },
    schedule: { type: 'string' },
    'weight-decay': { type: 'string' },
    'label-smoothing': { type: 'string' },
    widen: { type: 'string' },
    'batch-norm-momentum': { type: 'string' },
    'steps-per-epoch': { type: 'string' },
    'validation-steps': { type: 'string' },
    seed: { type: 'string' },
    filters: { type: 'string' },
    base: { type: 'string' },
    from: { type: 'string' },
    'unfreeze-blocks': { type: 'string' },
    variants: { type: 'string' },
    'no-prefix-cache': { type: 'boolean' },
    features: { type: 'string' },
    'dense-units': { type: 'string' },
    'cache-dir': { type: 'string' },
    'no-plots': { type: 'boolean' },
    quiet: { type: 'boolean' },
    json: { type: 'boolean' },
    'skip-bad': { type: 'boolean' },
  },
} as const;

function required(value: string | undefined, flag: string): string {
  if (!value) throw new ConvkitError(`--${flag} is required`, `see "convkit train --help"`);
  return value;
}

const train: Command = {
  async run(argv) {
    const { values: v } = parseCommandArgs(spec, argv);
    if (v.help) {
      console.log(spec.usage);
      return 0;
    }
    const recipe = getRecipe(required(v.recipe, 'recipe'));
    const data = required(v.data, 'data'),
      out = required(v.out, 'out');
    const profile = getProfile(v.profile ?? 'book');
    if (v.optimizer !== undefined && !OPTIMIZERS.includes(v.optimizer as OptimizerName)) {
      throw new ConvkitError(`invalid --optimizer: ${JSON.stringify(v.optimizer)}`, `use one of ${OPTIMIZERS.join(', ')}`);
    }
    if (v.schedule !== undefined && !SCHEDULES.includes(v.schedule as ScheduleName)) {
      throw new ConvkitError(`invalid --schedule: ${JSON.stringify(v.schedule)}`, `use one of ${SCHEDULES.join(', ')}`);
    }
    const optional = (value: string | undefined, flag: string, min: number, max?: number) =>
      value === undefined ? undefined : intFlag(value, flag, 0, min, max);
    const ranged = (value: string | undefined, flag: string, ok: (x: number) => boolean, expected: string) => {
      if (value === undefined) return undefined;
      const x = numberFlag(value, flag, Number.NaN);
      if (!ok(x)) throw new ConvkitError(`invalid --${flag}: ${JSON.stringify(value)}`, `--${flag} must be ${expected}`);
      return x;
    };
    const model: Partial<ConvnetSettings> = {
      filters: v.filters === undefined ? undefined : intListFlag(v.filters, 'filters'),
      denseUnits: v['dense-units'] === undefined ? undefined : intFlag(v['dense-units'], 'dense-units', 512, 1),
      widen: ranged(v.widen, 'widen', (x) => x > 0, 'a number > 0 such as 0.5'),
      batchNormMomentum: ranged(v['batch-norm-momentum'], 'batch-norm-momentum', (x) => x >= 0 && x < 1, 'a number in [0, 1) such as 0.9'),
    };
    const unfreeze = v['unfreeze-blocks'];
    const transfer: Partial<TransferSettings> = {
      base: v.base,
      from: v.from,
      unfreezeBlocks: unfreeze === undefined ? undefined : unfreeze === 'all' ? 'all' : intFlag(unfreeze, 'unfreeze-blocks', 1, 1),
      variants: v.variants === undefined ? undefined : intFlag(v.variants, 'variants', 5, 1),
      prefixCache: v['no-prefix-cache'] ? false : undefined,
      features: v.features,
    };
    const overrides: SettingsOverrides = {
      epochs: optional(v.epochs, 'epochs', 1),
      batchSize: optional(v['batch-size'], 'batch-size', 1),
      imageSize: optional(v['image-size'], 'image-size', 8, MAX_IMAGE_SIZE),
      ...trainingToolOverrides(v),
      ...augmentOverrides(v),
      optimizer: v.optimizer as OptimizerName | undefined,
      schedule: v.schedule as ScheduleName | undefined,
      weightDecay: ranged(v['weight-decay'], 'weight-decay', (x) => x >= 0, 'a number ≥ 0 such as 0.01'),
      labelSmoothing: ranged(v['label-smoothing'], 'label-smoothing', (x) => x >= 0 && x < 1, 'a number in [0, 1) such as 0.1'),
      stepsPerEpoch: optional(v['steps-per-epoch'], 'steps-per-epoch', 1),
      validationSteps: optional(v['validation-steps'], 'validation-steps', 1),
      model,
      transfer,
    };
    const seed = intFlag(v.seed, 'seed', 1, 0);
    await initBackend();
    const log = (line: string) => {
      if (!v.quiet) console.error(line);
    };
    const reading = { cacheDir: v['cache-dir'], skipBad: v['skip-bad'] };
    const result = await trainRecipe({ recipe, profile, data, out, overrides, seed, verbose: !v.quiet, log, ...reading });
    listSkipped('train', result.skipped);
    const figures: string[] = [];
    if (!v['no-plots'] && result.history.epoch.length > 0) {
      const title = `${recipe.name} (${profile})`;
      figures.push((await writeFigure(join(result.out, 'learning-curves.png'), await learningCurves(result.history, { title }))).pngPath);
      const test = (result.test ?? result.meta.metrics?.test) as { confusion?: number[][]; classNames?: string[] } | undefined;
      if (test?.confusion) {
        const names = test.classNames ?? result.meta.classNames;
        figures.push(
          (await writeFigure(join(result.out, 'confusion-test.png'), await confusionMatrixChart(test.confusion, names, { title: `${title}: test set` })))
            .pngPath,
        );
      }
    }
    const m = result.meta.metrics ?? {};
    const summary = {
      out: result.out,
      recipe: recipe.name,
      profile,
      stopReason: result.history.stopReason,
      epochs: result.history.epoch.length,
      bestEpoch: m.bestEpoch,
      learningRate: (result.meta.recipe?.settings as { learningRate?: number } | undefined)?.learningRate,
      val_acc: m.val_acc,
      val_loss: m.val_loss,
      testAccuracy: result.test?.accuracy,
      testLoss: result.test?.loss,
      testAccuracyTta: result.testTta?.accuracy,
      ttaChoice: result.ttaChoice,
      figures,
    };
    if (v.json) console.log(JSON.stringify(summary));
    else {
      const kept = [
        summary.bestEpoch !== undefined ? `best epoch ${summary.bestEpoch}` : `${summary.epochs} epochs`,
        typeof summary.val_acc === 'number' ? `val_acc ${summary.val_acc.toFixed(4)}` : undefined,
      ];
      console.log(`saved ${result.out} (${kept.filter(Boolean).join(', ')})`);
      if (result.test)
        console.log(
          `test: accuracy ${result.test.accuracy.toFixed(4)}, loss ${result.test.loss.toFixed(4)}, n ${result.test.n}${result.testTta ? `; with ${result.testTta.ttaViews}-view TTA: accuracy ${result.testTta.accuracy.toFixed(4)}` : ''}`,
        );
      const c = result.ttaChoice;
      if (c)
        console.log(
          `validation: accuracy ${c.validation.plain.accuracy.toFixed(4)} plain, ${c.validation.tta.accuracy.toFixed(4)} with ${c.views}-view TTA: ${c.use ? `use --tta ${c.views} with this model` : 'TTA does not help this model'}`,
        );
      for (const f of figures) console.log(`wrote ${f}`);
    }
    return result.history.stopReason === 'interrupted' ? 130 : 0;
  },
};
export default train;
