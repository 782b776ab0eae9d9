/**
 * The run of a recipe that builds a model: read DIR/train and
 * DIR/validation, fit with checkpoints of the best epoch into the output
 * folder, then score DIR/test and record everything in convkit.json,
 * history.csv and history.json.
 */
import type * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { ImageDataGenerator } from '../augment/generator.js';
import { describeStrongAugmentation, trainingAugmentation } from '../augment/training-augmentation.js';
import { flowFromDirectory, type DirectoryIterator } from '../data/iterator.js';
import { splitFolder } from '../data/splits.js';
import { ConvkitError } from '../util/errors.js';
import { listNames } from '../util/list-names.js';
import { writeFileAtomic } from '../util/atomic.js';
import { CSVLogger, JSONHistoryLogger, ModelCheckpoint, historyToCsv, plateauCallbacks, type Callback } from '../train/callbacks.js';
import { fit, type FitResult } from '../train/fit.js';
import { inputMetaOf } from '../train/model-meta.js';
import { saveModel, updateModelMeta, type ModelMetaInput } from '../train/saved-model.js';
import type { BatchData } from '../train/batches.js';
import { BalancedFolderBatches } from '../train/balanced-sampling.js';
import { describeEmaChoice } from '../train/ema.js';
import { chooseClassWeights, classCounts, type ClassWeightChoice } from '../train/class-balance.js';
import { describeLrFind, lrFind, summarizeLrFind, type LrFindOptions, type LrFindResult } from '../train/lr-find.js';
import type { Recipe } from './recipe.js';
import { scoreTest, scoredMetrics, type Scored } from './score-test.js';
import type { Run, RunResult } from './run.js';

interface Splits {
  train: DirectoryIterator;
  validation: DirectoryIterator;
  /** What fit trains on: `train`, or balanced epochs drawn from it (--sampling balanced). */
  trainData: BatchData;
  /** Another stream of the same training batches (sharing the decoded images), for the learning-rate finder. */
  freshTrain: () => Promise<BatchData>;
}

/** The training and validation iterators of a run (validation unshuffled unless only a sample is scored). */
async function openSplits(o: Run): Promise<Splits> {
  const { settings, data, seed } = o;
  const size = settings.imageSize;
  const common = {
    targetSize: [size, size] as const,
    classMode: 'sparse' as const,
    batchSize: settings.batchSize,
    interpolation: settings.interpolation ?? 'bilinear',
    cacheDir: o.imageCacheDir,
  };
  const { augmentation } = trainingAugmentation(settings);
  const transform = augmentation ? new ImageDataGenerator({ ...augmentation, rescale: null }).batchTransform() : undefined;
  const train = await flowFromDirectory(splitFolder(data, 'train'), { ...common, shuffle: true, seed, transform });
  // A partial validation pass (validationSteps) draws a shuffled sample: the sorted files would give one class only.
  const validation = await flowFromDirectory(splitFolder(data, 'validation'), { ...common, shuffle: settings.validationSteps !== undefined, seed: seed + 1 });
  const balanced = (it: DirectoryIterator): BatchData => (settings.sampling === 'balanced' ? new BalancedFolderBatches(it, { seed, transform }) : it);
  const freshTrain = async () =>
    balanced(await flowFromDirectory(splitFolder(data, 'train'), { ...common, shuffle: true, seed, transform, cache: train.cache }));
  return { train, validation, trainData: balanced(train), freshTrain };
}

/** The class weights of the run, from the training counts (logged; as a warning when 'auto' turned them on). */
function classWeightsOf(o: Run, train: DirectoryIterator): ClassWeightChoice {
  const { settings } = o;
  const choice = chooseClassWeights(classCounts(train.labels, train.classNames.length), settings.classWeight ?? 'auto', train.classNames, {
    balancedSampling: settings.sampling === 'balanced',
  });
  if (o.verbose && (choice.warn || choice.weights)) o.log(`convkit train: ${choice.warn ? 'warning: ' : ''}${choice.reason}`);
  return choice;
}

