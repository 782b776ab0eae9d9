/**
 * Training histories as plots and reports read them: one number per epoch
 * for each metric, validation metrics prefixed `val_` (Keras's naming).
 */
import { ConvkitError } from '../util/errors.js';

/** Metric name → one value per epoch, e.g. `{loss: [...], acc: [...], val_loss: [...], val_acc: [...]}`. */
export type HistoryLike = Record<string, number[]>;

/** A HistoryLike, or a Keras/TF.js History object (`{epoch, history}`). */
export type HistoryInput = HistoryLike | { epoch?: number[]; history: HistoryLike };

/** One metric with its training and (optional) validation curves. */
export interface MetricSeries {
  /** Name without the `val_` prefix, e.g. `acc` or `loss`. */
  metric: string;
  train?: (number | null)[];
  val?: (number | null)[];
}

export interface NormalizedHistory {
  /** Epoch numbers counted from 1, as the book's figures label them. */
  epochs: number[];
  /** Every metric in the history, in first-seen order. */
  metrics: MetricSeries[];
  /** The accuracy metric's name (`acc`, `accuracy`, `binaryAccuracy`…), if any. */
  accuracyKey?: string;
}

function isWrapped(h: HistoryInput): h is { epoch?: number[]; history: HistoryLike } {
  return (
    typeof h === 'object' &&
    h !== null &&
    'history' in h &&
    typeof (h as { history: unknown }).history === 'object' &&
    !Array.isArray((h as { history: unknown }).history)
  );
}

/** The plain metric record of either history form. */
export function historyRecord(h: HistoryInput): HistoryLike {
  return isWrapped(h) ? h.history : h;
}

const ACCURACY_NAMES = [
  'acc',
  'accuracy',
  'binaryAccuracy',
  'binary_accuracy',
  'categoricalAccuracy',
  'categorical_accuracy',
  'sparseCategoricalAccuracy',
  'sparse_categorical_accuracy',
];

/** Validates a history and pairs each metric with its `val_` twin. */
export function normalizeHistory(h: HistoryInput, what = 'history'): NormalizedHistory {
  if (typeof h !== 'object' || h === null)
    throw new ConvkitError(`${what} is not an object`, 'pass {loss: [...], acc: [...], val_loss: [...], val_acc: [...]} or a TF.js History');
  const record = historyRecord(h);
  let length = -1;
  const names: string[] = [];
  for (const [key, values] of Object.entries(record)) {
    if (!Array.isArray(values)) throw new ConvkitError(`${what}.${key} is not an array`, 'each metric must hold one number per epoch');
    if (length >= 0 && values.length !== length) {
      throw new ConvkitError(`${what}.${key} has ${values.length} epochs but other metrics have ${length}`, 'every metric must hold one number per epoch');
    }
    length = values.length;
    names.push(key);
  }
  if (length <= 0) throw new ConvkitError(`${what} holds no epochs`, 'train for at least one epoch before plotting');
  const clean = (values: number[]): (number | null)[] => values.map((v) => (typeof v === 'number' && Number.isFinite(v) ? v : null));
  const metrics: MetricSeries[] = [];
  const seen = new Set<string>();
  for (const key of names) {
    const base = key.startsWith('val_') ? key.slice(4) : key;
    if (seen.has(base)) continue;
    seen.add(base);
    const s: MetricSeries = { metric: base };
    if (record[base]) s.train = clean(record[base]!);
    if (record[`val_${base}`]) s.val = clean(record[`val_${base}`]!);
    metrics.push(s);
  }
  const wrappedEpochs = isWrapped(h) && Array.isArray(h.epoch) && h.epoch.length === length ? h.epoch : undefined;
  // TF.js and Keras count epochs from 0 in History.epoch; the figures count from 1.
  const epochs = wrappedEpochs ? wrappedEpochs.map((e) => e + 1) : Array.from({ length }, (_, i) => i + 1);
  const accuracyKey = ACCURACY_NAMES.find((n) => seen.has(n)) ?? [...seen].find((n) => /acc/i.test(n));
  return { epochs, metrics, accuracyKey };
}

/** The last finite value of a series, or undefined. */
export function lastValue(series: (number | null)[] | undefined): number | undefined {
  if (!series) return undefined;
  for (let i = series.length - 1; i >= 0; i--) if (series[i] !== null) return series[i]!;
  return undefined;
}
