/**
 * fit(): Keras's model.fit over a batch iterator or in-memory tensors, as a
 * custom loop (one optimizer step per batch) so that progress, Ctrl-C, NaN
 * checks, learning-rate schedules and seeded dropout are all under control.
 *
 * Reproducibility: TF.js's Dropout draws from Math.random unless it has a
 * seed, and with a fixed seed it draws the same mask at every call; fit gives
 * every Dropout layer a fresh seed from its seeded Rng before each batch.
 */
import * as tf from '@tensorflow/tfjs';
import { ConvkitError, check } from '../util/errors.js';
import { createRng, type Rng } from '../util/rng.js';
import { batchStream, isTensorData, stepsPerPass, type BatchData, type LabeledBatch } from './batches.js';
import { ProgressLogger, type Callback, type History, type Logs, type TrainingState } from './callbacks.js';
import { computeLoss, countCorrect, inferClassMode, outputUnits, prepareLabels, type LabelMode } from './losses.js';
import { getLearningRate, makeOptimizer, makeSchedule, setLearningRate, type OptimizerName, type Schedule, type ScheduleName } from './optimizers.js';
import { WeightEma, chooseEmaLogs, type EmaOptions } from './ema.js';
import { groupedOptimizer } from './lr-groups.js';
import { mixLabeledBatch, type BatchMix } from '../augment/mix.js';
import { decoupleWeightDecay } from './weight-decay.js';
import { fuseBatchNormRelu } from '../backend/batch-norm-training.js';

export interface FitOptions {
  epochs: number;
  /** Batches per epoch (Keras steps_per_epoch); default one pass over the data. */
  stepsPerEpoch?: number;
  /** Validation set, evaluated after every epoch (no augmentation should be applied to it). */
  validationData?: BatchData;
  /** Validation batches per epoch; default one pass. */
  validationSteps?: number;
  /** Optimizer name or instance (default 'rmsprop'). */
  optimizer?: OptimizerName | tf.Optimizer;
  /** Base learning rate (default 1e-3; ignored when `optimizer` is an instance). */
  learningRate?: number;
  /** SGD or RMSprop momentum. */
  momentum?: number;
  /** Learning-rate schedule over the whole run (default constant). */
  schedule?: ScheduleName | Schedule;
  /** Label encoding; default from the data (iterator's classMode, label shape) and the model head. */
  classMode?: LabelMode;
  /** Label smoothing ε (default 0). */
  labelSmoothing?: number;
  /** Decoupled weight decay (AdamW's, fastai's `wd`): kernels shrink by lr·wd each step; biases and BatchNormalization's γ, β do not (default 0). */
  weightDecay?: number;
  callbacks?: Callback[];
  /** Seeds dropout masks and the shuffling of in-memory tensors (default 1). */
  seed?: number;
  /** Batch size for in-memory tensors (default 32). */
  batchSize?: number;
  /** Show the progress bar (default true). */
  verbose?: boolean;
  /** Stop cleanly after the current batch on Ctrl-C (default true). */
  handleSigint?: boolean;
  /** Stops training after the current batch when aborted. */
  signal?: AbortSignal;
  /** First epoch index (to continue a run); default 0. */
  initialEpoch?: number;
  /** Keras's class_weight: one weight per class index multiplying each sample's training loss (validation loss stays unweighted). */
  classWeights?: readonly number[];
  /**
   * An exponential moving average of the weights (ema.ts), updated after
   * every step; with validation data each epoch offers the averaged weights
   * when they validate better on `monitor`, and without it the model ends
   * with the averaged weights (as Keras's use_ema).
   */
  ema?: EmaOptions;
  /**
   * Learning-rate multipliers by layer name (discriminative rates): each
   * group of layers trains with its own optimizer at learningRate × its
   * multiplier (lr-groups.ts); other layers at learningRate.
   */
  lrMultipliers?: ReadonlyMap<string, number>;
  /**
   * MixUp / CutMix (augment's batchMixer): each training batch is mixed
   * with its labels as soft targets (sparse labels one-hot first);
   * validation batches never are. Training accuracy counts the larger share.
   */
  mix?: BatchMix;
}

/** The training loss became NaN or infinite (the learning-rate finder's stop signal, and an error elsewhere). */
export class NonFiniteLossError extends ConvkitError {}

