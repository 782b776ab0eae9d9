/**
 * A study's HTML report: one self-contained index.html (inline SVG charts,
 * images as data: URIs, no network) that opens from disk, plus results.json
 * with the same numbers and every figure as .svg and .png under figures/.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConvkitError } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { formatDuration } from '../util/progress.js';
import { listNames } from '../util/list-names.js';
import { packageRoot } from '../util/paths.js';
import { historyRecord, normalizeHistory, type HistoryInput, type HistoryLike } from './history.js';
import { sharpFromSource, type ImageSource } from './grid.js';
import type { MachineInfo } from './machine.js';
import { accuracySummaryChart, confusionMatrixChart, learningCurves, validateConfusion, writeFigure } from './plots.js';
import { confusionTablesHtml, MAX_CONFUSION_CHART_CLASSES } from './confusions.js';
import { uniquifySvgIds, type Figure } from './render.js';
import { REPORT_CSS } from './style.js';
import { escapeHtml } from '../util/html.js';

/** An image for the report: a path, an encoded buffer, or raw HWC pixels with their size, with an optional caption. */
export type ReportImage = ImageSource | { image: ImageSource; caption?: string; width?: number; height?: number; channels?: 1 | 3 | 4 };

export interface StepReport {
  name: string;
  description?: string;
  testAccuracy?: number;
  valAccuracy?: number;
  /** The book's accuracy for this step, [low, high] (same number twice for a single value). */
  bookAccuracy?: [number, number];
  epochs?: number;
  wallSeconds?: number;
  /** Training throughput. */
  imagesPerSecond?: number;
  params?: { trainable: number; total: number };
  history?: HistoryInput;
  /** matrix[true][predicted] on the test set. */
  confusion?: number[][];
  classNames?: string[];
  /** Most confidently wrong test images (caption e.g. "true cat · pred dog 0.98"), or one pre-composed grid. */
  wrongImages?: ImageSource | ReportImage[];
  /** Augmented variants of one training image, or one pre-composed grid. */
  augmentedSamples?: ImageSource | ReportImage[];
  /** Optional class-activation heat maps. */
  gradCam?: ReportImage[];
  /** Extra facts shown under the step (e.g. {"base model": "MobileNet v1 0.75"}). */
  extra?: Record<string, string | number>;
}

export interface DatasetInfo {
  name: string;
  path?: string;
  classNames?: string[];
  /** Images per split, e.g. {train: 2000, validation: 1000, test: 1000}. */
  counts?: Record<string, number>;
}

export interface StudyReport {
  title: string;
  dataset: string | DatasetInfo;
  machine?: MachineInfo;
  steps: StepReport[];
  /** Paragraphs of plain text. */
  notes?: string | string[];
  /** Tables shown after the steps, before the notes (plain text cells, escaped here). */
  tables?: ReportTable[];
  /** ISO time of the run (default: now). */
  createdAt?: string;
  /** Extra links in the header, relative to the report folder (a try.html beside index.html is linked automatically). */
  links?: { href: string; label: string }[];
}

export interface ReportTable {
  heading: string;
  /** A line under the heading. */
  caption?: string;
  columns: string[];
  /** Cells in column order; numbers are right-aligned. */
  rows: (string | number)[][];
}

export interface WriteReportOptions {
  /** Also write every chart as figures/*.svg and figures/*.png (default true). */
  figures?: boolean;
  /** Longest side of embedded images in px (default 256; smaller images are shown scaled up, pixelated). */
  thumbnailSize?: number;
}

export interface WrittenReport {
  indexPath: string;
  resultsPath: string;
  figurePaths: string[];
}

const esc = escapeHtml;

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const pct = (v: number | undefined, digits = 1): string => (isNum(v) ? `${(v * 100).toFixed(digits)} %` : '—');
const int = (v: number | undefined): string => (isNum(v) ? Math.round(v).toLocaleString('en-US') : '—');

function bookText(range: [number, number] | undefined): string {
  if (!range) return '—';
  const [a, b] = range;
  return Math.abs(a - b) < 1e-9 ? `${(a * 100).toFixed(0)} %` : `${(a * 100).toFixed(0)}–${(b * 100).toFixed(0)} %`;
}

