/**
 * Training callbacks with Keras's names and semantics: a hook object gets
 * onTrainBegin / onEpochBegin / onBatchEnd / onEpochEnd / onTrainEnd with a
 * `logs` record (`loss`, `acc`, `val_loss`, `val_acc`, `lr`, ...) and the
 * training state, which it may change (stopTraining, learningRate).
 */
import type * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from '../util/atomic.js';
import { Progress } from '../util/progress.js';
import { check } from '../util/errors.js';
import { saveModel, type ModelMetaInput } from './saved-model.js';

export type Logs = Record<string, number>;

/** Keras's History: epoch indices (from 0) and one list per metric. */
export interface History {
  epoch: number[];
  history: Record<string, number[]>;
}

export interface TrainingState {
  readonly model: tf.LayersModel;
  /** Total epochs requested. */
  readonly epochs: number;
  /** Batches per epoch, when known. */
  readonly stepsPerEpoch?: number;
  readonly history: History;
  /** Set to true to stop at the end of the current epoch (or batch). */
  stopTraining: boolean;
  /** Base learning rate; a schedule multiplies it at every batch. */
  learningRate: number;
}

/** A user hook: implement any subset (Keras's LambdaCallback is just such an object). */
export interface Callback {
  onTrainBegin?(state: TrainingState): void | Promise<void>;
  onEpochBegin?(epoch: number, state: TrainingState): void | Promise<void>;
  /** `logs` holds the running means of the epoch so far plus `size` (images in this batch). */
  onBatchEnd?(batch: number, logs: Logs, state: TrainingState): void | Promise<void>;
  onEpochEnd?(epoch: number, logs: Logs, state: TrainingState): void | Promise<void>;
  onTrainEnd?(logs: Logs, state: TrainingState): void | Promise<void>;
}

export type MonitorMode = 'auto' | 'min' | 'max';

/** Keras's 'auto': accuracy-like metrics are maximized, others minimized. */
export function resolveMode(monitor: string, mode: MonitorMode = 'auto'): 'min' | 'max' {
  if (mode !== 'auto') return mode;
  return /acc|auc|f1|precision|recall/i.test(monitor) ? 'max' : 'min';
}

function better(mode: 'min' | 'max', current: number, best: number, minDelta: number): boolean {
  return mode === 'min' ? current < best - minDelta : current > best + minDelta;
}

function formatLogs(logs: Logs, keys = Object.keys(logs)): string {
  return keys
    .filter((k) => k !== 'size' && k !== 'batch' && logs[k] !== undefined)
    .map((k) => `${k} ${k === 'lr' ? logs[k]!.toExponential(2) : logs[k]!.toFixed(4)}`)
    .join(' ');
}

export interface ProgressLoggerOptions {
  silent?: boolean;
  stream?: NodeJS.WriteStream;
}

/** Keras's verbose=1 progress bar: batches, images/s, ETA, running loss and accuracy; one summary line per epoch. */
export class ProgressLogger implements Callback {
  private bar?: Progress;
  private images = 0;
  private start = 0;
  private trainEnd = 0;
  constructor(private readonly options: ProgressLoggerOptions = {}) {}

  onEpochBegin(epoch: number, state: TrainingState): void {
    this.images = 0;
    this.start = performance.now();
    this.bar = new Progress({
      total: state.stepsPerEpoch ?? 0,
      label: `Epoch ${epoch + 1}/${state.epochs}`,
      unit: 'batch',
      silent: this.options.silent,
      stream: this.options.stream,
    });
  }

  onBatchEnd(_batch: number, logs: Logs): void {
    this.images += logs.size ?? 0;
    this.trainEnd = performance.now();
    const ips = this.images / Math.max(1e-9, (this.trainEnd - this.start) / 1000);
    this.bar?.tick(1, `${ips.toFixed(1)} img/s ${formatLogs(logs, ['loss', 'acc'])}`);
  }

  onEpochEnd(_epoch: number, logs: Logs): void {
    // Training throughput: validation time is left out.
    const ips = this.images / Math.max(1e-9, (this.trainEnd - this.start) / 1000);
    this.bar?.finish(`${ips.toFixed(1)} img/s ${formatLogs(logs)}`);
  }
}

/** Keras's CSVLogger: one row per epoch (epoch, then the metrics), rewritten atomically after every epoch. */
export class CSVLogger implements Callback {
  constructor(
    readonly path: string,
    private readonly separator = ',',
  ) {}

  async onEpochEnd(_epoch: number, _logs: Logs, state: TrainingState): Promise<void> {
    await writeFileAtomic(this.path, historyToCsv(state.history, this.separator));
  }
}

