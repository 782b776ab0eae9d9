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
import { resolve } from 'node:path';
import { scanSplits } from '../data/splits.js';
import type { ImageFolder } from '../data/scan.js';
import { ConvkitError } from '../util/errors.js';
import { listNames } from '../util/list-names.js';
import { createRng } from '../util/rng.js';
import { DirectoryIterator, scanImageFolder, type BatchTransform, type Interpolation } from '../data/index.js';
import type { FitResult } from '../train/fit.js';
import type { BatchData } from '../train/batches.js';
import { BOOK_AUGMENTATION, type AugmentationSettings } from '../augment/presets.js';
import { loadModel, readModelMeta, saveModel, type ConvkitModelMeta } from '../train/saved-model.js';
import { ImageDataGenerator } from '../augment/generator.js';
import { getBase, type PretrainedBase } from './bases.js';
import { guardBatchNorm } from './batch-norm.js';
import { extractFeatures, featureTensors } from './feature-cache.js';
import { extractCombinedFeatures } from './combined-features.js';
import { readMergedFeatures } from './merged-features.js';
import { freeze, unfreeze, firstLayerOfLastBlocks } from './freeze.js';
import { buildHead, stitch, truncate } from './head.js';
import { cachePrefix, frozenPrefixEnd } from './prefix-cache.js';
import { batchesOf, classWeightMeta, classWeightsFor, findStageLr, say, trainStage, type RunSettings, type Stage } from './train-stage.js';
import type { TransferOptions } from './options.js';
import { BalancedTensorBatches } from '../train/balanced-sampling.js';
import type { ClassWeightChoice } from '../train/class-balance.js';
import type { LrFindOptions, LrFindResult } from '../train/lr-find.js';
import { discriminativeMultipliers } from './discriminative.js';

export type { TransferOptions } from './options.js';

export type TransferRecipeName = 'features' | 'features-augment' | 'finetune';

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

const DEFAULT_BASE = 'mobilenet_v1';

/**
 * The base of a run. A `from` model fits only the base it was trained on
 * (its convkit.json names it), so that one is used unless another is asked
 * for, which is refused; without `from`, the base asked for, else mobilenet_v1.
 */
function resolveBase(o: TransferOptions, from?: ConvkitModelMeta): PretrainedBase {
  const recorded = from?.recipe?.settings?.base as string | undefined;
  const given = typeof o.base === 'object' ? o.base.name : o.base;
  if (recorded !== undefined && given !== undefined && recorded !== given) {
    throw new ConvkitError(
      `--base ${given} differs from ${recorded}, the base of the --from model ${o.from}`,
      `leave --base out (the --from model's base is used) or pass --base ${recorded}`,
    );
  }
  return typeof o.base === 'object' ? o.base : getBase(given ?? recorded ?? DEFAULT_BASE);
}

interface Splits {
  classNames: string[];
  classMode: 'binary' | 'categorical';
  train: DirectoryIterator;
  validation: DirectoryIterator;
  test?: DirectoryIterator;
}

async function openSplits(
  root: string,
  targetSize: readonly [number, number],
  o: { batchSize: number; seed: number; interpolation: Interpolation },
): Promise<Splits> {
  const { classNames, classMode, train, validation, test } = await scanSplits(root);
  const make = (scan: ImageFolder) =>
    new DirectoryIterator(scan, {
      targetSize: [targetSize[0], targetSize[1]],
      batchSize: o.batchSize,
      shuffle: false,
      classMode,
      seed: o.seed,
      interpolation: o.interpolation,
    });
  return { classNames, classMode, train: make(train), validation: make(validation), test: test && make(test) };
}

interface Prepared {
  /** The data folder convkit.json records (int8 export calibrates on its train/). */
  source: string;
  base: PretrainedBase;
  features: tf.LayersModel;
  inputSize: readonly [number, number];
  interpolation: Interpolation;
  splits: Splits;
}

/** The data folder convkit.json records: the user's, absolute. */
const sourceOf = (o: TransferOptions): string => resolve(o.source ?? o.data);

/** The base (loaded, truncated at its feature layer and frozen) and the data; `from`: the --from model's convkit.json. */
async function prepare(options: TransferOptions, batchSize: number, seed: number, from?: ConvkitModelMeta): Promise<Prepared> {
  const base = resolveBase(options, from);
  const inputSize = options.inputSize ?? base.inputSize;
  const loaded = await base.load({ inputSize });
  const features = truncate(loaded.model, loaded.featureLayer);
  freeze(features);
  const interpolation = options.interpolation ?? 'bilinear';
  const splits = await openSplits(options.data, inputSize, { batchSize, seed, interpolation });
  return { source: sourceOf(options), base, features, inputSize, interpolation, splits };
}