/** How the step's accuracy (test, else validation) compares with the book's range. */
export function versusBook(
  step: Pick<StepReport, 'testAccuracy' | 'valAccuracy' | 'bookAccuracy'>,
): { verdict: 'below' | 'within' | 'above'; points: number } | undefined {
  const acc = isNum(step.testAccuracy) ? step.testAccuracy : step.valAccuracy;
  if (!isNum(acc) || !step.bookAccuracy) return undefined;
  const lo = Math.min(...step.bookAccuracy),
    hi = Math.max(...step.bookAccuracy);
  // Half a point of slack: the book reports rounded numbers.
  const slack = 0.005;
  if (acc < lo - slack) return { verdict: 'below', points: (acc - lo) * 100 };
  if (acc > hi + slack) return { verdict: 'above', points: (acc - hi) * 100 };
  return { verdict: 'within', points: 0 };
}

function verdictCell(step: StepReport): string {
  const v = versusBook(step);
  if (!v) return '<td class="verdict">—</td>';
  const label = v.verdict === 'within' ? 'in range' : `${v.points > 0 ? '+' : '−'}${Math.abs(v.points).toFixed(1)} pts`;
  return `<td class="verdict"><span class="badge ${v.verdict}">${esc(label)}</span></td>`;
}

function slug(s: string, i: number): string {
  const base = s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
  return `${String(i + 1).padStart(2, '0')}-${base || 'step'}`;
}

interface Thumb {
  uri: string;
  caption?: string;
  width: number;
  height: number;
}

async function toThumb(img: ReportImage, maxSide: number, what: string): Promise<Thumb> {
  const o = typeof img === 'object' && !(img instanceof Uint8Array) ? img : { image: img };
  try {
    const pipeline = sharpFromSource(o.image, o, what);
    const meta = await pipeline.metadata();
    const w = meta.width ?? 1,
      h = meta.height ?? 1;
    const jpeg = meta.format === 'jpeg';
    const resized = Math.max(w, h) > maxSide ? pipeline.resize(maxSide, maxSide, { fit: 'inside' }) : pipeline;
    const { data, info } = await (jpeg ? resized.jpeg({ quality: 85 }) : resized.png()).toBuffer({ resolveWithObject: true });
    return { uri: `data:image/${jpeg ? 'jpeg' : 'png'};base64,${data.toString('base64')}`, caption: o.caption, width: info.width, height: info.height };
  } catch (err) {
    if (err instanceof ConvkitError) throw err;
    throw new ConvkitError(
      `report: cannot read ${what}${typeof o.image === 'string' ? ` (${o.image})` : ''}: ${(err as Error).message}`,
      'pass a readable PNG/JPEG path or buffer, or raw pixels with width and height',
    );
  }
}

function gallery(thumbs: Thumb[], cls: string): string {
  return `<div class="gallery ${cls}">${thumbs.map((t) => `<figure><img src="${t.uri}" width="${t.width}" height="${t.height}" alt="${esc(t.caption ?? '')}">${t.caption ? `<figcaption>${t.caption.split('\n').map(esc).join('<br>')}</figcaption>` : ''}</figure>`).join('')}</div>`;
}

async function images(src: ImageSource | ReportImage[] | undefined, maxSide: number, what: string): Promise<Thumb[]> {
  if (src === undefined) return [];
  const list: ReportImage[] = Array.isArray(src) ? src : [src];
  // A single pre-composed grid is shown at full size.
  const side = Array.isArray(src) ? maxSide : 4096;
  return Promise.all(list.map((img, i) => toThumb(img, side, `${what} ${i}`)));
}

function chart(fig: Figure, id: string, label: string): string {
  return `<div class="chart" role="img" aria-label="${esc(label)}" data-chart="${esc(id)}">${uniquifySvgIds(fig.svg, id)}</div>`;
}

function tableHtml(t: ReportTable): string {
  const cell = (v: string | number) => (typeof v === 'number' ? `<td class="num">${esc(v.toLocaleString('en-US'))}</td>` : `<td>${esc(v)}</td>`);
  const numeric = t.columns.map((_, i) => t.rows.some((r) => typeof r[i] === 'number') && t.rows.every((r) => typeof r[i] === 'number' || r[i] === ''));
  return `<section class="table"><h2>${esc(t.heading)}</h2>${t.caption ? `<p class="desc">${esc(t.caption)}</p>` : ''}<div class="table-scroll"><table><thead><tr>${t.columns.map((c, i) => `<th${numeric[i] ? ' class="num"' : ''}>${esc(c)}</th>`).join('')}</tr></thead><tbody>${t.rows.map((r) => `<tr>${r.map(cell).join('')}</tr>`).join('')}</tbody></table></div></section>`;
}

