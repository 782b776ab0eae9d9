/**
 * The transfer-learning recipes (the book's "using a pretrained convnet"):
 *
 * - `features`: run the frozen base once over train/validation/test (cached
 *   on disk), train a dense head on the features, save base + head as one
 *   classifier.
 * - `features-augment`: the frozen base inside the model, trained end to end
 *   on augmented images; only the head learns. By default the base's
 *   outputs for K augmented variants per image are cached (prefix cache).
 * - `finetune`: from a features-augment model, unfreeze the top block(s) and
 *   train at a low learning rate (frozen prefix cached the same way).
 *
 * Every recipe saves a complete classifier (raw RGB 0..255 in, probabilities
 * out) that plain tf.loadLayersModel loads.
 */
import * as tf from '@tensorflow/tfjs';
import { join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { ConvkitError } from '../util/errors.js';
import { createRng } from '../util/rng.js';
import { DirectoryIterator, scanImageFolder, type BatchTransform } from '../data/index.js';
import { fit, evaluateLossAcc, type FitResult } from '../train/fit.js';
import { KeepBestWeights } from '../train/callbacks.js';
import type { BatchData } from '../train/batches.js';
import type { OptimizerName, ScheduleName } from '../train/optimizers.js';
import { BOOK_AUGMENTATION, type AugmentationSettings } from '../train/recipes.js';
import { loadModel, saveModel, type ConvkitModelMeta } from '../train/saved-model.js';
import { ImageDataGenerator } from '../augment/generator.js';
import { getBase, type PretrainedBase } from './bases.js';
import { guardBatchNorm } from './batch-norm.js';
import { extractFeatures, featureTensors, type FeatureSet } from './feature-cache.js';
import { freeze, unfreeze, firstLayerOfLastBlocks } from './freeze.js';
import { buildHead, stitch, truncate, type Pooling } from './head.js';
import { cachePrefix, frozenPrefixEnd } from './prefix-cache.js';

export type TransferRecipeName = 'features' | 'features-augment' | 'finetune';

export interface TransferOptions {
  /** Base name (mobilenet_v1, mobilenet_v2, vgg16) or a loaded base. */
  base: string | PretrainedBase;
  /** Folder with train/ and validation/ (and optionally test/), one sub-folder per class in each. */
  data: string;
  /** Output model folder. */
  out: string;
  epochs?: number;
  seed?: number;
  batchSize?: number;
  learningRate?: number;
  /** Optimizer (default the book's RMSprop). */
  optimizer?: OptimizerName;
  /** [height, width] (default: the base's). */
  inputSize?: readonly [number, number];
  /** Feature cache folder (default ~/.cache/convkit/features). */
  cacheDir?: string;
  noCache?: boolean;
  /** Head pooling (default: Flatten for small feature maps, global average pooling otherwise). */
  pooling?: Pooling;
  /** Train on cached frozen-prefix activations (default true). */
  prefixCache?: boolean;
  /** Augmented variants per image in the prefix cache (default 5). */
  variants?: number;
  /** features-augment, finetune: training-set augmentation (default the book's). */
  augmentation?: AugmentationSettings;
  /**
   * finetune: a features-augment model folder to start from (otherwise
   * features-augment runs first). features-augment: a features model whose
   * trained head starts the new one (same base and input size).
   */
  from?: string;
  /** finetune: blocks to unfreeze (default 1: VGG16's block5, MobileNet's last depthwise-separable block; 'all': the whole base). */
  unfreezeBlocks?: number | 'all';
  /** Learning-rate schedule over the run (default constant). */
  schedule?: ScheduleName;
  /** The epoch whose weights are kept, by this validation metric (default val_loss). */
  monitor?: string;
  /** No progress output. */
  silent?: boolean;
  log?: (line: string) => void;
}

export interface TransferResult {
  model: tf.LayersModel;
  meta: ConvkitModelMeta;
  history: FitResult;
  metrics: Record<string, number>;
  timings: Record<string, number>;
}

export interface TransferRecipe {
  name: TransferRecipeName;
  summary: string;
  /** The book's settings. */
  defaults: { epochs: number; batchSize: number; learningRate: number; optimizer: 'rmsprop' };
  run(options: TransferOptions): Promise<TransferResult>;
}

export { BOOK_AUGMENTATION };

interface Splits {
  classNames: string[];
  classMode: 'binary' | 'categorical';
  train: DirectoryIterator;
  validation: DirectoryIterator;
  test?: DirectoryIterator;
}

async function openSplits(root: string, targetSize: readonly [number, number], batchSize: number, seed: number): Promise<Splits> {
  const dir = resolve(root);
  const folder = (name: string) => join(dir, name);
  for (const name of ['train', 'validation']) {
    if (!existsSync(folder(name))) throw new ConvkitError(`${folder(name)} not found`, `--data must hold train/ and validation/ (and optionally test/), each with one sub-folder per class`);
  }
  const scans = await Promise.all(['train', 'validation', 'test'].map((n) => (existsSync(folder(n)) ? scanImageFolder(folder(n)) : undefined)));
  const classNames = scans[0]!.classNames;
  for (const [i, s] of scans.entries()) {
    if (s && s.classNames.join('\n') !== classNames.join('\n')) {
      throw new ConvkitError(`${folder(['train', 'validation', 'test'][i]!)} has classes ${s.classNames.join(', ')} but train has ${classNames.join(', ')}`, 'use the same class folders in every split');
    }
  }
  const classMode = classNames.length === 2 ? 'binary' : 'categorical';
  const make = (i: number) => new DirectoryIterator(scans[i]!, { targetSize: [targetSize[0], targetSize[1]], batchSize, shuffle: false, classMode, seed });
  return { classNames, classMode, train: make(0), validation: make(1), test: scans[2] ? make(2) : undefined };
}

interface Prepared {
  base: PretrainedBase;
  features: tf.LayersModel;
  inputSize: readonly [number, number];
  splits: Splits;
}

async function prepare(options: TransferOptions, batchSize: number, seed: number): Promise<Prepared> {
  const base = typeof options.base === 'string' ? getBase(options.base) : options.base;
  const inputSize = options.inputSize ?? base.inputSize;
  const loaded = await base.load({ inputSize });
  const features = truncate(loaded.model, loaded.featureLayer);
  freeze(features);
  const splits = await openSplits(options.data, inputSize, batchSize, seed);
  return { base, features, inputSize, splits };
}

function metaFor(p: { base: PretrainedBase; inputSize: readonly [number, number]; splits: Splits }, recipe: TransferRecipeName, settings: Record<string, unknown>, seed: number, history: FitResult, metrics: Record<string, number>) {
  return {
    classNames: p.splits.classNames,
    inputSize: [p.inputSize[0], p.inputSize[1]] as [number, number],
    colorMode: 'rgb' as const,
    classMode: p.splits.classMode,
    preprocessing: { input: 'RGB pixels 0..255', interpolation: 'bilinear', inModel: `${p.base.name} preprocessing (first layers)` },
    recipe: { name: recipe, settings: { base: p.base.name, ...settings }, seed },
    history: { epoch: history.epoch, history: history.history },
    metrics,
  };
}

const say = (o: TransferOptions) => (line: string) => { if (!o.silent) (o.log ?? ((l: string) => console.error(l)))(line); };

function asData(set: FeatureSet, batchSize: number, shuffle: boolean): { data: BatchData; dispose: () => void } {
  const t = featureTensors(set);
  return { data: { x: t.x as tf.Tensor4D, y: t.y, batchSize, shuffle }, dispose: () => tf.dispose([t.x, t.y]) };
}

/** features: cached base features → dense head → stitched classifier. */
async function runFeatures(o: TransferOptions): Promise<TransferResult> {
  const r = FEATURES.defaults;
  const { epochs = r.epochs, batchSize = r.batchSize, learningRate = r.learningRate, seed = 1 } = o;
  const log = say(o);
  const t0 = performance.now();
  const p = await prepare(o, batchSize, seed);
  const baseName = p.base.name;
  const cache = { baseName, cacheDir: o.cacheDir, noCache: o.noCache, silent: o.silent };
  const train = await extractFeatures(p.features, p.splits.train, { ...cache, label: 'features train' });
  const val = await extractFeatures(p.features, p.splits.validation, { ...cache, label: 'features validation' });
  const test = p.splits.test ? await extractFeatures(p.features, p.splits.test, { ...cache, label: 'features test' }) : undefined;
  const tFeatures = (performance.now() - t0) / 1000;
  log(`features ${train.shape.join('×')} per image (${[train, val, test].filter((s) => s?.hit).length} of ${test ? 3 : 2} sets from the cache, ${tFeatures.toFixed(1)} s)`);

  const head = buildHead(train.shape, { numClasses: p.splits.classNames.length, pooling: o.pooling, rng: createRng(seed) });
  const trainData = asData(train, batchSize, true), valData = asData(val, batchSize, false);
  const keep = new KeepBestWeights({ monitor: o.monitor });
  const t1 = performance.now();
  let history: FitResult;
  try {
    history = await fit(head, trainData.data, { epochs, optimizer: o.optimizer ?? 'rmsprop', learningRate, schedule: o.schedule, batchSize, seed, validationData: valData.data, verbose: !o.silent, classMode: p.splits.classMode, callbacks: [keep] });
  } finally {
    trainData.dispose();
  }
  const tTrain = (performance.now() - t1) / 1000;
  const metrics: Record<string, number> = { bestEpoch: keep.bestEpoch + 1 };
  const v = await evaluateLossAcc(head, valData.data, { batchSize });
  valData.dispose();
  metrics.val_loss = v.loss;
  metrics.val_acc = v.acc;
  if (test) {
    const testData = asData(test, batchSize, false);
    const t = await evaluateLossAcc(head, testData.data, { batchSize });
    testData.dispose();
    metrics.test_loss = t.loss;
    metrics.test_acc = t.acc;
  }
  const model = stitch(p.features, head, `${baseName}_features_classifier`);
  const meta = await saveModel(model, o.out, metaFor(p, 'features', { epochs, batchSize, learningRate, optimizer: o.optimizer ?? 'rmsprop', pooling: head.layers[1]!.name.endsWith('pool') ? 'avg' : 'flatten' }, seed, history, metrics));
  const timings = { features: tFeatures, train: tTrain, total: (performance.now() - t0) / 1000 };
  return { model, meta, history, metrics, timings };
}

function augmentation(settings: AugmentationSettings = BOOK_AUGMENTATION): { transform: BatchTransform; id: string } {
  const gen = new ImageDataGenerator({ ...settings });
  return { transform: gen.batchTransform(), id: JSON.stringify(gen.toJSON()) };
}

/**
 * Trains `model` (frozen prefix + trainable rest) on augmented training
 * images; validation/test are evaluated without augmentation.
 */
async function trainAugmented(model: tf.LayersModel, p: Prepared, o: TransferOptions, settings: { epochs: number; batchSize: number; learningRate: number; seed: number; label: string }): Promise<{ history: FitResult; metrics: Record<string, number>; timings: Record<string, number> }> {
  const { epochs, batchSize, learningRate, seed } = settings;
  const log = say(o);
  const aug = augmentation(o.augmentation);
  const metrics: Record<string, number> = {};
  const timings: Record<string, number> = {};
  const keep = new KeepBestWeights({ monitor: o.monitor });
  const fitOpts = { epochs, optimizer: o.optimizer ?? 'rmsprop', learningRate, schedule: o.schedule, batchSize, seed, verbose: !o.silent, classMode: p.splits.classMode, callbacks: [keep] };
  let history: FitResult;
  if (o.prefixCache !== false) {
    const at = frozenPrefixEnd(model);
    if (!at) throw new ConvkitError('nothing of the model is frozen', 'freeze the base first');
    const common = { baseName: p.base.name, cacheDir: o.cacheDir, noCache: o.noCache, silent: o.silent, at, batchSize, seed };
    const t0 = performance.now();
    const train = await cachePrefix(model, p.splits.train, { ...common, transform: aug.transform, transformId: aug.id, variants: o.variants ?? 5, label: undefined });
    const val = await cachePrefix(model, p.splits.validation, { ...common, shuffle: false });
    timings.prefix = (performance.now() - t0) / 1000;
    log(`${settings.label}: frozen prefix up to ${at} cached (${train.data.sets.length} augmented variants per training image, ${(train.data.bytes / 2 ** 20).toFixed(0)} MiB, ${timings.prefix.toFixed(1)} s)`);
    const t1 = performance.now();
    history = await fit(train.split.suffix, train.data, { ...fitOpts, validationData: val.data });
    timings.train = (performance.now() - t1) / 1000;
    const v = await evaluateLossAcc(train.split.suffix, val.data, { batchSize });
    Object.assign(metrics, { val_loss: v.loss, val_acc: v.acc });
    if (p.splits.test) {
      const test = await cachePrefix(model, p.splits.test, { ...common, shuffle: false });
      const t = await evaluateLossAcc(test.split.suffix, test.data, { batchSize });
      Object.assign(metrics, { test_loss: t.loss, test_acc: t.acc });
    }
  } else {
    const augmented = new DirectoryIterator(await scanImageFolder(p.splits.train.root), { targetSize: [p.inputSize[0], p.inputSize[1]], batchSize, shuffle: true, classMode: p.splits.classMode, seed, transform: aug.transform });
    const t1 = performance.now();
    history = await fit(model, augmented, { ...fitOpts, validationData: p.splits.validation });
    timings.train = (performance.now() - t1) / 1000;
    const v = await evaluateLossAcc(model, p.splits.validation, { batchSize });
    Object.assign(metrics, { val_loss: v.loss, val_acc: v.acc });
    if (p.splits.test) {
      const t = await evaluateLossAcc(model, p.splits.test, { batchSize });
      Object.assign(metrics, { test_loss: t.loss, test_acc: t.acc });
    }
  }
  metrics.bestEpoch = keep.bestEpoch + 1;
  return { history, metrics, timings };
}

/** features-augment: frozen base + head, trained on augmented images (only the head changes). */
async function runFeaturesAugment(o: TransferOptions): Promise<TransferResult> {
  const r = FEATURES_AUGMENT.defaults;
  const { epochs = r.epochs, batchSize = r.batchSize, learningRate = r.learningRate, seed = 1 } = o;
  const t0 = performance.now();
  const p = await prepare(o, batchSize, seed);
  const featureShape = p.features.outputs[0]!.shape.slice(1) as number[];
  const head = buildHead(featureShape, { numClasses: p.splits.classNames.length, pooling: o.pooling, rng: createRng(seed) });
  if (o.from) await copyHead(o.from, head, p);
  const model = stitch(p.features, head, `${p.base.name}_augmented_classifier`);
  const { history, metrics, timings } = await trainAugmented(model, p, o, { epochs, batchSize, learningRate, seed, label: 'features-augment' });
  const settings = { epochs, batchSize, learningRate, optimizer: o.optimizer ?? 'rmsprop', augmentation: o.augmentation ?? BOOK_AUGMENTATION, prefixCache: o.prefixCache !== false, variants: o.variants ?? 5, ...(o.from ? { headFrom: o.from } : {}) };
  const meta = await saveModel(model, o.out, metaFor(p, 'features-augment', settings, seed, history, metrics));
  return { model, meta, history, metrics, timings: { ...timings, total: (performance.now() - t0) / 1000 } };
}

/** Starts `head` from the trained head of the features model in `dir` (same base, input size and classes). */
async function copyHead(dir: string, head: tf.LayersModel, p: Prepared): Promise<void> {
  const loaded = await loadModel(dir);
  try {
    const { meta, model } = loaded;
    const from = (meta.recipe?.settings?.base as string | undefined) ?? '?';
    if (meta.recipe?.name !== 'features' || from !== p.base.name || meta.inputSize.join('x') !== p.inputSize.join('x') || meta.classNames.join('\n') !== p.splits.classNames.join('\n')) {
      throw new ConvkitError(
        `--from ${dir} is a ${meta.recipe?.name ?? 'unknown'} model of ${from} at ${meta.inputSize.join('×')} px for classes ${meta.classNames.join(', ')}`,
        `features-augment starts its head from a features model of ${p.base.name} at ${p.inputSize.join('×')} px for classes ${p.splits.classNames.join(', ')}`);
    }
    for (const layer of head.layers) {
      if (layer.weights.length === 0) continue;
      const source = model.layers.find((l) => l.name === layer.name);
      const shapes = (ws: tf.LayerVariable[]) => ws.map((w) => w.shape.join('x')).join(',');
      if (!source || shapes(source.weights) !== shapes(layer.weights)) {
        throw new ConvkitError(`--from ${dir} has no head layer ${layer.name} shaped like this head's`, 'train the features model with the same pooling and head size');
      }
      layer.setWeights(source.getWeights());
    }
  } finally {
    loaded.model.dispose();
  }
}

/** Gradient kernels each trainable layer type needs; a backend may lack some (tfjs-backend-wasm 4.22 has no depthwise filter gradient). */
const GRADIENT_KERNELS: Record<string, string[]> = {
  DepthwiseConv2D: ['DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput'],
  Conv2D: ['Conv2DBackpropFilter', 'Conv2DBackpropInput'],
};

function checkTrainingKernels(layers: readonly tf.layers.Layer[]): void {
  const backend = tf.getBackend();
  for (const layer of layers) {
    const missing = (GRADIENT_KERNELS[layer.getClassName()] ?? []).filter((k) => !tf.getKernel(k, backend));
    if (layer.trainableWeights.length > 0 && missing.length) {
      throw new ConvkitError(`the ${backend} backend cannot train layer ${layer.name} (${layer.getClassName()}): kernel ${missing.join(', ')} missing`,
        'unfreeze fewer layers (e.g. from a pointwise conv), or pick another backend with CONVKIT_BACKEND');
    }
  }
}

/** finetune: unfreeze the top block(s) of a features-augment model and train at a low rate. */
async function runFinetune(o: TransferOptions): Promise<TransferResult> {
  const r = FINETUNE.defaults;
  const { epochs = r.epochs, batchSize = r.batchSize, learningRate = r.learningRate, seed = 1 } = o;
  const t0 = performance.now();
  let model: tf.LayersModel;
  let p: Prepared;
  if (o.from) {
    const loaded = await loadModel(o.from);
    if (loaded.meta.recipe?.name !== 'features-augment' && loaded.meta.recipe?.name !== 'features' && loaded.meta.recipe?.name !== 'finetune') {
      throw new ConvkitError(`--from ${o.from} was made by recipe "${loaded.meta.recipe?.name ?? 'unknown'}"`, 'pass the --out folder of a features-augment run (or leave --from out to run it first)');
    }
    const baseName = (loaded.meta.recipe?.settings?.base as string | undefined) ?? (typeof o.base === 'string' ? o.base : o.base.name);
    const base = typeof o.base === 'string' ? getBase(o.base || baseName) : o.base;
    model = loaded.model;
    guardBatchNorm(model);
    p = { base, features: model, inputSize: loaded.meta.inputSize, splits: await openSplits(o.data, loaded.meta.inputSize, batchSize, seed) };
  } else {
    const first = await runFeaturesAugment({ ...o, out: `${resolve(o.out)}.features-augment`, epochs: o.epochs ?? FEATURES_AUGMENT.defaults.epochs, learningRate: undefined });
    model = first.model;
    const base = typeof o.base === 'string' ? getBase(o.base) : o.base;
    const inputSize = first.meta.inputSize;
    p = { base, features: model, inputSize, splits: await openSplits(o.data, inputSize, batchSize, seed) };
  }
  const from = o.unfreezeBlocks !== undefined || !p.base.fineTuneFrom ? firstLayerOfLastBlocks(model, o.unfreezeBlocks ?? 1) : p.base.fineTuneFrom;
  const opened = unfreeze(model, { from });
  checkTrainingKernels(opened);
  const { history, metrics, timings } = await trainAugmented(model, p, o, { epochs, batchSize, learningRate, seed, label: 'finetune' });
  const settings = { epochs, batchSize, learningRate, optimizer: o.optimizer ?? 'rmsprop', unfreezeFrom: from, augmentation: o.augmentation ?? BOOK_AUGMENTATION, prefixCache: o.prefixCache !== false, variants: o.variants ?? 5, from: o.from };
  const meta = await saveModel(model, o.out, metaFor(p, 'finetune', settings, seed, history, metrics));
  return { model, meta, history, metrics, timings: { ...timings, total: (performance.now() - t0) / 1000 } };
}

export const FEATURES: TransferRecipe = {
  name: 'features',
  summary: 'frozen pretrained base run once (features cached), dense head trained on the features',
  defaults: { epochs: 30, batchSize: 20, learningRate: 2e-5, optimizer: 'rmsprop' },
  run: runFeatures,
};

export const FEATURES_AUGMENT: TransferRecipe = {
  name: 'features-augment',
  summary: 'frozen pretrained base inside the model, head trained end to end on augmented images',
  defaults: { epochs: 30, batchSize: 20, learningRate: 2e-5, optimizer: 'rmsprop' },
  run: runFeaturesAugment,
};

export const FINETUNE: TransferRecipe = {
  name: 'finetune',
  summary: 'features-augment model with its top block(s) unfrozen, trained at a low learning rate',
  defaults: { epochs: 30, batchSize: 20, learningRate: 1e-5, optimizer: 'rmsprop' },
  run: runFinetune,
};

export const TRANSFER_RECIPES: Record<TransferRecipeName, TransferRecipe> = {
  features: FEATURES,
  'features-augment': FEATURES_AUGMENT,
  finetune: FINETUNE,
};

/** Runs a transfer recipe by name. */
export function runTransferRecipe(name: string, options: TransferOptions): Promise<TransferResult> {
  const recipe = TRANSFER_RECIPES[name as TransferRecipeName];
  if (!recipe) throw new ConvkitError(`unknown transfer recipe "${name}"`, `use one of ${Object.keys(TRANSFER_RECIPES).join(', ')}`);
  return recipe.run(options);
}
