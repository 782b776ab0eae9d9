/**
 * The learning-rate finder's figure, as fastai draws it: loss against the
 * learning rate on a log axis, the smoothed curve as a line (each batch's
 * raw loss as faint dots) and the suggested rate marked.
 */
import type { TopLevelSpec } from 'vega-lite';
import { PLOT_CONFIG, renderFigure, type Figure } from './render.js';
import { SERIES_COLORS } from './plots.js';

/** What the figure needs of a range test (src/train's LrFindResult has it). */
export interface LrCurve {
  lrs: readonly number[];
  losses: readonly number[];
  smoothed: readonly number[];
  suggestion: number;
  method: string;
}

/** `title`: what the curve is of (a recipe, a data set), shown under the figure's title. */
export function lrFinderSpec(curve: LrCurve, options: { title?: string; width?: number; height?: number } = {}): TopLevelSpec {
  const rows = curve.lrs.map((lr, i) => ({ lr, loss: curve.losses[i]!, smoothed: curve.smoothed[i]! })).filter((r) => Number.isFinite(r.smoothed));
  const smoothed = rows.map((r) => r.smoothed);
  // The raw losses swing far past the curve near divergence: the scale follows the smoothed loss.
  const lo = Math.min(...smoothed),
    hi = Math.max(...smoothed);
  const pad = (hi - lo) * 0.05 || Math.abs(lo) * 0.05 || 0.05;
  const near = rows.reduce((best, r) => (Math.abs(Math.log(r.lr / curve.suggestion)) < Math.abs(Math.log(best.lr / curve.suggestion)) ? r : best), rows[0]!);
  const decades = [];
  for (let e = Math.ceil(Math.log10(rows[0]!.lr) - 1e-9); e <= Math.floor(Math.log10(rows[rows.length - 1]!.lr) + 1e-9); e++) decades.push(10 ** e);
  const x = {
    field: 'lr',
    type: 'quantitative',
    title: 'learning rate (log scale)',
    scale: { type: 'log', nice: false },
    axis: { format: '.0e', values: decades },
  };
  const y = { type: 'quantitative', title: 'training loss', scale: { domain: [lo - pad, hi + pad], nice: false } };
  const spec: Record<string, unknown> = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: PLOT_CONFIG,
    width: options.width ?? 420,
    height: options.height ?? 260,
    layer: [
      {
        data: { values: rows },
        mark: { type: 'point', filled: true, size: 10, opacity: 0.35, clip: true, color: '#999' },
        encoding: { x, y: { ...y, field: 'loss' } },
      },
      {
        data: { values: rows },
        mark: { type: 'line', strokeWidth: 2, clip: true, color: SERIES_COLORS.training },
        encoding: {
          x,
          y: { ...y, field: 'smoothed' },
          tooltip: [
            { field: 'lr', format: '.2e' },
            { field: 'smoothed', format: '.4f' },
          ],
        },
      },
      {
        data: { values: [{ lr: curve.suggestion, smoothed: near.smoothed, label: `${curve.method}: ${curve.suggestion.toExponential(1)}` }] },
        layer: [
          { mark: { type: 'point', filled: true, size: 90, color: '#d62728' }, encoding: { x, y: { ...y, field: 'smoothed' } } },
          {
            mark: { type: 'text', align: 'left', dx: 8, dy: -10, fontSize: 12, color: '#d62728' },
            encoding: { x, y: { ...y, field: 'smoothed' }, text: { field: 'label' } },
          },
        ],
      },
    ],
  };
  // The headless renderer overestimates the width of long bold titles: the details go in a smaller subtitle.
  spec.title = {
    text: 'Learning-rate finder',
    anchor: 'start',
    ...(options.title && { subtitle: options.title, subtitleFontSize: 11, subtitleColor: '#555' }),
  };
  return spec as unknown as TopLevelSpec;
}

/** The figure as SVG and PNG. */
export async function lrFinderChart(curve: LrCurve, options: { title?: string; scale?: number } = {}): Promise<Figure> {
  return renderFigure(lrFinderSpec(curve, options), options.scale);
}