export type StopReason = 'completed' | 'stopped' | 'interrupted';

export interface FitResult extends History {
  /** 'stopped': a callback (EarlyStopping) ended training; 'interrupted': Ctrl-C or the abort signal. */
  stopReason: StopReason;
  classMode: LabelMode;
  /** Seconds spent in fit. */
  seconds: number;
}

/** Layers that draw random numbers in training and take a `seed` (Dropout and friends), nested models included. */
function randomLayers(model: tf.LayersModel): { seed?: number }[] {
  const out: { seed?: number }[] = [];
  const visit = (layers: tf.layers.Layer[]) => {
    for (const l of layers) {
      const inner = (l as unknown as { layers?: tf.layers.Layer[] }).layers;
      if (Array.isArray(inner)) visit(inner);
      else if (/Dropout|Noise/.test(l.getClassName())) out.push(l as unknown as { seed?: number });
    }
  };
  visit(model.layers);
  return out;
}

function nextSeed(rng: Rng): number {
  return 1 + rng.int(0x7ffffffe);
}

function disposeBatch(b: LabeledBatch): void {
  b.x.dispose();
  b.y?.dispose();
}

interface EvalSums {
  loss: number;
  correct: number;
  n: number;
}

/** Mean loss and accuracy of `model` over `data` (inference mode); stops early, with what it has, when `signal` aborts. */
export async function evaluateLossAcc(
  model: tf.LayersModel,
  data: BatchData,
  options: { steps?: number; classMode?: LabelMode; batchSize?: number; signal?: AbortSignal } = {},
): Promise<{ loss: number; acc: number; n: number }> {
  const sums: EvalSums = { loss: 0, correct: 0, n: 0 };
  const units = outputUnits(model);
  let mode = options.classMode;
  for await (const batch of batchStream(data, { steps: options.steps, defaultBatchSize: options.batchSize })) {
    try {
      if (!batch.y) throw new ConvkitError('validation batches have no labels', 'use classMode binary, categorical or sparse');
      mode ??= inferClassMode(model, batch.y, isTensorData(data) ? undefined : data.classMode);
      const m = mode;
      const [l, c] = tf.tidy(() => {
        const y = prepareLabels(batch.y!, m, units);
        const p = model.predict(batch.x) as tf.Tensor;
        return [computeLoss(y, p, m), countCorrect(y, p, m)];
      });
      const [lv, cv] = await Promise.all([l.data(), c.data()]);
      l.dispose();
      c.dispose();
      const size = batch.x.shape[0];
      sums.loss += lv[0]! * size;
      sums.correct += cv[0]!;
      sums.n += size;
    } finally {
      disposeBatch(batch);
    }
    if (options.signal?.aborted) break;
  }
  if (sums.n === 0) throw new ConvkitError('the validation data is empty', 'give the validation folder at least one image per class');
  return { loss: sums.loss / sums.n, acc: sums.correct / sums.n, n: sums.n };
}

/**
 * Ctrl-C and the caller's abort signal, as one signal: training stops after
 * the current batch (or validation batch); a second Ctrl-C quits at once.
 */
class Interruption {
  private readonly controller = new AbortController();
  readonly signal = this.controller.signal;
  private readonly onSigint = () => {
    if (this.signal.aborted) process.exit(130);
    process.stderr.write('\nconvkit: stopping after this batch; the last checkpoint is kept (Ctrl-C again quits now)\n');
    this.controller.abort();
  };
  private readonly onAbort = () => this.controller.abort();

  constructor(
    private readonly outer: AbortSignal | undefined,
    private readonly sigint: boolean,
  ) {
    if (sigint) process.on('SIGINT', this.onSigint);
    outer?.addEventListener('abort', this.onAbort);
    if (outer?.aborted) this.controller.abort();
  }

  get interrupted(): boolean {
    return this.signal.aborted;
  }

  dispose(): void {
    if (this.sigint) process.off('SIGINT', this.onSigint);
    this.outer?.removeEventListener('abort', this.onAbort);
  }
}

