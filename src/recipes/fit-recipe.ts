/**
 * The run of a recipe that builds a model: read DIR/train and
 * DIR/validation, fit with checkpoints of the best epoch into the output
 * folder, then score DIR/test and record everything in convkit.json,
 * history.csv and history.json.
 */
import type * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { ImageDataGenerator } from '../augment/generator.js';
import { flowFromDirectory, type DirectoryIterator } from '../data/iterator.js';
import { splitFolder } from '../data/splits.js';
import { ConvkitError } from '../util/errors.js';
import { listNames } from '../util/list-names.js';
import { writeFileAtomic } from '../util/atomic.js';
import { CSVLogger, JSONHistoryLogger, ModelCheckpoint, historyToCsv, plateauCallbacks, type Callback } from '../train/callbacks.js';
import { fit, type FitResult } from '../train/fit.js';
import { inputMetaOf } from '../train/model-meta.js';
import { saveModel, updateModelMeta, type ModelMetaInput } from '../train/saved-model.js';
import type { Recipe } from './recipe.js';
import { scoreTest, scoredMetrics, type Scored } from './score-test.js';
import type { Run, RunResult } from './run.js';

/** The training and validation iterators of a run (validation unshuffled unless only a sample is scored). */
async function openSplits(o: Run): Promise<{ train: DirectoryIterator; validation: DirectoryIterator }> {
  const { settings, data, seed } = o;
  const size = settings.imageSize;
  const common = {
    targetSize: [size, size] as const,
    classMode: 'sparse' as const,
    batchSize: settings.batchSize,
    interpolation: settings.interpolation ?? 'bilinear',
    cacheDir: o.imageCacheDir,
  };
  const transform = settings.augmentation ? new ImageDataGenerator({ ...settings.augmentation, rescale: null }).batchTransform() : undefined;
  const train = await flowFromDirectory(splitFolder(data, 'train'), { ...common, shuffle: true, seed, transform });
  // A partial validation pass (validationSteps) draws a shuffled sample: the sorted files would give one class only.
  const validation = await flowFromDirectory(splitFolder(data, 'validation'), { ...common, shuffle: settings.validationSteps !== undefined, seed: seed + 1 });
  return { train, validation };
}

/** convkit.json of the model: what it reads, how it was trained and on what. */
function modelMeta(o: Run, train: DirectoryIterator, validation: DirectoryIterator): ModelMetaInput {
  const { settings, recipe, profile, seed } = o;
  return {
    ...inputMetaOf(train),
    recipe: { name: recipe.name, profile, settings: settings as unknown as Record<string, unknown>, seed },
    data: { root: o.source, train: train.n, validation: validation.n },
  };
}

function banner(o: Run, meta: ModelMetaInput, train: DirectoryIterator, validation: DirectoryIterator): string {
  const { settings: s, recipe, profile } = o;
  const classes = `${meta.classNames.length} classes [${listNames(meta.classNames)}]`;
  const images = `${train.n} training / ${validation.n} validation images, ${s.imageSize}×${s.imageSize} px`;
  const run = `batch ${s.batchSize}, ${s.epochs} epochs, ${s.optimizer} lr ${s.learningRate}${s.augmentation ? ', augmentation on' : ''}`;
  return `convkit train: recipe ${recipe.name} (${profile}), ${classes}, ${images}, ${run}`;
}

/** fit() with the recipe's settings, keeping the best epoch (by `monitor`) in the output folder. */
async function fitKeepingBest(o: Run, model: tf.LayersModel, train: DirectoryIterator, validation: DirectoryIterator, meta: () => ModelMetaInput) {
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
    classMode: meta().classMode === 'binary' ? 'binary' : 'sparse',
    callbacks,
    seed: o.seed,
    verbose,
    signal: o.signal,
  });
  const early = plateau.early;
  if (early && early.stoppedEpoch >= 0 && verbose)
    log(`convkit train: early stopping at epoch ${early.stoppedEpoch + 1} (best ${monitor} ${early.best.toFixed(4)} at epoch ${early.bestEpoch + 1})`);
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
  const { settings, data, out, seed, verbose } = o;
  const { train, validation } = await openSplits(o);
  let model: tf.LayersModel | undefined;
  try {
    const meta = modelMeta(o, train, validation);
    model = await buildModel({ settings, numClasses: meta.classNames.length, seed });
    if (verbose) o.log(banner(o, meta, train, validation));
    const { history, keptEpoch, monitor } = await fitKeepingBest(o, model, train, validation, () => meta);
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