export function historyToCsv(history: History, separator = ','): string {
  const keys = Object.keys(history.history);
  const rows = history.epoch.map((e, i) =>
    [
      String(e),
      ...keys.map((k) => {
        const v = history.history[k]![i];
        return v === undefined || v === null ? '' : String(v);
      }),
    ].join(separator),
  );
  return [['epoch', ...keys].join(separator), ...rows].join('\n') + '\n';
}

/** Writes the History as JSON ({epoch, history}) after every epoch. */
export class JSONHistoryLogger implements Callback {
  constructor(readonly path: string) {}

  async onEpochEnd(_epoch: number, _logs: Logs, state: TrainingState): Promise<void> {
    await writeFileAtomic(this.path, JSON.stringify(state.history, null, 2) + '\n');
  }
}

export interface ModelCheckpointOptions {
  /** Metric to watch (default 'val_loss'). */
  monitor?: string;
  mode?: MonitorMode;
  /** Save only when the monitored metric improves (default true, as the book uses it). */
  saveBestOnly?: boolean;
  /** convkit.json content for each save (classes, input size, ...); history and metrics are filled in. */
  meta: (state: TrainingState) => ModelMetaInput;
  /** Called after each save. */
  onSave?: (epoch: number, value: number | undefined) => void;
}

/** Keras's ModelCheckpoint: saves a convkit model folder when the monitored metric improves. */
export class ModelCheckpoint implements Callback {
  readonly monitor: string;
  readonly mode: 'min' | 'max';
  best: number;
  bestEpoch = -1;
  saves = 0;
  private warned = false;

  constructor(
    readonly dir: string,
    private readonly options: ModelCheckpointOptions,
  ) {
    this.monitor = options.monitor ?? 'val_loss';
    this.mode = resolveMode(this.monitor, options.mode);
    this.best = this.mode === 'min' ? Infinity : -Infinity;
  }

  async onEpochEnd(epoch: number, logs: Logs, state: TrainingState): Promise<void> {
    const value = logs[this.monitor];
    if (this.options.saveBestOnly !== false) {
      if (value === undefined || !Number.isFinite(value)) {
        if (!this.warned)
          console.error(`convkit: ModelCheckpoint monitors "${this.monitor}", which is not in the logs (${Object.keys(logs).join(', ')}); not saving`);
        this.warned = true;
        return;
      }
      if (!better(this.mode, value, this.best, 0)) return;
      this.best = value;
    }
    this.bestEpoch = epoch;
    const meta = this.options.meta(state);
    const metrics = { ...(meta.metrics ?? {}), checkpoint: { epoch: epoch + 1, monitor: this.monitor, value: value ?? null, logs } };
    await saveModel(state.model, this.dir, { ...meta, history: state.history, metrics });
    this.saves++;
    this.options.onSave?.(epoch, value);
  }
}

export interface EarlyStoppingOptions {
  monitor?: string;
  minDelta?: number;
  /** Epochs without improvement before stopping (default 0, as Keras). */
  patience?: number;
  mode?: MonitorMode;
  /** Stop only once the metric beats this value. */
  baseline?: number;
  /** Put back the best epoch's weights when stopping (default false, as Keras). */
  restoreBestWeights?: boolean;
}

/** Keras's EarlyStopping. */
export class EarlyStopping implements Callback {
  readonly monitor: string;
  readonly mode: 'min' | 'max';
  readonly patience: number;
  readonly minDelta: number;
  best: number;
  bestEpoch = -1;
  wait = 0;
  /** Epoch (from 0) at which training was stopped, or -1. */
  stoppedEpoch = -1;
  private bestWeights?: tf.Tensor[];

  constructor(private readonly options: EarlyStoppingOptions = {}) {
    this.monitor = options.monitor ?? 'val_loss';
    this.mode = resolveMode(this.monitor, options.mode);
    this.patience = options.patience ?? 0;
    this.minDelta = Math.abs(options.minDelta ?? 0);
    check(Number.isInteger(this.patience) && this.patience >= 0, 'patience', this.patience, 'an integer ≥ 0');
    this.best = options.baseline ?? (this.mode === 'min' ? Infinity : -Infinity);
  }

  onTrainBegin(): void {
    this.wait = 0;
    this.stoppedEpoch = -1;
    this.bestEpoch = -1;
    this.best = this.options.baseline ?? (this.mode === 'min' ? Infinity : -Infinity);
  }

  onEpochEnd(epoch: number, logs: Logs, state: TrainingState): void {
    const value = logs[this.monitor];
    if (value === undefined) return;
    if (better(this.mode, value, this.best, this.minDelta)) {
      this.best = value;
      this.bestEpoch = epoch;
      this.wait = 0;
      if (this.options.restoreBestWeights) {
        this.bestWeights?.forEach((t) => t.dispose());
        this.bestWeights = state.model.getWeights().map((w) => w.clone());
      }
      return;
    }
    this.wait++;
    // Keras: stop once `patience` epochs in a row brought no improvement (never after the first epoch).
    if (this.wait >= Math.max(1, this.patience) && epoch > 0) {
      this.stoppedEpoch = epoch;
      state.stopTraining = true;
    }
  }