/** What one fit() call's steps and epochs share. */
interface FitLoop {
  model: tf.LayersModel;
  data: BatchData;
  options: FitOptions;
  optimizer: tf.Optimizer;
  schedule: Schedule;
  batchSize: number;
  units: number;
  declaredMode?: Parameters<typeof inferClassMode>[2];
  mode?: LabelMode;
  state: TrainingState;
  callbacks: Callback[];
  /** Dropout-like layers, reseeded before every batch, and the seeds they had. */
  dropouts: { seed?: number }[];
  savedSeeds: (number | undefined)[];
  vars: tf.Variable[];
  shuffleRng: Rng;
  dropoutRng: Rng;
  mixRng: Rng;
  totalSteps?: number;
  globalStep: number;
  interruption: Interruption;
  ema?: WeightEma;
  /** Takes weight decay off an optimizer the caller passed in. */
  undoWeightDecay?: () => void;
}

async function callAll(loop: FitLoop, fn: (cb: Callback) => void | Promise<void> | undefined): Promise<void> {
  for (const cb of loop.callbacks) await fn(cb);
}

function restoreSeeds(loop: FitLoop): void {
  loop.dropouts.forEach((l, i) => (l.seed = loop.savedSeeds[i]));
}

/** One optimizer step on one batch: its loss, correct count and the learning rate it ran at. */
async function trainStep(loop: FitLoop, batch: LabeledBatch, epoch: number, batchIndex: number): Promise<{ loss: number; correct: number; lr: number }> {
  const { model, optimizer, options } = loop;
  if (!batch.y) throw new ConvkitError('training batches have no labels', 'use classMode binary, categorical or sparse');
  loop.mode ??= inferClassMode(model, batch.y, loop.declaredMode);
  const m = loop.mode;
  const initialEpoch = options.initialEpoch ?? 0;
  const progress = loop.totalSteps ? loop.globalStep / loop.totalSteps : (epoch - initialEpoch) / Math.max(1, options.epochs - initialEpoch);
  const lr = loop.state.learningRate * loop.schedule(Math.min(1, progress));
  if (lr !== getLearningRate(optimizer)) setLearningRate(optimizer, lr);
  for (const l of loop.dropouts) l.seed = nextSeed(loop.dropoutRng);
  const labels = prepareLabels(batch.y, m, loop.units);
  const mixed = options.mix ? mixLabeledBatch(options.mix, batch.x, labels, m, loop.units, loop.mixRng) : undefined;
  const x = mixed?.x ?? batch.x,
    y = mixed?.y ?? labels,
    lossMode = mixed?.mode ?? m;
  let correct: tf.Scalar | undefined;
  const loss = optimizer.minimize(
    () => {
      const pred = model.apply(x, { training: true }) as tf.Tensor;
      const reg = model.calculateLosses();
      const base = computeLoss(y, pred, lossMode, options.labelSmoothing ?? 0, options.classWeights);
      correct = tf.keep(countCorrect(y, pred, lossMode));
      return reg.length ? (tf.addN([base, ...reg]) as tf.Scalar) : base;
    },
    true,
    loop.vars,
  )!;
  loop.ema?.update();
  restoreSeeds(loop);
  tf.dispose(mixed ? [labels, mixed.x, mixed.y] : labels);
  const [lv, cv] = await Promise.all([loss.data(), correct!.data()]);
  loss.dispose();
  correct!.dispose();
  if (!Number.isFinite(lv[0]!)) {
    throw new NonFiniteLossError(
      `the training loss became ${lv[0]} at epoch ${epoch + 1}, batch ${batchIndex + 1} (learning rate ${lr.toExponential(2)})`,
      `lower the learning rate (e.g. --learning-rate ${(lr / 10).toExponential(0)}) and check that the input pixels are finite`,
    );
  }
  loop.globalStep++;
  return { loss: lv[0]!, correct: cv[0]!, lr };
}

