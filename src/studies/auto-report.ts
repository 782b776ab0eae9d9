/**
 * The auto study's report (src/report): every candidate side by side —
 * validation and test accuracy, wall time against its estimate, learning
 * curves, confusion matrices — the skipped ones with their reason, the
 * class balance and what was done about it, how the data was split, and
 * the try-it page of the chosen model.
 */
import { basename } from 'node:path';
import type { BackendInfo } from '../backend/index.js';
import type { DataCheckResult } from '../data/check.js';
import { writeReport, type ReportTable, type StepReport, type WrittenReport } from '../report/html.js';
import { machineInfo } from '../report/machine.js';
import { writeTryPage } from '../report/try.js';
import { formatDuration } from '../util/progress.js';
import type { AutoData } from './auto-data.js';
import type { AutoCandidateOutcome } from './auto-outcome.js';
import { settingsLines, stepReportOf } from './step-report.js';
import type { ClassBalanceReport } from './auto-balance.js';

export interface AutoReportInput {
  out: string;
  /** The data folder as given. */
  data: string;
  layout: AutoData;
  checked: DataCheckResult;
  balance: ClassBalanceReport;
  outcomes: AutoCandidateOutcome[];
  best?: string;
  budgetSeconds: number;
  seed: number;
  backend?: BackendInfo;
  wallSeconds: number;
}

/** Rows of the class-balance table before it says how many more classes there are. */
const BALANCE_ROWS = 30;

const pct = (v: number | undefined) => (typeof v === 'number' ? `${(v * 100).toFixed(1)} %` : '—');

function stepOf(o: AutoCandidateOutcome, best: string | undefined): StepReport {
  const r = o.record;
  const chosen = o.name === best ? 'Chosen (best validation accuracy). ' : '';
  if (!r) return { name: o.name, description: `${o.status === 'failed' ? 'Failed' : 'Skipped'}: ${o.reason ?? 'not run'}.` };
  const extra: Record<string, string | number> = { recipe: o.recipe };
  if (o.base) extra.base = o.base;
  Object.assign(extra, settingsLines(r.settings, ['inputSize', 'batchSize', 'learningRate', 'optimizer', 'variants']));
  if (r.valBalancedAccuracy !== undefined) extra['validation balanced accuracy'] = pct(r.valBalancedAccuracy);
  if (r.testBalancedAccuracy !== undefined) extra['test balanced accuracy'] = pct(r.testBalancedAccuracy);
  if (r.testTopK) extra[`test top-${r.testTopK.k} accuracy`] = pct(r.testTopK.accuracy);
  if (typeof r.valLoss === 'number') extra['validation loss'] = r.valLoss.toFixed(4);
  if (o.estimateSeconds !== undefined) extra['estimated time'] = formatDuration(o.estimateSeconds);
  if (o.status === 'reused') extra.run = `reused from an earlier run (finished ${r.finishedAt})`;
  return stepReportOf(o.name, `${chosen}${o.description}`, r, extra);
}

function candidatesTable(input: AutoReportInput): ReportTable {
  return {
    heading: 'Candidates and the budget',
    caption: `In the order they ran (cheapest first); budget ${formatDuration(input.budgetSeconds)}. The estimate is what the budget check used; a reused candidate cost this run nothing.`,
    columns: ['candidate', 'status', 'estimated', 'took', 'validation', 'test'],
    rows: input.outcomes.map((o) => [
      o.name === input.best ? `${o.name} (chosen)` : o.name,
      o.status === 'skipped' || o.status === 'failed' ? `${o.status}: ${o.reason}` : o.status,
      o.estimateSeconds !== undefined ? formatDuration(o.estimateSeconds) : '—',
      o.record ? formatDuration(o.record.wallSeconds) : '—',
      pct(o.record?.valAccuracy),
      pct(o.record?.testAccuracy),
    ]),
  };
}