/** The range test on the recipe's model with the run's settings (the weights are put back afterwards). */
async function findLr(o: Run, model: tf.LayersModel, splits: Splits, balance: ClassWeightChoice, finder: LrFindOptions = {}): Promise<LrFindResult> {
  const { settings } = o;
  return lrFind(model, await splits.freshTrain(), {
    optimizer: settings.optimizer,
    momentum: settings.momentum,
    classMode: splits.train.classNames.length === 2 ? 'binary' : 'sparse',
    labelSmoothing: settings.labelSmoothing,
    classWeights: balance.weights,
    seed: o.seed,
    verbose: o.verbose,
    signal: o.signal,
    ...finder,
  });
}

/** The range test of a model-building recipe: its untrained model on its training images; nothing is trained or saved. */
export async function findFitRecipeLr(o: Run, buildModel: NonNullable<Recipe['buildModel']>, finder: LrFindOptions = {}): Promise<LrFindResult> {
  const splits = await openSplits(o);
  let model: tf.LayersModel | undefined;
  try {
    model = await buildModel({ settings: o.settings, numClasses: splits.train.classNames.length, seed: o.seed });
    return await findLr(o, model, splits, classWeightsOf(o, splits.train), finder);
  } finally {
    model?.dispose();
    splits.train.dispose();
    splits.validation.dispose();
  }
}

/** convkit.json of the model: what it reads, how it was trained and on what. */
function modelMeta(o: Run, train: DirectoryIterator, validation: DirectoryIterator, tools: Record<string, unknown> = {}): ModelMetaInput {
  const { settings, recipe, profile, seed } = o;
  return {
    ...inputMetaOf(train),
    recipe: { name: recipe.name, profile, settings: { ...(settings as unknown as Record<string, unknown>), ...tools }, seed },
    data: { root: o.source, train: train.n, validation: validation.n },
  };
}

function banner(o: Run, meta: ModelMetaInput, train: DirectoryIterator, validation: DirectoryIterator): string {
  const { settings: s, recipe, profile } = o;
  const classes = `${meta.classNames.length} classes [${listNames(meta.classNames)}]`;
  const images = `${train.n} training / ${validation.n} validation images, ${s.imageSize}×${s.imageSize} px`;
  const strong = describeStrongAugmentation(s).map((d) => `, ${d}`);
  const run = `batch ${s.batchSize}, ${s.epochs} epochs, ${s.optimizer} lr ${s.learningRate}${s.augmentation ? ', augmentation on' : ''}${strong.join('')}`;
  return `convkit train: recipe ${recipe.name} (${profile}), ${classes}, ${images}, ${run}`;
}

/** fit() with the recipe's settings, keeping the best epoch (by `monitor`) in the output folder. */
async function fitKeepingBest(
  o: Run,
  model: tf.LayersModel,
  train: BatchData,
  validation: DirectoryIterator,
  meta: () => ModelMetaInput,
  classWeights: number[] | undefined,
) {
  const { settings, out, log, verbose } = o;
  const monitor = settings.monitor ?? 'val_loss';
  const checkpoint = new ModelCheckpoint(out, { monitor, saveBestOnly: true, meta });
  const plateau = plateauCallbacks(settings, monitor, log);
  const callbacks: Callback[] = [
    checkpoint,
    new CSVLogger(join(out, 'history.csv')),
    new JSONHistoryLogger(join(out, 'history.json')),
    ...plateau.callbacks,
    ...(o.callbacks ?? []),
  ];
  const history = await fit(model, train, {
    epochs: settings.epochs,
    stepsPerEpoch: settings.stepsPerEpoch,
    validationData: validation,
    validationSteps: settings.validationSteps,
    optimizer: settings.optimizer,
    learningRate: settings.learningRate,
    momentum: settings.momentum,
    schedule: settings.schedule,
    labelSmoothing: settings.labelSmoothing,
    weightDecay: settings.weightDecay,
    classMode: meta().classMode === 'binary' ? 'binary' : 'sparse',
    classWeights,
    mix: trainingAugmentation(settings).mix,
    ema: settings.ema === undefined ? undefined : { decay: settings.ema, monitor },
    callbacks,
    seed: o.seed,
    verbose,
    signal: o.signal,
  });
  const early = plateau.early;
  if (early && early.stoppedEpoch >= 0 && verbose)
    log(`convkit train: early stopping at epoch ${early.stoppedEpoch + 1} (best ${monitor} ${early.best.toFixed(4)} at epoch ${early.bestEpoch + 1})`);
  const emaChoice = settings.ema === undefined ? undefined : describeEmaChoice(history, checkpoint.bestEpoch);
  if (emaChoice && verbose) log(`convkit train: ${emaChoice}`);
  if (checkpoint.saves === 0) {
    if (history.epoch.length === 0)
      throw new ConvkitError('training stopped before the first epoch ended; no model was saved', 'let at least one epoch finish');
    await saveModel(model, out, { ...meta(), history });
  }
  return { history, keptEpoch: checkpoint.bestEpoch, monitor };
}