/** One epoch: the training pass, then validation. Undefined when interrupted (the epoch does not count). */
async function runEpoch(loop: FitLoop, epoch: number): Promise<Logs | undefined> {
  const { options, interruption } = loop;
  let lossSum = 0,
    correctSum = 0,
    seen = 0,
    batchIndex = 0,
    lr = loop.state.learningRate;
  for await (const batch of batchStream(loop.data, { steps: options.stepsPerEpoch, rng: loop.shuffleRng, defaultBatchSize: loop.batchSize })) {
    try {
      const step = await trainStep(loop, batch, epoch, batchIndex);
      const size = batch.x.shape[0];
      lossSum += step.loss * size;
      correctSum += step.correct;
      seen += size;
      lr = step.lr;
      await callAll(loop, (cb) =>
        cb.onBatchEnd?.(batchIndex, { batch: batchIndex, size, loss: lossSum / seen, acc: correctSum / seen, batch_loss: step.loss }, loop.state),
      );
      batchIndex++;
    } finally {
      disposeBatch(batch);
    }
    if (interruption.interrupted) return undefined;
  }
  if (seen === 0) throw new ConvkitError('the training data is empty', 'put images in each class folder');
  const logs: Logs = { loss: lossSum / seen, acc: correctSum / seen };
  if (options.validationData) {
    const v = await evaluateLossAcc(loop.model, options.validationData, {
      steps: options.validationSteps,
      classMode: loop.mode,
      batchSize: loop.batchSize,
      signal: interruption.signal,
    });
    if (interruption.interrupted) return undefined;
    logs.val_loss = v.loss;
    logs.val_acc = v.acc;
    if (loop.ema) {
      const averaged = await evaluateWithAverage(loop, options.validationData);
      if (!averaged) return undefined;
      Object.assign(logs, chooseEmaLogs(v, averaged, loop.options.ema!).logs);
    }
  }
  logs.lr = lr;
  return logs;
}

/** Validation loss and accuracy with the averaged weights in the model (undefined when interrupted). */
async function evaluateWithAverage(loop: FitLoop, data: BatchData): Promise<{ loss: number; acc: number } | undefined> {
  const { options, interruption } = loop;
  loop.ema!.swapIn();
  try {
    const v = await evaluateLossAcc(loop.model, data, {
      steps: options.validationSteps,
      classMode: loop.mode,
      batchSize: loop.batchSize,
      signal: interruption.signal,
    });
    return interruption.interrupted ? undefined : v;
  } finally {
    loop.ema!.swapOut();
  }
}

function checkFitOptions(options: FitOptions): void {
  const { epochs, labelSmoothing = 0 } = options;
  check(Number.isInteger(epochs) && epochs >= 1, 'epochs', epochs, 'an integer ≥ 1');
  check(labelSmoothing >= 0 && labelSmoothing < 1, 'labelSmoothing', labelSmoothing, 'a number in [0, 1)');
  const { weightDecay = 0 } = options;
  check(Number.isFinite(weightDecay) && weightDecay >= 0, 'weightDecay', weightDecay, 'a number ≥ 0 (e.g. 0.01; 0 = none)');
  if (options.stepsPerEpoch !== undefined)
    check(Number.isInteger(options.stepsPerEpoch) && options.stepsPerEpoch >= 1, 'stepsPerEpoch', options.stepsPerEpoch, 'an integer ≥ 1');
}

