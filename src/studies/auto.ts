/**
 * runAutoStudy(): a classifier for the user's own photo folder, chosen
 * among candidates within a time budget. The folder is taken as it is
 * (train/ + validation/ or val/ [+ test/]) or split per class (auto-data.ts);
 * every image is checked once; then the candidates (auto-candidates.ts) run
 * cheapest first, each into REPORT_DIR/candidates/<name>/ and each only
 * when its estimate (auto-estimate.ts) fits what is left of the budget —
 * one that does not is listed as skipped, with the reason. Every finished
 * candidate is scored on the whole validation split; the best by
 * validation accuracy (ties: lower validation loss) is copied to
 * REPORT_DIR/model/ with try.html. The test split only scores.
 *
 * Resumable as the lecture studies: a candidate is finished when its DONE
 * marker exists (written last) and its settings are this run's; a re-run
 * reuses it without spending budget, and redoes an interrupted one.
 */
import { existsSync, promises as fs } from 'node:fs';
import { join, resolve } from 'node:path';
import { backendInfo } from '../backend/index.js';
import { checkData, type DataCheckResult } from '../data/check.js';
import { splitFolder } from '../data/splits.js';
import { getRecipe } from '../recipes/registry.js';
import { resolveSettings } from '../recipes/settings.js';
import type { SettingsOverrides } from '../recipes/recipe.js';
import { evaluate } from '../train/evaluate.js';
import { modelReadOptions } from '../train/predict.js';
import { loadModel } from '../train/saved-model.js';
import type { PretrainedBase } from '../transfer/bases.js';
import { writeFileAtomic } from '../util/atomic.js';
import { ConvkitError } from '../util/errors.js';
import { ensureDir, ownedBy, undoOutputOnFailure } from '../util/output-guard.js';
import { formatDuration } from '../util/progress.js';
import { resolveAutoData, type AutoData } from './auto-data.js';
import {
  baseNameOf,
  defaultBases,
  defaultScratchRecipes,
  featuresAugmentCandidate,
  featuresCandidate,
  finetuneCandidate,
  scratchCandidate,
  type Candidate,
} from './auto-candidates.js';
import { calibration, scratchEstimate, transferEstimate, type CandidateKind, type ImageCounts } from './auto-estimate.js';
import { classBalanceOf, type ClassBalanceReport } from './auto-balance.js';
import { writeAutoReport } from './auto-report.js';
import { trainRecorded } from './run-step.js';
import type { AutoCandidateOutcome, CandidateRecord } from './auto-outcome.js';
import { bestStep, claimStudyFolders, copyModel, defaultCacheRoot, DONE_FILE, RECORD_FILE } from './study.js';

export interface AutoStudyOptions {
  /** The photo folder: train/ + validation/ (or val/) [+ test/], or one folder of class sub-folders. */
  data: string;
  /** Report folder. */
  out: string;
  /** Minutes this run may spend (default 30); a candidate whose estimate does not fit what is left is skipped. */
  budgetMinutes?: number;
  seed?: number;
  /** Cache root (decoded images, features, split views); default ~/.cache/convkit. */
  cacheDir?: string;
  /** Leave out files that do not decode (listed in the report) instead of stopping. */
  skipBad?: boolean;
  /** Redo finished candidates. */
  force?: boolean;
  /** Fraction of each class held out for validation when the folder has no validation split (default 0.2); refused when it has one. */
  validationSplit?: number;
  /** Pretrained bases of the transfer candidates (default mobilenet_v1, mobilenet_v2, and vgg16 when its weights are in the cache). */
  bases?: (string | PretrainedBase)[];
  /** Recipes trained from scratch (default augment, and xresnet and xception when registered). */
  scratchRecipes?: string[];
  /** Settings laid over a recipe's candidate settings, by recipe name (tests use tiny ones). */
  overrides?: Record<string, SettingsOverrides>;
  signal?: AbortSignal;
  /** The recipes' own progress output (default true). */
  verbose?: boolean;
  log?: (line: string) => void;
}

export type { AutoCandidateOutcome, CandidateRecord } from './auto-outcome.js';