function balanceTable(input: AutoReportInput): ReportTable {
  const splits = Object.keys(input.balance.counts);
  const classes = input.checked.classNames;
  const rows: (string | number)[][] = classes.slice(0, BALANCE_ROWS).map((c) => [c, ...splits.map((s) => input.balance.counts[s]?.[c] ?? 0)]);
  if (classes.length > BALANCE_ROWS) rows.push([`… and ${classes.length - BALANCE_ROWS} more classes (results.json has them)`, ...splits.map(() => '')]);
  const ratios = splits.map((s) => `${s} ${Number.isFinite(input.balance.ratio[s]) ? `${input.balance.ratio[s]!.toFixed(2)}×` : '∞'}`).join(', ');
  return { heading: 'Class balance', caption: `Images per class and split; largest over smallest class: ${ratios}.`, columns: ['class', ...splits], rows };
}

function balanceNote(b: ClassBalanceReport): string {
  const weights = `Class weights (chooseClassWeights on the training counts, as training's default classWeight 'auto' decides): ${b.classWeights.reason}.`;
  if (!b.warnings.length) return `The classes are balanced (no split's largest class has 1.5× the images of its smallest). ${weights}`;
  return `${b.warnings.join(' ')} ${weights}`;
}

export async function writeAutoReport(input: AutoReportInput): Promise<WrittenReport> {
  const { outcomes, best } = input;
  const name = basename(input.data);
  const notes: string[] = [input.layout.description, balanceNote(input.balance)];
  const chosen = outcomes.find((o) => o.name === best);
  if (chosen?.record)
    notes.push(
      `Chosen: ${chosen.name}, the highest validation accuracy (${pct(chosen.record.valAccuracy)}; ties go to the lower validation loss), measured on the whole validation split for every candidate. The test split only scores the candidates: choosing by it would make its score an optimistic one. The model is in model/ (TF.js format); try.html runs it in the browser.`,
    );
  notes.push(
    'The candidates run cheapest first, each only when its estimated time fits what is left of the budget. Estimates count passes of the pretrained base over the images (features: one per training image; features-augment and finetune: one per augmented variant of each; validation and test twice; finetune adds its training) at a reference speed, and time forward batches of a network trained from scratch; after the first candidate of each kind finishes, its measured time rescales the rest.',
  );
  const skipped = outcomes.filter((o) => o.status === 'skipped');
  if (skipped.length)
    notes.push(`Skipped: ${skipped.map((o) => `${o.name} (${o.reason})`).join('; ')}. A larger --budget runs them; finished candidates are reused.`);
  const failed = outcomes.filter((o) => o.status === 'failed');
  if (failed.length) notes.push(`Failed: ${failed.map((o) => `${o.name} (${o.reason})`).join('; ')}. The other candidates ran on.`);
  const reused = outcomes.filter((o) => o.status === 'reused').map((o) => o.name);
  if (reused.length) notes.push(`Reused from an earlier run: ${reused.join(', ')} (pass --force to redo).`);
  if (input.checked.skipped.length)
    notes.push(`Left out ${input.checked.skipped.length} bad file(s) (--skip-bad): ${input.checked.skipped.map((s) => `${s.path} (${s.reason})`).join('; ')}.`);
  notes.push(`This run took ${formatDuration(input.wallSeconds)} of its ${formatDuration(input.budgetSeconds)} budget. Seed ${input.seed}.`);

  // The try-it page first, so the report links it.
  if (best) await writeTryPage(input.out, { modelDir: 'model', title: `${name}: try the ${best} model` });
  return writeReport(input.out, {
    title: `Auto study: ${name}`,
    dataset: { name, path: input.data, classNames: input.checked.classNames, counts: input.checked.counts },
    machine: machineInfo(input.backend),
    steps: outcomes.map((o) => stepOf(o, best)),
    tables: [candidatesTable(input), balanceTable(input)],
    notes,
  });
}
