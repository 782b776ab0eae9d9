/**
 * The figures of a study: learning curves (the book's "training and
 * validation accuracy" and "training and validation loss"), confusion
 * matrices and a per-step accuracy summary, as Vega-Lite specs rendered to
 * SVG and PNG.
 */
import type { TopLevelSpec } from 'vega-lite';
import { extname } from 'node:path';
import { ConvkitError } from '../util/errors.js';
import { listNames } from '../util/list-names.js';
import { writeFileAtomic } from '../util/atomic.js';
import { normalizeHistory, type HistoryInput, type MetricSeries } from './history.js';
import { PLOT_CONFIG, renderFigure, svgToPng, type Figure } from './render.js';

export const SERIES_COLORS = { training: '#1f77b4', validation: '#ff7f0e' } as const;

export interface LearningCurvesOptions {
  /** Figure title (e.g. the step's name). */
  title?: string;
  /**
   * Metrics to plot, one panel each, without the `val_` prefix. Default:
   * the accuracy metric then `loss`, whichever the history has.
   */
  metrics?: string[];
  /** Size of one panel in px. */
  width?: number;
  height?: number;
  /** PNG pixels per SVG pixel. */
  scale?: number;
}

const PRETTY: Record<string, string> = {
  acc: 'accuracy',
  binaryAccuracy: 'accuracy',
  categoricalAccuracy: 'accuracy',
  sparseCategoricalAccuracy: 'accuracy',
  loss: 'loss',
};

function metricLabel(metric: string): string {
  // Own keys only: a metric named "constructor" is not Object's.
  return (Object.hasOwn(PRETTY, metric) ? PRETTY[metric] : undefined) ?? metric.replace(/_/g, ' ');
}

/** The Vega-Lite spec of `learningCurves` (for embedding or further styling). */
export function learningCurvesSpec(history: HistoryInput, options: LearningCurvesOptions = {}): TopLevelSpec {
  const h = normalizeHistory(history);
  const byName = new Map(h.metrics.map((m) => [m.metric, m]));
  const wanted = options.metrics ?? [h.accuracyKey, 'loss'].filter((m): m is string => !!m && byName.has(m));
  if (wanted.length === 0)
    throw new ConvkitError(
      `history has no accuracy or loss metric (it has ${[...byName.keys()].join(', ')})`,
      'pass options.metrics naming the metrics to plot',
    );
  const panels = wanted.map((name) => {
    const series = byName.get(name);
    if (!series) throw new ConvkitError(`history has no metric "${name}"`, `use one of ${[...byName.keys()].join(', ')}`);
    return curvePanel(series, h.epochs, options);
  });
  const spec: Record<string, unknown> = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: { ...PLOT_CONFIG, legend: { ...PLOT_CONFIG.legend, orient: 'bottom', title: null } },
    hconcat: panels,
    spacing: 36,
    resolve: { scale: { color: 'shared' } },
  };
  if (options.title) spec.title = { text: options.title, anchor: 'start' };
  return spec as unknown as TopLevelSpec;
}

function curvePanel(series: MetricSeries, epochs: number[], options: LearningCurvesOptions): Record<string, unknown> {
  const label = metricLabel(series.metric);
  const rows: { epoch: number; value: number; set: string }[] = [];
  const push = (values: (number | null)[] | undefined, set: string): void => {
    values?.forEach((v, i) => {
      if (v !== null) rows.push({ epoch: epochs[i]!, value: v, set });
    });
  };
  push(series.train, 'training');
  push(series.val, 'validation');
  const sets = [series.train && 'training', series.val && 'validation'].filter(Boolean) as string[];
  const x = {
    field: 'epoch',
    type: 'quantitative',
    title: 'epoch',
    axis: { tickMinStep: 1, format: 'd' },
    scale: { domain: [Math.min(...epochs), Math.max(...epochs)], nice: false, padding: 8 },
  };
  // Padding keeps the dots inside the frame and flush labels stay inside too, so both panel titles line up.
  const y = { field: 'value', type: 'quantitative', title: label, scale: { zero: false, padding: 8 }, axis: { labelFlush: true } };
  const color = { field: 'set', type: 'nominal', scale: { domain: sets, range: sets.map((s) => SERIES_COLORS[s as keyof typeof SERIES_COLORS]) } };
  const tooltip = [{ field: 'set' }, { field: 'epoch' }, { field: 'value', format: '.4f' }];
  const kind = sets.length === 2 ? 'Training and validation' : sets[0] === 'training' ? 'Training' : 'Validation';
  return {
    title: `${kind} ${label}`,
    width: options.width ?? 340,
    height: options.height ?? 220,
    data: { values: rows },
    // The book draws training as dots and validation as a line.
    layer: [
      { transform: [{ filter: "datum.set === 'training'" }], mark: { type: 'point', filled: true, size: 36, opacity: 1 }, encoding: { x, y, color, tooltip } },
      { transform: [{ filter: "datum.set === 'validation'" }], mark: { type: 'line', strokeWidth: 2, point: false }, encoding: { x, y, color, tooltip } },
    ],
  };
}