export interface AutoStudyResult {
  out: string;
  indexPath: string;
  resultsPath: string;
  candidates: AutoCandidateOutcome[];
  /** The chosen candidate (its model is in out/model). */
  best?: string;
  data: AutoData;
  balance: ClassBalanceReport;
  skipped: DataCheckResult['skipped'];
  wallSeconds: number;
}

/** Marks a report folder as an auto study's own. */
const AUTO_MARKER = '.convkit-auto-study';
const CANDIDATES_DIR = 'candidates';

interface AutoRun {
  options: AutoStudyOptions;
  out: string;
  dir: string;
  cacheRoot: string;
  seed: number;
  budgetSeconds: number;
  force: boolean;
  verbose: boolean;
  log: (line: string) => void;
  t0: number;
}

const elapsed = (run: AutoRun) => (performance.now() - run.t0) / 1000;
const budgetLeft = (run: AutoRun) => run.budgetSeconds - elapsed(run);

export async function runAutoStudy(options: AutoStudyOptions): Promise<AutoStudyResult> {
  const budgetMinutes = options.budgetMinutes ?? 30;
  if (!(Number.isFinite(budgetMinutes) && budgetMinutes > 0))
    throw new ConvkitError(`--budget ${budgetMinutes}`, 'give the minutes the study may take, a number above 0 (e.g. --budget 15)');
  const out = resolve(options.out);
  const run: AutoRun = {
    options,
    out,
    dir: join(out, CANDIDATES_DIR),
    cacheRoot: resolve(options.cacheDir ?? defaultCacheRoot()),
    seed: options.seed ?? 1,
    budgetSeconds: budgetMinutes * 60,
    force: options.force ?? false,
    verbose: options.verbose ?? true,
    log: options.log ?? ((l: string) => console.error(l)),
    t0: performance.now(),
  };
  const release = await claimStudyFolders({
    out,
    data: options.data,
    cacheRoot: run.cacheRoot,
    what: 'an auto study report folder',
    owns: ownedBy(AUTO_MARKER),
  });
  try {
    const { layout, checked } = await prepareData(run);
    const classNames = checked.classNames;
    const balance = await classBalanceOf(checked.root, classNames);
    if (balance.warnings.length) for (const w of balance.warnings) run.log(`auto study: ${w}`);
    const counts: ImageCounts = { train: checked.counts.train ?? 0, validation: checked.counts.validation ?? 0, test: checked.counts.test ?? 0 };
    run.log(
      `auto study: ${classNames.length} classes, ${counts.train} training, ${counts.validation} validation and ${counts.test} test images; budget ${formatDuration(run.budgetSeconds)}`,
    );
    // The data as the candidates' key knows it: a folder whose class counts change makes every candidate stale.
    const dataKey = JSON.stringify({ root: checked.root, counts: balance.counts });
    const outcomes = await runCandidates(run, checked, counts, dataKey);
    const finished = outcomes.filter((o): o is AutoCandidateOutcome & { record: CandidateRecord } => o.record !== undefined);
    if (finished.length === 0) {
      const cheapest = outcomes
        .filter((o) => o.status === 'skipped' && o.estimateSeconds !== undefined)
        .sort((a, b) => a.estimateSeconds! - b.estimateSeconds!)[0];
      if (!cheapest)
        throw new ConvkitError(
          `no candidate finished: ${outcomes.map((o) => `${o.name} ${o.status}${o.reason ? ` (${o.reason})` : ''}`).join('; ')}`,
          'fix what the first failure names, or leave that candidate out',
        );
      throw new ConvkitError(
        `no candidate fits in --budget ${budgetMinutes} minutes: the cheapest, ${cheapest.name}, is estimated at ${formatDuration(cheapest.estimateSeconds!)}`,
        `raise --budget to at least ${Math.ceil((elapsed(run) + cheapest.estimateSeconds!) / 60) + 1}; the images checked so far are kept`,
      );
    }
    const best = bestStep(finished);
    if (best) await copyModel(join(run.dir, best.name), join(out, 'model'));
    const written = await writeAutoReport({
      out,
      data: resolve(options.data),
      layout,
      checked,
      balance,
      outcomes,
      best: best?.name,
      budgetSeconds: run.budgetSeconds,
      seed: run.seed,
      backend: backendInfo(),
      wallSeconds: elapsed(run),
    });
    run.log(`auto study: done in ${formatDuration(elapsed(run))}; chose ${best?.name}; report: ${written.indexPath}`);
    return {
      out,
      indexPath: written.indexPath,
      resultsPath: written.resultsPath,
      candidates: outcomes,
      best: best?.name,
      data: layout,
      balance,
      skipped: checked.skipped,
      wallSeconds: elapsed(run),
    };
  } finally {
    await release();
  }
}