/** convkit.json's metrics of the kept epoch (the last one when none was checkpointed): its logs and how the run ended. */
function keptEpochMetrics(history: FitResult, keptEpoch: number, monitor: string): Record<string, unknown> {
  const bestEpoch = keptEpoch >= 0 ? keptEpoch : history.epoch[history.epoch.length - 1]!;
  const at = history.epoch.indexOf(bestEpoch);
  const epochLogs = Object.fromEntries(Object.entries(history.history).map(([k, v]) => [k, v[at]]));
  return { bestEpoch: bestEpoch + 1, monitor, ...epochLogs, stopReason: history.stopReason, epochsRun: history.epoch.length, trainSeconds: history.seconds };
}

/** A recipe that builds a model: one fit with checkpoints of the best epoch, then the test set. */
export async function fitRecipe(o: Run, buildModel: NonNullable<Recipe['buildModel']>): Promise<RunResult> {
  const { data, out, seed, verbose } = o;
  const splits = await openSplits(o);
  const { train, validation } = splits;
  let model: tf.LayersModel | undefined;
  try {
    const balance = classWeightsOf(o, train);
    model = await buildModel({ settings: o.settings, numClasses: train.classNames.length, seed });
    const tools: Record<string, unknown> = {
      classWeight: { mode: balance.mode, weights: balance.weights ?? null, counts: balance.counts, reason: balance.reason },
    };
    if (o.settings.autoLearningRate) {
      const found = await findLr(o, model, splits, balance);
      if (verbose) o.log(`convkit train: ${describeLrFind(found)}; training at it`);
      o = { ...o, settings: { ...o.settings, learningRate: found.suggestion } };
      tools.lrFinder = summarizeLrFind(found);
    }
    const { settings } = o;
    const meta = modelMeta(o, train, validation, tools);
    if (verbose) o.log(banner(o, meta, train, validation));
    const { history, keptEpoch, monitor } = await fitKeepingBest(o, model, splits.trainData, validation, () => meta, balance.weights);
    // Score the kept checkpoint (not the last epoch's weights) on the test set.
    const scoring = { classNames: meta.classNames, batchSize: settings.batchSize, interpolation: settings.interpolation ?? 'bilinear', seed, verbose };
    const scored: Scored = history.stopReason === 'interrupted' ? {} : await scoreTest(out, data, { ...scoring, ttaViews: settings.ttaViews });
    const metrics = { ...keptEpochMetrics(history, keptEpoch, monitor), ...scoredMetrics(scored) };
    const saved = await updateModelMeta(out, { history: { epoch: history.epoch, history: history.history }, metrics });
    await writeFileAtomic(join(out, 'history.csv'), historyToCsv(history));
    await writeFileAtomic(join(out, 'history.json'), JSON.stringify({ epoch: history.epoch, history: history.history }, null, 2) + '\n');
    return { out, meta: saved, history, settings, ...scored };
  } finally {
    model?.dispose();
    train.dispose();
    validation.dispose();
  }
}