/** Training vs validation accuracy and loss per epoch, side by side. */
export async function learningCurves(history: HistoryInput, options: LearningCurvesOptions = {}): Promise<Figure> {
  return renderFigure(learningCurvesSpec(history, options), options.scale);
}

export interface ConfusionMatrixOptions {
  title?: string;
  /** Side of one cell in px (default: 64, smaller for many classes). */
  cellSize?: number;
  scale?: number;
}

/** Checks that `matrix` is square, matches `classNames`, and holds counts. */
export function validateConfusion(matrix: number[][], classNames: string[], what = 'confusion matrix'): void {
  const n = classNames.length;
  if (!Array.isArray(matrix) || matrix.length !== n || matrix.some((row) => !Array.isArray(row) || row.length !== n)) {
    throw new ConvkitError(
      `${what} must be ${n}×${n} for classes ${listNames(classNames.map((c) => JSON.stringify(c)))}`,
      'pass matrix[true][predicted] with one row and one column per class',
    );
  }
  if (matrix.some((row) => row.some((v) => typeof v !== 'number' || !Number.isFinite(v) || v < 0))) {
    throw new ConvkitError(`${what} holds a negative or non-finite count`, 'pass counts of images (matrix[true][predicted])');
  }
}

/** The Vega-Lite spec of `confusionMatrixChart`. */
export function confusionMatrixSpec(matrix: number[][], classNames: string[], options: ConfusionMatrixOptions = {}): TopLevelSpec {
  validateConfusion(matrix, classNames);
  const n = classNames.length;
  const rows: { actual: string; predicted: string; t: number; p: number; count: number; share: number }[] = [];
  matrix.forEach((row, t) => {
    const total = row.reduce((a, b) => a + b, 0);
    row.forEach((count, p) => rows.push({ actual: classNames[t]!, predicted: classNames[p]!, t, p, count, share: total > 0 ? count / total : 0 }));
  });
  const cell = options.cellSize ?? (n <= 3 ? 96 : n <= 4 ? 72 : n <= 10 ? 44 : Math.max(8, Math.floor(520 / n)));
  // Sorted by class index, not by a list of names: Vega turns a name list into
  // expressions, where "constructor" or "toString" breaks the chart.
  const x = {
    field: 'predicted',
    type: 'ordinal',
    sort: { field: 'p', op: 'min' },
    title: 'predicted class',
    axis: { labelAngle: n > 4 ? -45 : 0, orient: 'bottom' },
  };
  const y = { field: 'actual', type: 'ordinal', sort: { field: 't', op: 'min' }, title: 'true class' };
  const layers: Record<string, unknown>[] = [
    {
      mark: { type: 'rect', stroke: 'white', strokeWidth: 1 },
      encoding: {
        x,
        y,
        // Colour by the share of the true class, so rare classes read as clearly as common ones.
        color: {
          field: 'share',
          type: 'quantitative',
          scale: { scheme: 'blues', domain: [0, 1] },
          title: 'share of true class',
          legend: { format: '.0%', titleLimit: 300, gradientLength: Math.max(80, n * cell - 20) },
        },
        tooltip: [{ field: 'actual', title: 'true' }, { field: 'predicted' }, { field: 'count' }, { field: 'share', format: '.1%' }],
      },
    },
  ];
  if (cell >= 24) {
    // Up to 10 classes each cell shows its count; beyond, the row share in per cent (counts are in the tooltip),
    // and empty cells stay blank so the few confusions stand out.
    const asShare = n > 10;
    layers.push({
      ...(asShare && { transform: [{ filter: 'datum.count > 0' }] }),
      mark: { type: 'text', fontSize: cell >= 60 ? 15 : asShare ? 9 : 11, fontWeight: 'bold' },
      encoding: {
        x,
        y,
        text: asShare ? { field: 'share', type: 'quantitative', format: '.0%' } : { field: 'count', type: 'quantitative' },
        color: { condition: { test: 'datum.share > 0.5', value: 'white' }, value: '#222' },
      },
    });
  }
  const spec: Record<string, unknown> = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: PLOT_CONFIG,
    title: options.title ?? 'Confusion matrix',
    width: n * cell,
    height: n * cell,
    data: { values: rows },
    layer: layers,
  };
  return spec as unknown as TopLevelSpec;
}

/**
 * Heat map of matrix[true][predicted], coloured by the share of the true
 * class (row-normalized), with the count in every cell up to 10 classes and
 * the share beyond. Legible up to about 20 classes; a report shows the most
 * confused pairs instead beyond that (see confusions.ts).
 */
export async function confusionMatrixChart(matrix: number[][], classNames: string[], options: ConfusionMatrixOptions = {}): Promise<Figure> {
  return renderFigure(confusionMatrixSpec(matrix, classNames, options), options.scale);
}