/** The folder as train/validation[/test] and every image checked once; refused data leaves no report folder behind. */
async function prepareData(run: AutoRun): Promise<{ layout: AutoData; checked: DataCheckResult }> {
  const { options, out, cacheRoot } = run;
  const decode = resolveSettings(getRecipe('augment'), 'book', { imageSize: 80 });
  return undoOutputOnFailure(
    out,
    async () => {
      await ensureDir(run.dir);
      await writeFileAtomic(join(out, AUTO_MARKER), 'convkit auto study report folder\n');
      const layout = await resolveAutoData(options.data, {
        validationSplit: options.validationSplit,
        seed: run.seed,
        viewsDir: join(cacheRoot, 'splits'),
        skipBad: options.skipBad,
      });
      run.log(`auto study: ${layout.description}`);
      const checked = await checkData(layout.root, {
        skipBad: options.skipBad,
        imageSize: decode.imageSize,
        interpolation: decode.interpolation ?? 'bilinear',
        imageCacheDir: join(cacheRoot, 'images'),
        viewsDir: join(cacheRoot, 'views'),
        stateFile: join(run.dir, 'data-check.json'),
        silent: !run.verbose,
        log: run.log,
        signal: options.signal,
      });
      if (checked.skipped.length) run.log(`auto study: ${checked.skipped.length} bad file(s) left out (listed in the report)`);
      return { layout, checked };
    },
    () => options.signal?.aborted === true,
  );
}

/** A candidate's settings, seed and data as one string: what a finished candidate must match to be reused. */
function candidateKey(c: Candidate, seed: number, data: string): string {
  const overrides = JSON.stringify(c.overrides, (k, v: unknown) => (k === 'base' && v && typeof v === 'object' ? (v as PretrainedBase).name : v));
  return JSON.stringify({ recipe: c.recipe, profile: c.profile, overrides: JSON.parse(overrides) as unknown, seed, data });
}

async function finishedRecord(dir: string): Promise<CandidateRecord | undefined> {
  if (!existsSync(join(dir, DONE_FILE)) || !existsSync(join(dir, RECORD_FILE))) return undefined;
  return JSON.parse(await fs.readFile(join(dir, RECORD_FILE), 'utf8')) as CandidateRecord;
}

/** What the candidate loop tracks. */
interface Plan {
  features: Candidate[];
  scratch: Candidate[];
  /** The transfer chain after the features: features-augment, then finetune, on the best features base. */
  chain: 'features-augment' | 'finetune' | 'done';
  outcomes: AutoCandidateOutcome[];
  /** Unscaled estimates, computed once per candidate. */
  estimates: Map<string, number>;
  /** Candidates in all, for the progress lines. */
  total: number;
}

/**
 * The MobileNets' features side by side (`mobilenet_v1+mobilenet_v2`) when the
 * study has both: each part's features come from its own candidate's cache
 * entries, so the pair costs only a head.
 */
function sideBySide(bases: readonly (string | PretrainedBase)[]): string[] {
  const mobilenets = bases.filter((b): b is string => typeof b === 'string' && b.startsWith('mobilenet_'));
  return mobilenets.length >= 2 ? [mobilenets.join('+')] : [];
}

