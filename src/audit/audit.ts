/**
 * runAudit(): `convkit audit --data DIR --out AUDIT_DIR`. Collects the
 * images (bad files become findings, not errors), embeds and hashes them,
 * runs every finder, and writes AUDIT_DIR/results.json and index.html in
 * one atomic step.
 */
import { promises as fs } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeDirAtomic } from '../util/atomic.js';
import { claimOutputDir, lockOutput } from '../util/output-guard.js';
import { classBalance } from './balance.js';
import { collectImages } from './collect.js';
import { findDuplicates } from './duplicates.js';
import { auditFeatures, type AuditFeatureOptions } from './features.js';
import { findLabelIssues } from './label-issues.js';
import { nearestNeighbours } from './neighbours.js';
import { findOutliers } from './outliers.js';
import { writeAuditReport } from './report.js';
import { DEFAULT_THRESHOLDS, type AuditFindings, type AuditResult, type AuditThresholds } from './types.js';

/** Marks a folder as an audit's, so a later audit may replace it (and nothing else). */
export const AUDIT_MARKER = '.convkit-audit';

export interface AuditOptions extends AuditFeatureOptions {
  /** A folder of class sub-folders, or one holding train/ (validation/ or val/, test/). */
  data: string;
  /** Folder to write results.json and index.html to. */
  out: string;
  /** Thumbnails in the page (default true; false for private photo sets). */
  images?: boolean;
  thresholds?: Partial<AuditThresholds>;
  seed?: number;
}

export interface AuditRun {
  result: AuditResult;
  out: string;
  indexPath: string;
  resultsPath: string;
}

const ownsAudit = async (dir: string) =>
  fs.stat(join(dir, AUDIT_MARKER)).then(
    () => true,
    () => false,
  );

/** Every finding on `data`, as results.json holds them. */
export async function auditFolder(options: Omit<AuditOptions, 'out' | 'images'>): Promise<AuditResult> {
  const t = { ...DEFAULT_THRESHOLDS, ...options.thresholds };
  const timings: Record<string, number> = {};
  const timed = async <T>(stage: string, work: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const r = await work();
    timings[stage] = (performance.now() - t0) / 1000;
    return r;
  };
  const collected = await timed('collect', () => collectImages(options.data));
  const features = await timed('features', () => auditFeatures(collected, options));
  const neighbours = await timed('neighbours', () => nearestNeighbours(features.embeddings, features.dim, 10));
  const classes = collected.classNames.length;
  const findings: AuditFindings = {
    unreadable: [...collected.unreadable, ...features.unreadable],
    duplicates: findDuplicates(features, neighbours, t),
    labelIssues: await timed('labels', () =>
      findLabelIssues(features, collected.classNames, {
        folds: t.folds,
        minScore: t.labelScore,
        seed: options.seed,
        silent: options.silent,
        signal: options.signal,
      }),
    ),
    outliers: findOutliers(features, classes, t.outlierZ),
    balance: classBalance(features.images, collected.classNames, collected.splits, t.imbalanceRatio),
  };
  const base = typeof options.base === 'object' ? options.base.name : (options.base ?? 'mobilenet_v1');
  return {
    format: 'convkit-audit',
    version: 1,
    data: collected.root,
    layout: collected.layout,
    splits: collected.splits,
    classNames: collected.classNames,
    images: collected.images.length,
    base,
    thresholds: t,
    timings,
    cacheHit: features.cacheHit,
    ...findings,
  };
}

/** Audits `data` and writes the report folder. */
export async function runAudit(options: AuditOptions): Promise<AuditRun> {
  const out = resolve(options.out);
  await claimOutputDir({ path: out, flag: '--out', what: 'an audit folder', owns: ownsAudit, inputs: [{ path: options.data, flag: '--data' }] });
  const release = await lockOutput(out, '--out');
  try {
    const result = await auditFolder(options);
    await writeDirAtomic(
      out,
      async (tmp) => {
        await fs.writeFile(join(tmp, AUDIT_MARKER), 'convkit audit folder\n');
        await fs.writeFile(join(tmp, 'results.json'), JSON.stringify(result, null, 2) + '\n');
        await writeAuditReport(result, { out: tmp, images: options.images ?? true });
      },
      { owns: ownsAudit, what: 'an audit folder', flag: '--out' },
    );
    return { result, out, indexPath: join(out, 'index.html'), resultsPath: join(out, 'results.json') };
  } finally {
    await release();
  }
}
