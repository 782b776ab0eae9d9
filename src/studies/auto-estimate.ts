/**
 * How long an auto-study candidate will take, before it runs, so the
 * budget can decide whether it does.
 *
 * Transfer candidates are counted in passes of a pretrained base over
 * images: features runs the base once over each training image;
 * features-augment and finetune over `variants` augmented copies of each
 * (the frozen-prefix cache), and finetune then trains its unfrozen top on
 * one variant per image each epoch (about a quarter of a pass). Validation
 * and test are passed twice: while training, and when the saved model is
 * scored (the test set by the recipe, validation by the study). One pass
 * costs BASE_PASS_SECONDS × the base's relative cost × (size / 224)² — the
 * reference figures measured on two cores — and the head
 * HEAD_IMAGE_EPOCH_SECONDS per training image and epoch. Networks trained from
 * scratch are probed instead: their model is built and the forward pass
 * timed on batches of random pixels; a training image-pass counts three
 * forward passes (forward and backward), a validation or test image one.
 *
 * Both kinds are then rescaled by what finished candidates of their kind
 * measured against their own estimate (the first candidate's run calibrates
 * the rest), so the reference machine's figures only decide the first one.
 */
import * as tf from '@tensorflow/tfjs';
import type { Recipe, RecipeSettings } from '../recipes/recipe.js';

/** Seconds per image of one MobileNet v1 (0.75) pass at 224 px, decoding included (the quick cats-vs-dogs study's transfer steps, two cores). */
const BASE_PASS_SECONDS = 0.017;
/** Seconds per training image and epoch of a dense head on cached features. */
const HEAD_IMAGE_EPOCH_SECONDS = 0.0005;
/** Each base's pass against MobileNet v1's, from their forward speeds (docs/models.md) plus decoding. */
const BASE_COST: Readonly<Record<string, number>> = { mobilenet_v1: 1, mobilenet_v2: 1.6, vgg16: 4.6 };
/** finetune's training of the unfrozen top, per training image and epoch, in base passes. */
const FINETUNE_TRAIN_PASS = 0.25;

export interface ImageCounts {
  train: number;
  validation: number;
  test: number;
}

export type CandidateKind = 'features' | 'features-augment' | 'finetune' | 'scratch';

/** Reference seconds of a transfer candidate (before rescaling). */
export function transferEstimate(kind: Exclude<CandidateKind, 'scratch'>, settings: RecipeSettings, counts: ImageCounts, baseName: string): number {
  // Bases side by side ("a+b") cost a pass of each.
  const cost = baseName.split('+').reduce((sum, part) => sum + (BASE_COST[part] ?? 1), 0);
  const pass = BASE_PASS_SECONDS * cost * (settings.imageSize / 224) ** 2;
  const scored = 2 * (counts.validation + counts.test);
  const head = HEAD_IMAGE_EPOCH_SECONDS * counts.train * settings.epochs;
  if (kind === 'features') return pass * (counts.train + scored) + head;
  const variants = settings.transfer?.variants ?? 5;
  const prefix = pass * (variants * counts.train + scored);
  if (kind === 'features-augment') return prefix + head;
  return prefix + pass * FINETUNE_TRAIN_PASS * counts.train * settings.epochs;
}

/** Image passes of a from-scratch recipe's run: training images per epoch × epochs, and the forward-only ones. */
function scratchPasses(settings: RecipeSettings, counts: ImageCounts): { train: number; forward: number } {
  const perEpoch = settings.stepsPerEpoch ? settings.stepsPerEpoch * settings.batchSize : counts.train;
  const validation = settings.validationSteps ? Math.min(settings.validationSteps * settings.batchSize, counts.validation) : counts.validation;
  const tta = settings.ttaViews && settings.ttaViews > 1 ? settings.ttaViews : 0;
  // Per epoch one validation pass; at the end the study's validation pass, the test set, and with TTA both again with every view.
  const forward = settings.epochs * validation + counts.validation + counts.test + tta * (counts.validation + counts.test);
  return { train: settings.epochs * perEpoch, forward };
}

/** Seconds per image of the model's forward pass: the fastest of three batches after a warm-up (other work on the machine slows only some). */
async function probeForwardSeconds(model: tf.LayersModel, batch = 16): Promise<number> {
  const [, h, w, c] = model.inputs[0]!.shape as number[];
  const x = tf.randomUniform([batch, h!, w!, c!], 0, 255, 'float32', 1);
  try {
    const run = async () => {
      const y = model.predict(x) as tf.Tensor;
      await y.data();
      y.dispose();
    };
    await run();
    let best = Infinity;
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      await run();
      best = Math.min(best, performance.now() - t0);
    }
    return best / 1000 / batch;
  } finally {
    x.dispose();
  }
}

/** Reference seconds of a from-scratch recipe: its model probed on this machine, times its image passes. */
export async function scratchEstimate(recipe: Recipe, settings: RecipeSettings, counts: ImageCounts, numClasses: number, seed: number): Promise<number> {
  if (!recipe.buildModel) return NaN;
  const model = await recipe.buildModel({ settings, numClasses, seed });
  try {
    const perImage = await probeForwardSeconds(model);
    const passes = scratchPasses(settings, counts);
    return perImage * (3 * passes.train + passes.forward);
  } finally {
    model.dispose();
  }
}

/** Measured over estimated seconds of the finished candidates of one kind (1 before any finished). */
export function calibration(finished: readonly { wallSeconds: number; estimateSeconds?: number }[]): number {
  const done = finished.filter((f) => typeof f.estimateSeconds === 'number' && f.estimateSeconds > 0);
  const measured = done.reduce((s, f) => s + f.wallSeconds, 0);
  const estimated = done.reduce((s, f) => s + f.estimateSeconds!, 0);
  return estimated > 0 ? measured / estimated : 1;
}