function metaFor(
  p: Omit<Prepared, 'features'>,
  recipe: TransferRecipeName,
  settings: Record<string, unknown>,
  seed: number,
  history: FitResult,
  metrics: Record<string, number>,
) {
  return {
    classNames: p.splits.classNames,
    inputSize: [p.inputSize[0], p.inputSize[1]] as [number, number],
    colorMode: 'rgb' as const,
    classMode: p.splits.classMode,
    preprocessing: { input: 'RGB pixels 0..255', interpolation: p.interpolation, inModel: `${p.base.name} preprocessing (first layers)` },
    recipe: { name: recipe, settings: { base: p.base.name, ...settings }, seed },
    data: { root: p.source, train: p.splits.train.n, validation: p.splits.validation.n },
    history: { epoch: history.epoch, history: history.history },
    metrics,
  };
}

/** The features recipe up to training: the base's features (cached), a new head, and the stage it trains in. */
interface FeaturesSetup {
  p: Prepared;
  head: tf.LayersModel;
  stage: Stage;
  balance: ClassWeightChoice;
  seconds: number;
  dispose(): void;
}

async function featuresSetup(o: TransferOptions, batchSize: number, seed: number): Promise<FeaturesSetup> {
  const t0 = performance.now();
  const p = await prepare(o, batchSize, seed);
  const baseName = p.base.name;
  const cache = { baseName, cacheDir: o.cacheDir, noCache: o.noCache, silent: o.silent, signal: o.signal, log: o.log };
  const { train: tr, validation: va, test: te } = p.splits;
  // Merged feature shards (`convkit features merge`) stand in for the extraction only when they match this run exactly.
  const splits = { train: tr, validation: va, test: te };
  const merged = o.features
    ? await readMergedFeatures(o.features, {
        data: o.data,
        baseName,
        features: p.features,
        interpolation: p.interpolation,
        splits,
        silent: o.silent,
        signal: o.signal,
      })
    : undefined;
  const parts = p.base.parts;
  const extract = (source: DirectoryIterator, label: string) =>
    parts ? extractCombinedFeatures(p.features, parts, source, { ...cache, label }) : extractFeatures(p.features, source, { ...cache, label });
  const train = merged?.train ?? (await extract(tr, 'features train'));
  const val = merged?.validation ?? (await extract(va, 'features validation'));
  const test = te ? (merged?.test ?? (await extract(te, 'features test'))) : undefined;
  const seconds = (performance.now() - t0) / 1000;
  const source = merged
    ? `from the merged features in ${o.features}`
    : `${[train, val, test].filter((s) => s?.hit).length} of ${test ? 3 : 2} sets from the cache`;
  say(o)(`features ${train.shape.join('×')} per image (${source}, ${seconds.toFixed(1)} s)`);
  const head = buildHead(train.shape, { numClasses: p.splits.classNames.length, pooling: o.pooling, rng: createRng(seed) });
  const classMode = p.splits.classMode;
  const balance = classWeightsFor(o, p.splits.train);
  const tensors = featureTensors(train);
  // In-memory tensors are stateless (fit shuffles them); balanced sampling draws its own seeded epochs.
  const trainData = (): BatchData =>
    o.sampling === 'balanced'
      ? new BalancedTensorBatches(tensors, { batchSize, seed, classMode })
      : { x: tensors.x as tf.Tensor4D, y: tensors.y, batchSize, shuffle: true };
  const stage: Stage = {
    net: head,
    train: trainData(),
    freshTrain: trainData,
    validation: batchesOf([val], batchSize, seed, false, classMode),
    shuffledValidation: () => batchesOf([val], batchSize, seed + 1, true, classMode),
    test: test && (async () => batchesOf([test], batchSize, seed, false, classMode)),
  };
  return { p, head, stage, balance, seconds, dispose: () => tf.dispose([tensors.x, tensors.y]) };
}