function validateStudy(study: StudyReport): void {
  if (!study || typeof study !== 'object') throw new ConvkitError('report: study is not an object', 'pass {title, dataset, steps: [...]}');
  if (!study.title) throw new ConvkitError('report: study has no title', 'set study.title');
  if (!Array.isArray(study.steps)) throw new ConvkitError('report: study.steps is not an array', 'pass one entry per trained step');
  study.steps.forEach((s, i) => {
    if (!s.name) throw new ConvkitError(`report: step ${i} has no name`, 'set steps[i].name');
    for (const k of ['testAccuracy', 'valAccuracy'] as const) {
      const v = s[k];
      if (v !== undefined && (!isNum(v) || v < 0 || v > 1))
        throw new ConvkitError(`report: step "${s.name}" ${k} is ${JSON.stringify(v)}`, 'accuracies are fractions in [0, 1]');
    }
    if (
      s.bookAccuracy !== undefined &&
      (!Array.isArray(s.bookAccuracy) || s.bookAccuracy.length !== 2 || !s.bookAccuracy.every((v) => isNum(v) && v >= 0 && v <= 1))
    ) {
      throw new ConvkitError(`report: step "${s.name}" bookAccuracy is ${JSON.stringify(s.bookAccuracy)}`, 'pass [low, high] as fractions in [0, 1]');
    }
    if (s.confusion) {
      if (!s.classNames) throw new ConvkitError(`report: step "${s.name}" has a confusion matrix but no classNames`, 'set steps[i].classNames');
      validateConfusion(s.confusion, s.classNames, `step "${s.name}" confusion matrix`);
    }
    if (s.history) normalizeHistory(s.history, `step "${s.name}" history`);
  });
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** The numbers of the report as plain JSON (no images). */
export function reportResults(study: StudyReport): Record<string, unknown> {
  const createdAt = study.createdAt ?? new Date().toISOString();
  const imageRefs = (src: ImageSource | ReportImage[] | undefined): unknown => {
    if (src === undefined) return undefined;
    const list = Array.isArray(src) ? src : [src];
    return list.map((img) => {
      const o = typeof img === 'object' && !(img instanceof Uint8Array) ? img : { image: img };
      return { path: typeof o.image === 'string' ? o.image : undefined, caption: o.caption };
    });
  };
  return {
    generatedBy: `convkit ${packageVersion()}`,
    createdAt,
    title: study.title,
    dataset: typeof study.dataset === 'string' ? { name: study.dataset } : study.dataset,
    machine: study.machine,
    steps: study.steps.map((s) => {
      const v = versusBook(s);
      return {
        name: s.name,
        description: s.description,
        testAccuracy: s.testAccuracy,
        valAccuracy: s.valAccuracy,
        bookAccuracy: s.bookAccuracy,
        versusBook: v?.verdict,
        epochs: s.epochs,
        wallSeconds: s.wallSeconds,
        imagesPerSecond: s.imagesPerSecond,
        params: s.params,
        history: s.history ? (historyRecord(s.history) as HistoryLike) : undefined,
        confusion: s.confusion,
        classNames: s.classNames,
        wrongImages: imageRefs(s.wrongImages),
        extra: s.extra,
      };
    }),
    notes: study.notes === undefined ? undefined : Array.isArray(study.notes) ? study.notes : [study.notes],
    tables: study.tables,
  };
}

/**
 * Writes `dir/index.html`, `dir/results.json` and (by default) the figures
 * under `dir/figures/`. Other files in `dir` (a try-it page, the model) are
 * left alone; each file is replaced atomically.
 */
export async function writeReport(dir: string, study: StudyReport, options: WriteReportOptions = {}): Promise<WrittenReport> {
  validateStudy(study);
  const thumbSide = options.thumbnailSize ?? 256;
  const writeFigures = options.figures ?? true;
  const figurePaths: string[] = [];
  const results = reportResults(study);
  const createdAt = results.createdAt as string;

  const saveFigure = async (fig: Figure, name: string): Promise<void> => {
    if (!writeFigures) return;
    const { svgPath, pngPath } = await writeFigure(join(dir, 'figures', name), fig);
    figurePaths.push(svgPath, pngPath);
  };

  // Summary chart of every step with an accuracy; the book's columns only when some step has the book's number.
  const hasBook = study.steps.some((s) => s.bookAccuracy);
  let summaryHtml = '';
  const measured = study.steps.filter((s) => isNum(s.testAccuracy) || isNum(s.valAccuracy));
  if (measured.length) {
    const fig = await accuracySummaryChart(measured, hasBook ? {} : { title: 'Validation and test accuracy' });
    await saveFigure(fig, 'accuracy-summary');
    summaryHtml = chart(fig, 'summary', hasBook ? 'accuracy of every step beside the book' : 'accuracy of every step');
  }

  const stepSections: string[] = [];
  for (const [i, s] of study.steps.entries()) {
    const id = `step-${i + 1}`;
    const name = slug(s.name, i);
    const parts: string[] = [];
    const facts: [string, string][] = [];
    if (isNum(s.testAccuracy)) facts.push(['test accuracy', pct(s.testAccuracy)]);
    if (isNum(s.valAccuracy)) facts.push(['validation accuracy', pct(s.valAccuracy)]);
    if (s.bookAccuracy) facts.push(['book', bookText(s.bookAccuracy)]);
    if (isNum(s.epochs)) facts.push(['epochs', String(s.epochs)]);
    if (isNum(s.wallSeconds)) facts.push(['training time', formatDuration(s.wallSeconds)]);
    if (isNum(s.imagesPerSecond)) facts.push(['images/s', s.imagesPerSecond.toFixed(1)]);
    if (s.params) facts.push(['parameters', `${int(s.params.trainable)} trainable of ${int(s.params.total)}`]);
    for (const [k, v] of Object.entries(s.extra ?? {})) facts.push([k, String(v)]);
    if (facts.length) parts.push(`<dl class="facts">${facts.map(([k, v]) => `<div><dt>${esc(k)}</dt><dd>${esc(v)}</dd></div>`).join('')}</dl>`);

    const figs: string[] = [];
    if (s.history) {
      const fig = await learningCurves(s.history);
      await saveFigure(fig, `${name}-learning-curves`);
      figs.push(`<section class="panel wide"><h3>Learning curves</h3>${chart(fig, `${id}-curves`, `learning curves of ${s.name}`)}</section>`);
    }
    if (s.confusion && s.classNames && s.classNames.length > MAX_CONFUSION_CHART_CLASSES) {
      figs.push(`<section class="panel"><h3>Most confused (test set)</h3>${confusionTablesHtml(s.confusion, s.classNames)}</section>`);
    } else if (s.confusion && s.classNames) {
      const total = s.confusion.flat().reduce((a, b) => a + b, 0);
      const fig = await confusionMatrixChart(s.confusion, s.classNames, { title: `${s.name}: test set, ${total} images` });
      await saveFigure(fig, `${name}-confusion`);
      figs.push(`<section class="panel"><h3>Confusion matrix</h3>${chart(fig, `${id}-confusion`, `confusion matrix of ${s.name}`)}</section>`);
    }
    const wrong = await images(s.wrongImages, thumbSide, `step "${s.name}" wrong image`);
    if (wrong.length) figs.push(`<section class="panel"><h3>Most confidently wrong</h3>${gallery(wrong, 'wrong')}</section>`);
    const aug = await images(s.augmentedSamples, thumbSide, `step "${s.name}" augmented sample`);
    if (aug.length) figs.push(`<section class="panel"><h3>Augmented samples</h3>${gallery(aug, 'augmented')}</section>`);
    const cams = await images(s.gradCam, thumbSide, `step "${s.name}" Grad-CAM image`);
    if (cams.length) figs.push(`<section class="panel"><h3>Class activation (Grad-CAM)</h3>${gallery(cams, 'gradcam')}</section>`);
    if (figs.length) parts.push(`<div class="panels">${figs.join('')}</div>`);

    stepSections.push(`<article class="step" id="${id}">
<h2><span class="num">${i + 1}</span>${esc(s.name)}</h2>
${s.description ? `<p class="desc">${esc(s.description)}</p>` : ''}
${parts.join('\n')}
</article>`);
  }

  const rows = study.steps
    .map(
      (s, i) => `<tr>
<td class="name"><a href="#step-${i + 1}">${esc(s.name)}</a>${s.description ? `<div class="sub">${esc(s.description)}</div>` : ''}</td>
<td class="num">${pct(s.valAccuracy)}</td>
<td class="num strong">${pct(s.testAccuracy)}</td>
${hasBook ? `<td class="num">${bookText(s.bookAccuracy)}</td>\n${verdictCell(s)}\n` : ''}<td class="num">${isNum(s.epochs) ? s.epochs : '—'}</td>
<td class="num">${isNum(s.wallSeconds) ? formatDuration(s.wallSeconds) : '—'}</td>
<td class="num">${isNum(s.imagesPerSecond) ? s.imagesPerSecond.toFixed(1) : '—'}</td>
<td class="num">${s.params ? `${int(s.params.trainable)}<div class="sub">of ${int(s.params.total)}</div>` : '—'}</td>
</tr>`,
    )
    .join('\n');

  const ds: DatasetInfo = typeof study.dataset === 'string' ? { name: study.dataset } : study.dataset;
  const dsBits = [
    ds.classNames?.length ? `${ds.classNames.length} classes: ${listNames(ds.classNames, 20)}` : '',
    ds.counts
      ? Object.entries(ds.counts)
          .map(([k, v]) => `${k} ${int(v)}`)
          .join(' · ')
      : '',
    ds.path ? `<code>${esc(ds.path)}</code>` : '',
  ].filter(Boolean);

  const m = study.machine;
  const machineRows: [string, string][] = m
    ? (
        [
          ['backend', m.backend ?? ''],
          ['threads', m.threads !== undefined ? String(m.threads) : ''],
          ['CPU', m.cpu ? `${m.cpu}${m.cores ? ` (${m.cores} cores)` : ''}` : ''],
          ['memory', m.memoryGiB ? `${m.memoryGiB} GiB` : ''],
          ['OS', m.os ?? ''],
          ['Node.js', m.node ?? ''],
          ['TensorFlow.js', m.tfjs ?? ''],
          ...Object.entries(m.details ?? {}),
        ] as [string, string][]
      ).filter(([, v]) => v)
    : [];

  const links = [...(study.links ?? [])];
  if (existsSync(join(dir, 'try.html')) && !links.some((l) => l.href === 'try.html')) links.unshift({ href: 'try.html', label: 'Try the model on your photo' });
  links.push({ href: 'results.json', label: 'results.json' });

  const notes = study.notes === undefined ? [] : Array.isArray(study.notes) ? study.notes : [study.notes];
  const date = createdAt.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC');

  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="${esc(results.generatedBy)}">
<title>${esc(study.title)}</title>
<style>${REPORT_CSS}</style>
</head>
<body>
<header class="top">
<div class="wrap">
<h1>${esc(study.title)}</h1>
<p class="meta"><span>${esc(ds.name)}</span>${dsBits.map((b) => `<span>${b.startsWith('<code>') ? b : esc(b)}</span>`).join('')}</p>
<p class="meta"><span>${esc(date)}</span>${m?.backend ? `<span>backend <b>${esc(m.backend)}</b>${m.threads ? `, ${m.threads} thread${m.threads === 1 ? '' : 's'}` : ''}</span>` : ''}${m?.cpu ? `<span>${esc(m.cpu)}</span>` : ''}</p>
<nav>${links.map((l) => `<a class="button" href="${esc(l.href)}">${esc(l.label)}</a>`).join('')}</nav>
</div>
</header>
<main class="wrap">
<section class="summary">
<h2>Results</h2>
<div class="table-scroll">
<table id="results">
<thead><tr><th>step</th><th class="num">validation</th><th class="num">test</th>${hasBook ? '<th class="num">book</th><th>vs book</th>' : ''}<th class="num">epochs</th><th class="num">time</th><th class="num">images/s</th><th class="num">trainable params</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
</div>
${summaryHtml}
</section>
${stepSections.join('\n')}
${(study.tables ?? []).map(tableHtml).join('\n')}
${notes.length ? `<section class="notes"><h2>Notes</h2>${notes.map((n) => `<p>${esc(n)}</p>`).join('')}</section>` : ''}
${machineRows.length ? `<section class="machine"><h2>Machine</h2><dl class="facts">${machineRows.map(([k, v]) => `<div><dt>${esc(k)}</dt><dd>${esc(v)}</dd></div>`).join('')}</dl></section>` : ''}
</main>
<footer class="wrap">Made by ${esc(results.generatedBy)}. Everything on this page is in this file; it works offline.</footer>
</body>
</html>
`;
  const indexPath = join(dir, 'index.html');
  const resultsPath = join(dir, 'results.json');
  await writeFileAtomic(resultsPath, `${JSON.stringify(results, null, 2)}\n`);
  await writeFileAtomic(indexPath, html);
  return { indexPath, resultsPath, figurePaths };
}