  onTrainEnd(_logs: Logs, state: TrainingState): void {
    if (this.bestWeights) {
      if (this.stoppedEpoch >= 0) state.model.setWeights(this.bestWeights);
      this.bestWeights.forEach((t) => t.dispose());
      this.bestWeights = undefined;
    }
  }
}

/**
 * Keeps the weights of the epoch with the best `monitor` in memory and puts
 * them back when training ends: ModelCheckpoint(save_best_only) without
 * the files, for recipes that save their model themselves.
 */
export class KeepBestWeights implements Callback {
  readonly monitor: string;
  readonly mode: 'min' | 'max';
  best = NaN;
  bestEpoch = -1;
  private weights?: tf.Tensor[];

  constructor(options: { monitor?: string; mode?: MonitorMode } = {}) {
    this.monitor = options.monitor ?? 'val_loss';
    this.mode = resolveMode(this.monitor, options.mode);
  }

  onTrainBegin(): void {
    this.best = this.mode === 'min' ? Infinity : -Infinity;
    this.bestEpoch = -1;
  }

  onEpochEnd(epoch: number, logs: Logs, state: TrainingState): void {
    const value = logs[this.monitor];
    if (value === undefined || !better(this.mode, value, this.best, 0)) return;
    this.best = value;
    this.bestEpoch = epoch;
    this.weights?.forEach((t) => t.dispose());
    this.weights = state.model.getWeights().map((w) => w.clone());
  }

  onTrainEnd(_logs: Logs, state: TrainingState): void {
    if (!this.weights) return;
    state.model.setWeights(this.weights);
    this.weights.forEach((t) => t.dispose());
    this.weights = undefined;
  }
}

export interface ReduceLROnPlateauOptions {
  monitor?: string;
  /** Multiplier applied on a plateau (default 0.1). */
  factor?: number;
  /** Epochs without improvement before reducing (default 10). */
  patience?: number;
  mode?: MonitorMode;
  minDelta?: number;
  /** Epochs to wait after a reduction (default 0). */
  cooldown?: number;
  minLr?: number;
  log?: (line: string) => void;
}

/** Keras's ReduceLROnPlateau. */
export class ReduceLROnPlateau implements Callback {
  readonly monitor: string;
  readonly mode: 'min' | 'max';
  best: number;
  wait = 0;
  cooldownCounter = 0;
  reductions = 0;

  constructor(private readonly options: ReduceLROnPlateauOptions = {}) {
    this.monitor = options.monitor ?? 'val_loss';
    this.mode = resolveMode(this.monitor, options.mode);
    const factor = options.factor ?? 0.1;
    check(factor > 0 && factor < 1, 'factor', factor, 'a number in (0, 1)');
    this.best = this.mode === 'min' ? Infinity : -Infinity;
  }

  onEpochEnd(epoch: number, logs: Logs, state: TrainingState): void {
    const value = logs[this.monitor];
    if (value === undefined) return;
    const { factor = 0.1, patience = 10, minDelta = 1e-4, cooldown = 0, minLr = 0 } = this.options;
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.wait = 0;
    }
    if (better(this.mode, value, this.best, minDelta)) {
      this.best = value;
      this.wait = 0;
      return;
    }
    if (this.cooldownCounter > 0) return;
    this.wait++;
    if (this.wait >= patience) {
      const old = state.learningRate;
      const lr = Math.max(old * factor, minLr);
      if (lr < old) {
        state.learningRate = lr;
        this.reductions++;
        this.options.log?.(`Epoch ${epoch + 1}: ReduceLROnPlateau reducing learning rate to ${lr.toExponential(2)}`);
      }
      this.cooldownCounter = cooldown;
      this.wait = 0;
    }
  }
}

/** EarlyStopping and ReduceLROnPlateau on `monitor`, as far as the settings ask for them. */
export function plateauCallbacks(
  s: { earlyStoppingPatience?: number; reduceLrPatience?: number },
  monitor: string,
  log: (line: string) => void,
): { early?: EarlyStopping; callbacks: Callback[] } {
  const early = s.earlyStoppingPatience === undefined ? undefined : new EarlyStopping({ monitor, patience: s.earlyStoppingPatience });
  const reduce = s.reduceLrPatience === undefined ? undefined : new ReduceLROnPlateau({ monitor, patience: s.reduceLrPatience, log });
  return { early, callbacks: [early, reduce].filter((c): c is EarlyStopping | ReduceLROnPlateau => c !== undefined) };
}