/** features: cached base features → dense head → stitched classifier. */
async function runFeatures(o: TransferOptions): Promise<TransferResult> {
  const r = FEATURES.defaults;
  const { epochs = r.epochs, batchSize = r.batchSize, seed = 1 } = o;
  refuseDiscriminative(o, 'features');
  const t0 = performance.now();
  const setup = await featuresSetup(o, batchSize, seed);
  const { p, head, balance } = setup;
  const t1 = performance.now();
  let stage: Awaited<ReturnType<typeof trainStage>>;
  try {
    const run = { epochs, batchSize, learningRate: o.learningRate ?? r.learningRate, seed, classWeights: balance.weights };
    stage = await trainStage(setup.stage, o, run, p.splits.classMode);
  } finally {
    setup.dispose();
  }
  const { history, metrics, learningRate } = stage;
  const tTrain = (performance.now() - t1) / 1000;
  const model = stitch(p.features, head, `${p.base.name}_features_classifier`);
  const settings = {
    epochs,
    batchSize,
    learningRate,
    optimizer: o.optimizer ?? 'rmsprop',
    pooling: head.layers[1]!.name.endsWith('pool') ? 'avg' : 'flatten',
    ...trainingTools(o, balance, stage.lrFinder),
  };
  const meta = await saveModel(model, o.out, metaFor(p, 'features', settings, seed, history, metrics));
  const timings = { features: setup.seconds, train: tTrain, total: (performance.now() - t0) / 1000 };
  return { model, meta, history, metrics, timings };
}

/** What convkit.json records of the training tools a run used: class weights, sampling, EMA, the range test. */
function trainingTools(o: TransferOptions, balance: ClassWeightChoice, lrFinder?: Record<string, unknown>): Record<string, unknown> {
  return {
    classWeight: classWeightMeta(balance),
    ...(o.sampling !== undefined && { sampling: o.sampling }),
    ...(o.ema !== undefined && { ema: o.ema }),
    ...(lrFinder && { autoLearningRate: true, lrFinder }),
  };
}

/** A range of rates is fine-tuning's: the other recipes train one group of layers. */
/** Merged features are one plain pass per image: the recipes that train on augmented images cannot use them. */
function refuseMergedFeatures(o: TransferOptions, recipe: TransferRecipeName): void {
  if (o.features !== undefined)
    throw new ConvkitError(
      `recipe ${recipe} cannot use --features (${o.features}): it runs the base on augmented images`,
      'leave --features out; merged features serve the features recipe',
    );
}

function refuseDiscriminative(o: TransferOptions, recipe: TransferRecipeName): void {
  if (o.lowestLearningRate !== undefined)
    throw new ConvkitError(
      `recipe ${recipe} cannot use --learning-rate LO:HI (lowestLearningRate): it trains the head only`,
      'give one --learning-rate; a range is for the finetune recipe',
    );
}

function augmentation(settings: AugmentationSettings = BOOK_AUGMENTATION): { transform: BatchTransform; id: string } {
  const gen = new ImageDataGenerator({ ...settings });
  return { transform: gen.batchTransform(), id: JSON.stringify(gen.toJSON()) };
}

/** Another iterator over `it`'s files, shuffled (and augmented with `transform`); `it` itself stays sorted and plain. */
async function reopen(it: DirectoryIterator, p: Prepared, o: { batchSize: number; seed: number; transform?: BatchTransform }): Promise<DirectoryIterator> {
  return new DirectoryIterator(await scanImageFolder(it.root), {
    targetSize: [p.inputSize[0], p.inputSize[1]],
    batchSize: o.batchSize,
    shuffle: true,
    classMode: p.splits.classMode,
    seed: o.seed,
    transform: o.transform,
    interpolation: p.interpolation,
  });
}

/** The trainable suffix on cached frozen-prefix activations: K augmented variants of each training image, the other splits plain. */
async function prefixStage(model: tf.LayersModel, p: Prepared, o: TransferOptions, s: RunSettings, label: string): Promise<{ stage: Stage; seconds: number }> {
  const { batchSize, seed } = s;
  const at = frozenPrefixEnd(model);
  if (!at) throw new ConvkitError('nothing of the model is frozen', 'freeze the base first');
  const aug = augmentation(o.augmentation);
  const common = { baseName: p.base.name, cacheDir: o.cacheDir, noCache: o.noCache, silent: o.silent, signal: o.signal, log: o.log, at, batchSize, seed };
  const t0 = performance.now();
  const train = await cachePrefix(model, p.splits.train, {
    ...common,
    transform: aug.transform,
    transformId: aug.id,
    variants: o.variants ?? 5,
    label: undefined,
  });
  const val = await cachePrefix(model, p.splits.validation, { ...common, shuffle: false });
  const seconds = (performance.now() - t0) / 1000;
  say(o)(
    `${label}: frozen prefix up to ${at} cached (${train.data.sets.length} augmented variants per training image, ${(train.data.bytes / 2 ** 20).toFixed(0)} MiB, ${seconds.toFixed(1)} s)`,
  );
  const classMode = p.splits.classMode;
  const testSplit = p.splits.test;
  return {
    seconds,
    stage: {
      net: train.split.suffix,
      train: train.data,
      freshTrain: () => batchesOf(train.data.sets, batchSize, seed + 17, true, classMode),
      validation: val.data,
      shuffledValidation: () => batchesOf(val.data.sets, batchSize, seed + 1, true, classMode),
      test: testSplit && (async () => (await cachePrefix(model, testSplit, { ...common, shuffle: false })).data),
    },
  };
}