export interface AccuracySummaryStep {
  name: string;
  testAccuracy?: number;
  valAccuracy?: number;
  bookAccuracy?: [number, number];
}

/** The Vega-Lite spec of `accuracySummaryChart`. */
export function accuracySummarySpec(steps: AccuracySummaryStep[], options: { title?: string } = {}): TopLevelSpec {
  if (steps.length === 0) throw new ConvkitError('no steps to summarize', 'pass at least one step');
  const order = steps.map((s) => s.name);
  const points: { step: string; measure: string; value: number }[] = [];
  const ranges: { step: string; lo: number; hi: number; from: number; to: number }[] = [];
  const ok = (v: number | undefined): v is number => typeof v === 'number' && Number.isFinite(v);
  for (const s of steps) {
    if (ok(s.valAccuracy)) points.push({ step: s.name, measure: 'validation', value: s.valAccuracy });
    if (ok(s.testAccuracy)) points.push({ step: s.name, measure: 'test', value: s.testAccuracy });
    if (s.bookAccuracy && ok(s.bookAccuracy[0]) && ok(s.bookAccuracy[1])) {
      // A single number from the book still gets a visible band.
      const [a, b] = s.bookAccuracy[0] <= s.bookAccuracy[1] ? s.bookAccuracy : [s.bookAccuracy[1], s.bookAccuracy[0]];
      const pad = Math.max(0, 0.004 - (b - a) / 2);
      ranges.push({ step: s.name, lo: a - pad, hi: b + pad, from: a, to: b });
    }
  }
  const all = [...points.map((p) => p.value), ...ranges.flatMap((r) => [r.lo, r.hi])];
  const lo = Math.max(0, Math.floor((Math.min(...all, 1) - 0.05) * 10) / 10);
  const x = { type: 'quantitative', scale: { domain: [lo, 1] }, axis: { format: '.0%', title: 'accuracy', tickCount: 10 } };
  const y = { field: 'step', type: 'nominal', sort: order, title: null, axis: { labelLimit: 260, labelFontSize: 12 } };
  const layers: Record<string, unknown>[] = [];
  if (ranges.length) {
    layers.push({
      data: { values: ranges },
      mark: { type: 'bar', color: '#bbb', opacity: 0.55, height: 14, cornerRadius: 2 },
      encoding: {
        y,
        x: { ...x, field: 'lo' },
        x2: { field: 'hi' },
        tooltip: [{ field: 'step' }, { field: 'from', title: 'book from', format: '.1%' }, { field: 'to', title: 'book to', format: '.1%' }],
      },
    });
  }
  layers.push({
    data: { values: points },
    mark: { type: 'point', filled: true, size: 80, opacity: 1 },
    encoding: {
      y,
      x: { ...x, field: 'value' },
      color: { field: 'measure', type: 'nominal', scale: { domain: ['validation', 'test'], range: [SERIES_COLORS.validation, '#2ca02c'] }, title: null },
      shape: { field: 'measure', type: 'nominal', scale: { domain: ['validation', 'test'], range: ['circle', 'diamond'] }, title: null },
      tooltip: [{ field: 'step' }, { field: 'measure' }, { field: 'value', format: '.2%' }],
    },
  });
  const spec: Record<string, unknown> = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: { ...PLOT_CONFIG, legend: { ...PLOT_CONFIG.legend, orient: 'bottom' } },
    title: options.title ?? 'Accuracy per step (grey: the book\u2019s range)',
    width: 600,
    height: { step: 32 },
    layer: layers,
  };
  return spec as unknown as TopLevelSpec;
}

/** Validation and test accuracy of every step beside the book's range. */
export async function accuracySummaryChart(steps: AccuracySummaryStep[], options: { title?: string; scale?: number } = {}): Promise<Figure> {
  return renderFigure(accuracySummarySpec(steps, options), options.scale);
}

/**
 * Writes `<base>.svg` and `<base>.png` atomically, where `<base>` is `path`
 * without a `.svg`/`.png` extension. Accepts an SVG string or a Figure
 * (whose PNG is reused).
 */
export async function writeFigure(path: string, figure: string | Figure, options: { scale?: number } = {}): Promise<{ svgPath: string; pngPath: string }> {
  const ext = extname(path).toLowerCase();
  const base = ext === '.svg' || ext === '.png' ? path.slice(0, -ext.length) : path;
  const svg = typeof figure === 'string' ? figure : figure.svg;
  if (!/<svg\b/.test(svg)) throw new ConvkitError(`writeFigure(${JSON.stringify(path)}): not an SVG document`, 'pass the svg text of a figure');
  const png = typeof figure === 'string' || options.scale !== undefined ? await svgToPng(svg, options.scale) : figure.png;
  const svgPath = `${base}.svg`,
    pngPath = `${base}.png`;
  await Promise.all([writeFileAtomic(svgPath, svg), writeFileAtomic(pngPath, png)]);
  return { svgPath, pngPath };
}