/** Runs the candidates cheapest first, reusing finished ones, skipping those that do not fit the budget. */
async function runCandidates(run: AutoRun, checked: DataCheckResult, counts: ImageCounts, dataKey: string): Promise<AutoCandidateOutcome[]> {
  const o = run.options;
  const bases = o.bases ?? defaultBases();
  const plan: Plan = {
    features: [...bases, ...sideBySide(bases)].map((b) => featuresCandidate(b, o.overrides?.features)),
    scratch: (o.scratchRecipes ?? defaultScratchRecipes()).map((r) => scratchCandidate(r, getRecipe(r).summary, o.overrides?.[r])),
    chain: 'features-augment',
    outcomes: [],
    estimates: new Map(),
    total: 0,
  };
  const total = (plan.total = plan.features.length + plan.scratch.length + 2);
  for (;;) {
    run.options.signal?.throwIfAborted();
    const ready = [...plan.features, ...plan.scratch];
    const chained = plan.features.length === 0 ? nextInChain(run, plan) : undefined;
    if (chained) ready.push(chained);
    if (ready.length === 0 && plan.chain === 'done') break;
    if (ready.length === 0) continue; // nextInChain recorded a skip and moved the chain on
    // Finished candidates first (they cost nothing), then the cheapest.
    const withKeys = ready.map((c) => ({ c, key: candidateKey(c, run.seed, dataKey) }));
    const reusable: { c: Candidate; key: string; record: CandidateRecord }[] = [];
    for (const { c, key } of withKeys) {
      const record = run.force || dependencyRetrained(plan, c) ? undefined : await finishedRecord(join(run.dir, c.name));
      if (record?.key === key) reusable.push({ c, key, record });
    }
    const index = plan.outcomes.length + 1;
    if (reusable.length) {
      // In the order they first ran, so a re-run lists them as the first run did.
      const { c, record } = reusable.sort((a, b) => (a.record.finishedAt < b.record.finishedAt ? -1 : 1))[0]!;
      take(plan, c);
      plan.outcomes.push({ ...describe(c), status: 'reused', record });
      run.log(`auto study [${index}/${total}] ${c.name}: finished earlier (validation accuracy ${fmtAcc(record.valAccuracy)}), reused; --force redoes it`);
      continue;
    }
    const unbuildable = await estimateAll(run, plan, withKeys, counts, checked.classNames.length);
    if (unbuildable) {
      take(plan, unbuildable.c);
      plan.outcomes.push({ ...describe(unbuildable.c), status: 'failed', reason: unbuildable.reason });
      run.log(`auto study [${index}/${total}] ${unbuildable.c.name} failed: ${unbuildable.reason}`);
      continue;
    }
    const scaled = (c: Candidate) => plan.estimates.get(c.name)! * scaleFor(plan, c.kind);
    const next = withKeys.sort((a, b) => scaled(a.c) - scaled(b.c))[0]!;
    const c = next.c;
    take(plan, c);
    const estimate = scaled(c);
    const left = budgetLeft(run);
    if (!(estimate <= left)) {
      const reason = `estimated ${formatDuration(estimate)}, ${formatDuration(Math.max(0, left))} of the budget left`;
      plan.outcomes.push({ ...describe(c), status: 'skipped', reason, estimateSeconds: estimate });
      run.log(`auto study [${index}/${total}] ${c.name}: skipped (${reason})`);
      continue;
    }
    run.log(
      `auto study [${index}/${total}] ${c.name}: ${c.description} — estimated ${formatDuration(estimate)}, elapsed ${formatDuration(elapsed(run))}, budget left ${formatDuration(left)}`,
    );
    let record: CandidateRecord;
    try {
      record = await trainCandidate(run, c, next.key, plan.estimates.get(c.name)!, checked, estimate);
    } catch (err) {
      const reason = refusal(run, err);
      plan.outcomes.push({ ...describe(c), status: 'failed', reason, estimateSeconds: estimate });
      run.log(`auto study [${index}/${total}] ${c.name} failed: ${reason}`);
      continue;
    }
    plan.outcomes.push({ ...describe(c), status: 'trained', estimateSeconds: estimate, record });
    run.log(
      `auto study [${index}/${total}] ${c.name} done in ${formatDuration(record.wallSeconds)}: validation accuracy ${fmtAcc(record.valAccuracy)}, test ${fmtAcc(record.testAccuracy)}; budget left ${formatDuration(Math.max(0, budgetLeft(run)))}`,
    );
  }
  return plan.outcomes;
}