/** Sets up one fit() call: optimizer, schedule, seeded random streams, callbacks, interruption. */
function startLoop(model: tf.LayersModel, data: BatchData, options: FitOptions): FitLoop {
  const { epochs, seed = 1, verbose = true, handleSigint = true, initialEpoch = 0 } = options;
  const rng = createRng(seed);
  const given = typeof options.optimizer === 'object' && options.optimizer !== null ? options.optimizer : undefined;
  // Weight decay rides on the optimizer that updates each weight, at its own rate (a group's, with lrMultipliers).
  const decayed = (o: tf.Optimizer) => {
    if (options.weightDecay) decoupleWeightDecay(o, options.weightDecay);
    return o;
  };
  const make = (learningRate: number) =>
    decayed(makeOptimizer((options.optimizer as OptimizerName | undefined) ?? 'rmsprop', { learningRate, momentum: options.momentum }));
  if (given && options.lrMultipliers)
    throw new ConvkitError('fit: lrMultipliers need an optimizer by name', "pass optimizer: 'sgd' | 'adam' | 'rmsprop' (one is made per group of layers)");
  const optimizer =
    given ?? (options.lrMultipliers ? groupedOptimizer(model, options.lrMultipliers, options.learningRate ?? 1e-3, make) : make(options.learningRate ?? 1e-3));
  const batchSize = options.batchSize ?? 32;
  // As batchStream: the data's own batch size first, so that schedules see the steps that will run.
  const stepsPerEpoch = options.stepsPerEpoch ?? stepsPerPass(data, batchSize);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  if (vars.length === 0) throw new ConvkitError(`model ${model.name} has no trainable weights`, 'unfreeze some layers before training');
  const dropouts = randomLayers(model);
  const units = outputUnits(model);
  if (options.classWeights && options.classWeights.length !== Math.max(2, units))
    throw new ConvkitError(
      `fit: ${options.classWeights.length} class weights for a model with ${Math.max(2, units)} classes`,
      'give one class weight per class, in class-index order',
    );
  return {
    model,
    data,
    options,
    optimizer,
    batchSize,
    vars,
    dropouts,
    savedSeeds: dropouts.map((l) => l.seed),
    schedule: typeof options.schedule === 'function' ? options.schedule : makeSchedule(options.schedule),
    units,
    declaredMode: options.classMode ?? (isTensorData(data) ? undefined : (data.classMode ?? undefined)),
    mode: options.classMode,
    state: { model, epochs, stepsPerEpoch, history: { epoch: [], history: {} }, stopTraining: false, learningRate: getLearningRate(optimizer) },
    callbacks: [...(verbose ? [new ProgressLogger()] : []), ...(options.callbacks ?? [])],
    shuffleRng: rng.fork(),
    dropoutRng: rng.fork(),
    mixRng: rng.fork(),
    totalSteps: stepsPerEpoch ? epochs * stepsPerEpoch : undefined,
    globalStep: initialEpoch * (stepsPerEpoch ?? 0),
    interruption: new Interruption(options.signal, handleSigint),
    ema: options.ema ? new WeightEma(vars, options.ema.decay) : undefined,
    undoWeightDecay: given && options.weightDecay ? decoupleWeightDecay(given, options.weightDecay) : undefined,
  };
}

export async function fit(model: tf.LayersModel, data: BatchData, options: FitOptions): Promise<FitResult> {
  checkFitOptions(options);
  const t0 = performance.now();
  const loop = startLoop(model, data, options);
  // ReLUs after BatchNormalization run inside its training kernels while this fit lasts.
  const unfuse = fuseBatchNormRelu(model);
  const {
    state,
    state: { history },
  } = loop;
  let stopReason: StopReason = 'completed';
  let lastLogs: Logs = {};
  try {
    await callAll(loop, (cb) => cb.onTrainBegin?.(state));
    for (let epoch = options.initialEpoch ?? 0; epoch < options.epochs; epoch++) {
      // Training goes on from the trained weights, whichever the last epoch offered.
      loop.ema?.swapOut();
      await callAll(loop, (cb) => cb.onEpochBegin?.(epoch, state));
      const logs = await runEpoch(loop, epoch);
      if (!logs) {
        stopReason = 'interrupted';
        break;
      }
      history.epoch.push(epoch);
      for (const [k, v] of Object.entries(logs)) (history.history[k] ??= []).push(v);
      lastLogs = logs;
      // The epoch's callbacks (checkpoints, early stopping) see the weights it offers: the average when it validated better.
      if (logs.ema === 1) loop.ema!.swapIn();
      await callAll(loop, (cb) => cb.onEpochEnd?.(epoch, logs, state));
      if (loop.interruption.interrupted || state.stopTraining) {
        stopReason = loop.interruption.interrupted ? 'interrupted' : 'stopped';
        break;
      }
    }
    // The model ends with the last epoch's choice; without validation to choose, with the average (Keras's use_ema).
    if (loop.ema && (loop.ema.swappedIn || !options.validationData)) loop.ema.commit();
    await callAll(loop, (cb) => cb.onTrainEnd?.(lastLogs, state));
  } finally {
    unfuse();
    loop.ema?.dispose();
    restoreSeeds(loop);
    loop.interruption.dispose();
    loop.undoWeightDecay?.();
    if (loop.optimizer !== options.optimizer) loop.optimizer.dispose();
  }
  return { ...history, stopReason, classMode: loop.mode ?? inferClassMode(model, undefined, loop.declaredMode), seconds: (performance.now() - t0) / 1000 };
}