/** The whole model on freshly augmented training images every step (no prefix cache). */
async function imageStage(model: tf.LayersModel, p: Prepared, o: TransferOptions, s: RunSettings): Promise<Stage> {
  const { batchSize, seed } = s;
  const testSplit = p.splits.test;
  return {
    net: model,
    train: await reopen(p.splits.train, p, { batchSize, seed, transform: augmentation(o.augmentation).transform }),
    freshTrain: () => reopen(p.splits.train, p, { batchSize, seed, transform: augmentation(o.augmentation).transform }),
    validation: p.splits.validation,
    shuffledValidation: () => reopen(p.splits.validation, p, { batchSize, seed: seed + 1 }),
    test: testSplit && (async () => testSplit),
  };
}

/**
 * Trains `model` (frozen prefix + trainable rest) on augmented training
 * images; validation/test are evaluated without augmentation.
 */
async function trainAugmented(
  model: tf.LayersModel,
  p: Prepared,
  o: TransferOptions,
  s: RunSettings & { label: string },
): Promise<Awaited<ReturnType<typeof trainStage>> & { timings: Record<string, number> }> {
  const { stage, timings } = await augmentedStage(model, p, o, s);
  const t1 = performance.now();
  const trained = await trainStage(stage, o, s, p.splits.classMode);
  timings.train = (performance.now() - t1) / 1000;
  return { ...trained, timings };
}

/** Where an augmented recipe trains: the suffix on cached prefix activations, or the whole model on images. */
async function augmentedStage(model: tf.LayersModel, p: Prepared, o: TransferOptions, s: RunSettings & { label: string }) {
  if (o.sampling === 'balanced')
    throw new ConvkitError(
      `recipe ${s.label} cannot use --sampling balanced: it trains on augmented images or their cached variants`,
      'use --class-weight balanced for an imbalanced folder, or the features recipe with --sampling balanced',
    );
  const timings: Record<string, number> = {};
  if (o.prefixCache === false) return { stage: await imageStage(model, p, o, s), timings };
  const prefix = await prefixStage(model, p, o, s, s.label);
  timings.prefix = prefix.seconds;
  return { stage: prefix.stage, timings };
}

/** The features-augment model before training: the frozen base with a new head (or the --from features model's head). */
async function augmentedModel(o: TransferOptions, batchSize: number, seed: number): Promise<{ p: Prepared; model: tf.LayersModel }> {
  refuseMergedFeatures(o, 'features-augment');
  const p = await prepare(o, batchSize, seed, o.from ? await readModelMeta(o.from) : undefined);
  const featureShape = p.features.outputs[0]!.shape.slice(1) as number[];
  const head = buildHead(featureShape, { numClasses: p.splits.classNames.length, pooling: o.pooling, rng: createRng(seed) });
  if (o.from) await copyHead(o.from, head, p);
  return { p, model: stitch(p.features, head, `${p.base.name}_augmented_classifier`) };
}

/** features-augment: frozen base + head, trained on augmented images (only the head changes). */
async function runFeaturesAugment(o: TransferOptions): Promise<TransferResult> {
  const r = FEATURES_AUGMENT.defaults;
  const { epochs = r.epochs, batchSize = r.batchSize, seed = 1 } = o;
  refuseDiscriminative(o, 'features-augment');
  const t0 = performance.now();
  const { p, model } = await augmentedModel(o, batchSize, seed);
  const balance = classWeightsFor(o, p.splits.train);
  const run = { epochs, batchSize, learningRate: o.learningRate ?? r.learningRate, seed, classWeights: balance.weights, label: 'features-augment' };
  const { history, metrics, timings, learningRate, lrFinder } = await trainAugmented(model, p, o, run);
  const settings = {
    epochs,
    batchSize,
    learningRate,
    optimizer: o.optimizer ?? 'rmsprop',
    augmentation: o.augmentation ?? BOOK_AUGMENTATION,
    prefixCache: o.prefixCache !== false,
    variants: o.variants ?? 5,
    ...(o.from ? { headFrom: o.from } : {}),
    ...trainingTools(o, balance, lrFinder),
  };
  const meta = await saveModel(model, o.out, metaFor(p, 'features-augment', settings, seed, history, metrics));
  return { model, meta, history, metrics, timings: { ...timings, total: (performance.now() - t0) / 1000 } };
}