/**
 * One candidate's refusal (a recipe that cannot build or train on this
 * backend, say) should not cost the others: its ConvkitError becomes the
 * reason it failed. Anything else, and an abort, stops the study.
 */
function refusal(run: AutoRun, err: unknown): string {
  if (!(err instanceof ConvkitError) || run.options.signal?.aborted) throw err;
  return err.message.split('\n')[0]!;
}

/** Estimates every ready candidate not estimated yet; the first whose model cannot be built is returned with the reason. */
async function estimateAll(
  run: AutoRun,
  plan: Plan,
  ready: readonly { c: Candidate }[],
  counts: ImageCounts,
  numClasses: number,
): Promise<{ c: Candidate; reason: string } | undefined> {
  for (const { c } of ready) {
    if (plan.estimates.has(c.name)) continue;
    try {
      plan.estimates.set(c.name, await estimateOf(c, counts, numClasses, run.seed));
    } catch (err) {
      return { c, reason: refusal(run, err) };
    }
  }
  return undefined;
}

function describe(c: Candidate): Omit<AutoCandidateOutcome, 'status'> {
  return { name: c.name, kind: c.kind, recipe: c.recipe, base: c.base === undefined ? undefined : baseNameOf(c.base), description: c.description };
}

/** Removes `c` from the plan's waiting lists, or moves the chain past it. */
function take(plan: Plan, c: Candidate): void {
  plan.features = plan.features.filter((x) => x !== c);
  plan.scratch = plan.scratch.filter((x) => x !== c);
  if (c.kind === 'features-augment') plan.chain = 'finetune';
  else if (c.kind === 'finetune') plan.chain = 'done';
}

/**
 * The next transfer candidate after the features: features-augment on the
 * base whose features candidate validated best, then finetune from it.
 * When what it starts from did not run, it is skipped and the chain moves on.
 */
function nextInChain(run: AutoRun, plan: Plan): Candidate | undefined {
  const o = run.options;
  const done = (kind: CandidateKind) => plan.outcomes.filter((x): x is AutoCandidateOutcome & { record: CandidateRecord } => x.kind === kind && !!x.record);
  const skip = (name: string, reason: string, next: Plan['chain']) => {
    plan.outcomes.push({ name, kind: plan.chain as CandidateKind, recipe: plan.chain, description: reason, status: 'skipped', reason });
    run.log(`auto study [${plan.outcomes.length}/${plan.total}] ${name}: skipped (${reason})`);
    plan.chain = next;
    return undefined;
  };
  const bases = o.bases ?? defaultBases();
  const baseOf = (name: string | undefined) => bases.find((b) => baseNameOf(b) === name) ?? name!;
  if (plan.chain === 'features-augment') {
    // The chain fine-tunes one base, so it continues the best single base's head.
    const best = bestStep(done('features').filter((x) => !x.base?.includes('+')));
    if (!best) return skip('features-augment', 'it continues the head of a features candidate, and none ran', 'done');
    return featuresAugmentCandidate(baseOf(best.base), join(run.dir, best.name), o.overrides?.['features-augment']);
  }
  if (plan.chain === 'finetune') {
    const from = done('features-augment')[0];
    if (!from) return skip('finetune', 'it starts from the features-augment model, which did not run', 'done');
    return finetuneCandidate(baseOf(from.base), join(run.dir, from.name), o.overrides?.finetune);
  }
  return undefined;
}

/** A candidate starting from one retrained in this run must be retrained too. */
function dependencyRetrained(plan: Plan, c: Candidate): boolean {
  const from = c.overrides.transfer?.from;
  return from !== undefined && plan.outcomes.some((x) => x.status === 'trained' && from.endsWith(`/${x.name}`));
}

/**
 * Measured / estimated seconds of the finished candidates of the same family
 * (transfer or from scratch). Bases side by side are left out: their time
 * says how much of their parts the cache held, not how fast this machine is.
 */