/** "a features model of mobilenet_v1 at 224×224 px for classes cats, dogs" (a model without a base says so by leaving it out). */
function describeModel(meta: { recipe?: { name?: string; settings?: Record<string, unknown> }; inputSize: readonly number[]; classNames: string[] }): string {
  const base = meta.recipe?.settings?.base;
  return `a ${meta.recipe?.name ?? 'unknown'} model${typeof base === 'string' ? ` of ${base}` : ''} at ${meta.inputSize.join('×')} px for classes ${listNames(meta.classNames)}`;
}

/** Starts `head` from the trained head of the features model in `dir` (same base, input size and classes). */
async function copyHead(dir: string, head: tf.LayersModel, p: Prepared): Promise<void> {
  const loaded = await loadModel(dir);
  try {
    const { meta, model } = loaded;
    const wanted = { recipe: { name: 'features', settings: { base: p.base.name } }, inputSize: [...p.inputSize], classNames: p.splits.classNames };
    if (describeModel(meta) !== describeModel(wanted)) {
      throw new ConvkitError(`--from ${dir} is ${describeModel(meta)}`, `features-augment starts its head from ${describeModel(wanted)}`);
    }
    for (const layer of head.layers) {
      if (layer.weights.length === 0) continue;
      const source = model.layers.find((l) => l.name === layer.name);
      const shapes = (ws: tf.LayerVariable[]) => ws.map((w) => w.shape.join('x')).join(',');
      if (!source || shapes(source.weights) !== shapes(layer.weights)) {
        throw new ConvkitError(
          `--from ${dir} has no head layer ${layer.name} shaped like this head's`,
          'train the features model with the same pooling and head size',
        );
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
      throw new ConvkitError(
        `the ${backend} backend cannot train layer ${layer.name} (${layer.getClassName()}): kernel ${missing.join(', ')} missing`,
        'unfreeze fewer layers (e.g. from a pointwise conv), or pick another backend with CONVKIT_BACKEND',
      );
    }
  }
}

/** The model finetune starts from, with the base and data it goes with: the --from model, or a features-augment run first. */
async function startingPoint(o: TransferOptions, batchSize: number, seed: number): Promise<{ model: tf.LayersModel; p: Prepared }> {
  const interpolation = o.interpolation ?? 'bilinear';
  if (!o.from) {
    const first = await runFeaturesAugment({
      ...o,
      out: `${resolve(o.out)}.features-augment`,
      epochs: o.epochs ?? FEATURES_AUGMENT.defaults.epochs,
      learningRate: undefined,
      lowestLearningRate: undefined,
    });
    const inputSize = first.meta.inputSize;
    return {
      model: first.model,
      p: {
        source: sourceOf(o),
        base: resolveBase(o),
        features: first.model,
        inputSize,
        interpolation,
        splits: await openSplits(o.data, inputSize, { batchSize, seed, interpolation }),
      },
    };
  }
  const loaded = await loadModel(o.from);
  const made = loaded.meta.recipe?.name;
  if (made !== 'features-augment' && made !== 'features' && made !== 'finetune') {
    loaded.model.dispose();
    throw new ConvkitError(
      `--from ${o.from} was made by recipe "${made ?? 'unknown'}"`,
      'pass the --out folder of a features-augment run (or leave --from out to run it first)',
    );
  }
  const base = resolveBase(o, loaded.meta);
  if (base.parts) loaded.model.dispose();
  refuseCombined(base);
  guardBatchNorm(loaded.model);
  const inputSize = loaded.meta.inputSize;
  return {
    model: loaded.model,
    p: {
      source: sourceOf(o),
      base,
      features: loaded.model,
      inputSize,
      interpolation,
      splits: await openSplits(o.data, inputSize, { batchSize, seed, interpolation }),
    },
  };
}

/** Fine-tuning unfreezes the top blocks of one base; bases side by side have no one top. */
function refuseCombined(base: PretrainedBase): void {
  if (!base.parts) return;
  throw new ConvkitError(
    `recipe finetune cannot fine-tune --base ${base.name}: it unfreezes the top blocks of one base`,
    `fine-tune one of ${base.parts.join(', ')}, or train features or features-augment on ${base.name}`,
  );
}

/** finetune: unfreeze the top block(s) of a features-augment model and train at a low rate. */
async function runFinetune(o: TransferOptions): Promise<TransferResult> {
  const r = FINETUNE.defaults;
  const { epochs = r.epochs, batchSize = r.batchSize, learningRate = r.learningRate, seed = 1 } = o;
  refuseMergedFeatures(o, 'finetune');
  if (!o.from) refuseCombined(resolveBase(o));
  if (o.autoLearningRate)
    throw new ConvkitError(
      'recipe finetune cannot use --learning-rate auto: the range test would train the unfrozen base',
      'give a rate or a range for the unfrozen blocks and the head, e.g. --learning-rate 1e-5:1e-4',
    );
  const t0 = performance.now();
  const { model, p } = await startingPoint(o, batchSize, seed);
  const from =
    o.unfreezeBlocks !== undefined || !p.base.fineTuneFrom ? firstLayerOfLastBlocks(model, o.unfreezeBlocks ?? 1, p.base.blockOf) : p.base.fineTuneFrom;
  const opened = unfreeze(model, { from });
  checkTrainingKernels(opened);
  const balance = classWeightsFor(o, p.splits.train);
  const lrMultipliers =
    o.lowestLearningRate === undefined ? undefined : discriminativeMultipliers(model, { lowest: o.lowestLearningRate, highest: learningRate }, p.base.blockOf);
  if (lrMultipliers)
    say(o)(
      `finetune: discriminative rates from ${o.lowestLearningRate!.toExponential(1)} (first unfrozen block) to ${learningRate.toExponential(1)} (head) over ${new Set(lrMultipliers.values()).size} groups`,
    );
  const run = { epochs, batchSize, learningRate, seed, classWeights: balance.weights, lrMultipliers, label: 'finetune' };
  const { history, metrics, timings } = await trainAugmented(model, p, o, run);
  const settings = {
    epochs,
    batchSize,
    learningRate,
    ...(o.lowestLearningRate !== undefined && { lowestLearningRate: o.lowestLearningRate }),
    optimizer: o.optimizer ?? 'rmsprop',
    unfreezeFrom: from,
    augmentation: o.augmentation ?? BOOK_AUGMENTATION,
    prefixCache: o.prefixCache !== false,
    variants: o.variants ?? 5,
    from: o.from,
    ...trainingTools(o, balance),
  };
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

/**
 * The learning-rate range test of a transfer recipe, on what it trains: the
 * head over cached features (features), or the trainable part over cached
 * frozen-prefix activations (features-augment). Nothing is trained or saved.
 */
export async function findTransferLr(name: TransferRecipeName, o: TransferOptions, finder: LrFindOptions = {}): Promise<LrFindResult> {
  const defaults = TRANSFER_RECIPES[name]?.defaults;
  if (name === 'finetune' || !defaults)
    throw new ConvkitError(
      `the learning-rate finder does not run for recipe ${name}`,
      'run it for features or features-augment; finetune takes --learning-rate LO:HI',
    );
  const { batchSize = defaults.batchSize, seed = 1 } = o;
  const run = { epochs: 1, batchSize, learningRate: o.learningRate ?? defaults.learningRate, seed };
  if (name === 'features') {
    const setup = await featuresSetup(o, batchSize, seed);
    try {
      return await findStageLr(setup.stage, o, { ...run, classWeights: setup.balance.weights }, setup.p.splits.classMode, finder);
    } finally {
      setup.dispose();
      setup.head.dispose();
      setup.p.features.dispose();
    }
  }
  const { p, model } = await augmentedModel(o, batchSize, seed);
  try {
    const balance = classWeightsFor(o, p.splits.train);
    const s = { ...run, classWeights: balance.weights, label: name };
    const { stage } = await augmentedStage(model, p, o, s);
    return await findStageLr(stage, o, s, p.splits.classMode, finder);
  } finally {
    model.dispose();
  }
}

/** Runs a transfer recipe by name. */
export function runTransferRecipe(name: string, options: TransferOptions): Promise<TransferResult> {
  const recipe = TRANSFER_RECIPES[name as TransferRecipeName];
  if (!recipe) throw new ConvkitError(`unknown transfer recipe "${name}"`, `use one of ${Object.keys(TRANSFER_RECIPES).join(', ')}`);
  return recipe.run(options);
}