function scaleFor(plan: Plan, kind: CandidateKind): number {
  const scratch = kind === 'scratch';
  return calibration(
    plan.outcomes
      .filter((x) => x.record && (x.kind === 'scratch') === scratch && !x.base?.includes('+'))
      .map((x) => ({ wallSeconds: x.record!.wallSeconds, estimateSeconds: x.record!.estimateSeconds })),
  );
}

async function estimateOf(c: Candidate, counts: ImageCounts, numClasses: number, seed: number): Promise<number> {
  const recipe = getRecipe(c.recipe);
  const settings = resolveSettings(recipe, c.profile, c.overrides);
  if (c.kind === 'scratch') return scratchEstimate(recipe, settings, counts, numClasses, seed);
  return transferEstimate(c.kind, settings, counts, c.base === undefined ? 'mobilenet_v1' : baseNameOf(c.base));
}

/** Trains one candidate into candidates/<name>/ (from scratch: a folder without DONE is what a killed run left), scores it on validation, marks it done. */
async function trainCandidate(
  run: AutoRun,
  c: Candidate,
  key: string,
  estimateSeconds: number,
  checked: DataCheckResult,
  scaledEstimate: number,
): Promise<CandidateRecord> {
  const dir = join(run.dir, c.name);
  await fs.rm(dir, { recursive: true, force: true });
  const t0 = performance.now();
  const heartbeat = setInterval(
    () =>
      run.log(
        `auto study: ${c.name} running for ${formatDuration((performance.now() - t0) / 1000)} (estimated ${formatDuration(scaledEstimate)}); budget left ${formatDuration(Math.max(0, budgetLeft(run)))}`,
      ),
    120_000,
  );
  heartbeat.unref();
  try {
    const { result, record } = await trainRecorded({
      recipe: c.recipe,
      profile: c.profile,
      overrides: c.overrides,
      // The user's folder (what convkit.json records, and what the outputs may not overlap); the images are read from checked.root.
      data: resolve(run.options.data),
      checked,
      dir,
      seed: run.seed,
      cacheDir: run.cacheRoot,
      signal: run.options.signal,
      verbose: run.verbose,
      log: run.log,
    });
    const validation = await scoreValidation(dir, checked.root, result.settings.batchSize, run);
    const settings = { ...(result.meta.recipe?.settings ?? result.settings), inputSize: result.meta.inputSize };
    const full: CandidateRecord = {
      ...record,
      name: c.name,
      kind: c.kind,
      base: c.base === undefined ? undefined : baseNameOf(c.base),
      settings: JSON.parse(
        JSON.stringify(settings, (k, v: unknown) => (k === 'base' && v && typeof v === 'object' ? (v as PretrainedBase).name : v)),
      ) as Record<string, unknown>,
      key,
      estimateSeconds,
      fitValAccuracy: record.valAccuracy,
      fitValLoss: record.valLoss,
      valAccuracy: validation.accuracy,
      valLoss: validation.loss,
      ...(checked.classNames.length > 2 && { valBalancedAccuracy: validation.balancedAccuracy }),
      wallSeconds: (performance.now() - t0) / 1000,
    };
    await writeFileAtomic(join(dir, RECORD_FILE), JSON.stringify(full, null, 2) + '\n');
    await writeFileAtomic(join(dir, DONE_FILE), `${full.finishedAt}\n`);
    return full;
  } finally {
    clearInterval(heartbeat);
  }
}

/** The saved model on the whole validation split, plainly: what chooses among candidates whatever each recipe's own validation was. */
async function scoreValidation(dir: string, root: string, batchSize: number, run: AutoRun) {
  const { model, meta } = await loadModel(dir);
  try {
    const read = modelReadOptions(meta);
    return await evaluate(model, splitFolder(root, 'validation'), {
      classNames: meta.classNames,
      batchSize,
      inputSize: read.targetSize,
      colorMode: read.colorMode,
      interpolation: read.interpolation,
      seed: run.seed,
      progress: run.verbose,
    });
  } finally {
    model.dispose();
  }
}

function fmtAcc(v: number | undefined): string {
  return typeof v === 'number' ? `${(v * 100).toFixed(1)} %` : '—';
}
