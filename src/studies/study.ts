/**
 * runStudy(): the lecture end to end. Runs a study's steps in order, each
 * into REPORT_DIR/steps/<name>/ and each reusing what the ones before made
 * (decoded-image cache, cached base features, the features-augment model
 * finetune starts from). A step is finished when its DONE marker exists
 * (written last, atomically): a re-run skips it; a folder without the
 * marker (a killed run) is removed and the step redone from its start.
 * Then the report: index.html, results.json, the best model and try.html.
 */
import { existsSync, promises as fs } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { backendInfo } from '../backend/index.js';
import { getBase, type PretrainedBase } from '../transfer/bases.js';
import { writeDirAtomic, writeFileAtomic } from '../util/atomic.js';
import { ConvkitError } from '../util/errors.js';
import { MODEL_FOLDER } from '../models/fs-io.js';
import { claimOutputDir, ensureDir, lockOutput, ownedBy, undoOutputOnFailure, type OwnershipTest } from '../util/output-guard.js';
import { formatDuration } from '../util/progress.js';
import { checkData, type DataCheckResult } from '../data/check.js';
import { writeStudyReport } from './report.js';
import { convnetSettings, runStep, type StepRecord, type StudyStepOutcome } from './run-step.js';

export type { StudyStepOutcome } from './run-step.js';
import { COST_PER_IMAGE, getStudy, profileSettings, type StepName, type StepSettings, type StudyDefinition, type StudyProfile } from './steps.js';
import type { Profile } from '../recipes/recipe.js';

export interface StudyOptions {
  /** A study name (cats-vs-dogs, gender) or a definition. */
  study: string | StudyDefinition;
  data: string;
  /** Report folder. */
  out: string;
  /** Pretrained base name (default mobilenet_v1) or a loaded base. */
  base?: string | PretrainedBase;
  profile?: StudyProfile;
  /** Redo finished steps. */
  force?: boolean;
  seed?: number;
  /** Leave out files that do not decode (listed in the report) instead of stopping. */
  skipBad?: boolean;
  /** Put images (wrong predictions, augmented samples) into a report whose study keeps them out by default. */
  includeImages?: boolean;
  /** Cache root (decoded images, features, clean data views); default ~/.cache/convkit. */
  cacheDir?: string;
  /** Per-step settings laid over the profile's (tests use tiny ones). */
  overrides?: Partial<Record<StepName, StepSettings>>;
  signal?: AbortSignal;
  /** Steps' own progress output (default true). */
  verbose?: boolean;
  log?: (line: string) => void;
}

export interface StudyResult {
  out: string;
  indexPath: string;
  resultsPath: string;
  steps: StudyStepOutcome[];
  best?: StepName;
  skipped: DataCheckResult['skipped'];
  wallSeconds: number;
}

export const DONE_FILE = 'DONE';
/** Marks a report folder as the study's own, so a re-run may write into it (and nothing else is written into). */
const STUDY_MARKER = '.convkit-study';
/** Report folders from before the marker are recognized by their results.json and steps/. */
const ownsStudyFolder = async (dir: string): Promise<boolean> =>
  (await ownedBy(STUDY_MARKER)(dir)) || (existsSync(join(dir, 'results.json')) && existsSync(join(dir, 'steps')));
export const RECORD_FILE = 'step.json';

/**
 * Claims a study's report folder and cache before any work (neither inside
 * the data, the report folder new or the study's own) and locks the report
 * folder against a second run; returns the lock's release.
 */
export async function claimStudyFolders(f: { out: string; data: string; cacheRoot: string; what: string; owns: OwnershipTest }): Promise<() => Promise<void>> {
  const data = { path: f.data, flag: '--data' };
  await claimOutputDir({ path: f.out, flag: '--out', what: f.what, owns: f.owns, inputs: [data] });
  await claimOutputDir({
    path: f.cacheRoot,
    flag: '--cache-dir',
    what: 'a convkit cache',
    owns: async () => true,
    inputs: [data, { path: f.out, flag: '--out' }],
  });
  return lockOutput(f.out, '--out');
}

export function defaultCacheRoot(): string {
  return process.env.CONVKIT_CACHE_DIR ?? join(homedir(), '.cache', 'convkit');
}

/** The settings each step runs with (profile, then overrides). */
export function stepSettings(study: StudyDefinition, profile: StudyProfile, overrides: StudyOptions['overrides'] = {}): Record<StepName, StepSettings> {
  const out = {} as Record<StepName, StepSettings>;
  for (const s of study.steps) out[s.name] = { ...profileSettings(profile, s.name, study), ...(overrides[s.name] ?? {}) };
  return out;
}

/** Seconds a step should take by a crude cost model (image-passes × size), scaled by what finished steps measured. */
function estimate(name: StepName, s: StepSettings, trainImages: number, recipeProfile: Profile): number {
  if (name === 'scratch' || name === 'augment') {
    const r = convnetSettings(name, recipeProfile, s);
    const passes = r.epochs * (r.stepsPerEpoch ? (r.stepsPerEpoch * r.batchSize) / trainImages : 1);
    return COST_PER_IMAGE[name] * passes * trainImages * (r.imageSize / 150) ** 2;
  }
  const size = s.imageSize ?? 224;
  const epochs = s.epochs ?? 30;
  const passes = name === 'features' ? 1.5 : (s.variants ?? 5) + 1;
  return COST_PER_IMAGE[name] * passes * trainImages * (size / 150) ** 2 + (name === 'features' ? epochs * 0.2 : 0);
}

/** What every part of one runStudy() call shares. */
interface StudyRun {
  options: StudyOptions;
  study: StudyDefinition;
  profile: StudyProfile;
  recipeProfile: Profile;
  settings: Record<StepName, StepSettings>;
  base: string | PretrainedBase;
  seed: number;
  force: boolean;
  verbose: boolean;
  out: string;
  stepsDir: string;
  cacheRoot: string;
  log: (line: string) => void;
  t0: number;
}

export async function runStudy(options: StudyOptions): Promise<StudyResult> {
  const study = typeof options.study === 'string' ? getStudy(options.study) : options.study;
  const { profile = 'quick', seed = 1, force = false, verbose = true } = options;
  const out = resolve(options.out);
  const run: StudyRun = {
    options,
    study,
    profile,
    recipeProfile: profile === 'best' ? 'best' : 'book',
    settings: stepSettings(study, profile, options.overrides),
    base: options.base ?? 'mobilenet_v1',
    seed,
    force,
    verbose,
    out,
    stepsDir: join(out, 'steps'),
    cacheRoot: resolve(options.cacheDir ?? defaultCacheRoot()),
    log: options.log ?? ((l: string) => console.error(l)),
    t0: performance.now(),
  };
  const release = await claimStudyFolders({ out, data: options.data, cacheRoot: run.cacheRoot, what: 'a study report folder', owns: ownsStudyFolder });
  try {
    const checked = await checkStudyData(run);
    await checkBaseLoads(run);
    const outcomes = await runSteps(run, checked);
    const best = bestStep(outcomes);
    if (best) await copyModel(join(run.stepsDir, best.name), join(out, 'model'));
    const written = await writeStudyReport({
      out,
      study,
      profile,
      base: typeof run.base === 'string' ? run.base : run.base.name,
      data: resolve(options.data),
      checked,
      outcomes,
      best: best?.name,
      includeImages: options.includeImages ?? !study.privateImages,
      seed,
      backend: backendInfo(),
      wallSeconds: (performance.now() - run.t0) / 1000,
    });
    const wallSeconds = (performance.now() - run.t0) / 1000;
    run.log(`study ${study.name}: done in ${formatDuration(wallSeconds)}; report: ${written.indexPath}`);
    return { out, indexPath: written.indexPath, resultsPath: written.resultsPath, steps: outcomes, best: best?.name, skipped: checked.skipped, wallSeconds };
  } finally {
    await release();
  }
}

/**
 * Checks every image once, at the first small-convnet step's decode settings
 * (its cache stays warm). Data refused here leaves no report folder behind;
 * an interrupted check keeps its state to resume from.
 */
async function checkStudyData(run: StudyRun): Promise<DataCheckResult> {
  const { options, out, stepsDir, cacheRoot } = run;
  const firstConvnet = run.study.steps.find((s) => s.name === 'scratch' || s.name === 'augment');
  const decode = firstConvnet ? convnetSettings(firstConvnet.name, run.recipeProfile, run.settings[firstConvnet.name]) : undefined;
  const checked = await undoOutputOnFailure(
    out,
    async () => {
      await ensureDir(stepsDir);
      await writeFileAtomic(join(out, STUDY_MARKER), 'convkit study report folder\n');
      return checkData(options.data, {
        skipBad: options.skipBad,
        imageSize: decode?.imageSize ?? 224,
        interpolation: decode?.interpolation ?? 'bilinear',
        imageCacheDir: join(cacheRoot, 'images'),
        viewsDir: join(cacheRoot, 'views'),
        stateFile: join(stepsDir, 'data-check.json'),
        silent: !run.verbose,
        log: run.log,
        signal: options.signal,
      });
    },
    () => options.signal?.aborted === true,
  );
  if (checked.skipped.length) run.log(`study: ${checked.skipped.length} bad file(s) left out (listed in the report)`);
  return checked;
}

/** A base that cannot load (VGG16's weights offline) should stop the study now, not after the first steps trained. */
async function checkBaseLoads(run: StudyRun): Promise<void> {
  const todo = run.study.steps.some((s) => s.name !== 'scratch' && s.name !== 'augment' && (run.force || !existsSync(join(run.stepsDir, s.name, DONE_FILE))));
  if (!todo || typeof run.base !== 'string') return;
  const size = run.settings.features?.imageSize ?? run.settings['features-augment']?.imageSize;
  const loaded = await getBase(run.base).load(size ? { inputSize: [size, size] } : {});
  loaded.model.dispose();
}

/** The study's overall progress line: elapsed time and an ETA from the cost model, rescaled by the steps measured so far. */
class StudyClock {
  private readonly estimates: Map<StepName, number>;
  private scale = 1;
  private measuredSec = 0;
  private estimatedSec = 0;
  private stepStart = performance.now();

  constructor(
    private readonly run: StudyRun,
    trainImages: number,
  ) {
    this.estimates = new Map(run.study.steps.map((s) => [s.name, estimate(s.name, run.settings[s.name], trainImages, run.recipeProfile)]));
  }

  startStep(): void {
    this.stepStart = performance.now();
  }

  endStep(name: StepName, wallSeconds: number): void {
    this.measuredSec += wallSeconds;
    this.estimatedSec += this.estimates.get(name)!;
    this.scale = this.measuredSec / Math.max(this.estimatedSec, 1e-9);
  }

  log(i: number, what: string, running = false): void {
    const { steps, name } = this.run.study;
    const total = steps.length;
    const current = running ? Math.max(0, this.estimates.get(steps[i]!.name)! * this.scale - (performance.now() - this.stepStart) / 1000) : 0;
    const left = current + steps.slice(running ? i + 1 : i).reduce((sum, s) => sum + this.estimates.get(s.name)! * this.scale, 0);
    this.run.log(
      `study ${name} [${Math.min(i + 1, total)}/${total}] ${what} — elapsed ${formatDuration((performance.now() - this.run.t0) / 1000)}, study ETA ${formatDuration(left)}`,
    );
  }
}

/** Runs the steps in order; a step finished earlier (its DONE marker) is reused unless --force or a step it starts from was redone. */
async function runSteps(run: StudyRun, checked: DataCheckResult): Promise<StudyStepOutcome[]> {
  const { study, stepsDir, settings } = run;
  const clock = new StudyClock(run, checked.counts.train ?? 0);
  const outcomes: StudyStepOutcome[] = [];
  for (const [i, step] of study.steps.entries()) {
    run.options.signal?.throwIfAborted();
    const dir = join(stepsDir, step.name);
    // finetune starts from the features-augment model (and features-augment may start from the features head): a new one makes it stale.
    const headFromFeatures = step.name === 'features-augment' && settings[step.name].headFromFeatures === true;
    const dependsOn = step.name === 'finetune' ? 'features-augment' : headFromFeatures ? 'features' : undefined;
    const staleDependency = outcomes.some((o) => o.name === dependsOn && o.status === 'trained');
    if (!run.force && !staleDependency && existsSync(join(dir, DONE_FILE))) {
      const record = JSON.parse(await fs.readFile(join(dir, RECORD_FILE), 'utf8')) as StepRecord;
      outcomes.push({ name: step.name, status: 'reused', record });
      run.log(
        `study ${study.name} [${i + 1}/${study.steps.length}] ${step.name}: finished earlier (test accuracy ${fmtAcc(record.testAccuracy)}), reused; --force redoes it`,
      );
      continue;
    }
    if (step.name === 'finetune' && !existsSync(join(stepsDir, 'features-augment', DONE_FILE))) {
      throw new ConvkitError(
        'finetune starts from the features-augment model, which is not there',
        'run the features-augment step first (keep it in the study)',
      );
    }
    clock.startStep();
    clock.log(i, `${step.name}: ${step.description}`);
    const heartbeat = setInterval(() => clock.log(i, `${step.name} running`, true), 120_000);
    heartbeat.unref();
    let record: StepRecord;
    try {
      record = await trainStep(run, step.name, checked, headFromFeatures);
    } finally {
      clearInterval(heartbeat);
    }
    clock.endStep(step.name, record.wallSeconds);
    outcomes.push({ name: step.name, status: 'trained', record });
    clock.log(
      i + 1,
      `${step.name} done in ${formatDuration(record.wallSeconds)}: test accuracy ${fmtAcc(record.testAccuracy)}, validation ${fmtAcc(record.valAccuracy)}`,
    );
  }
  return outcomes;
}

/** Trains one step into steps/NAME from scratch (a folder without DONE is what a killed run left) and marks it done. */
async function trainStep(run: StudyRun, name: StepName, checked: DataCheckResult, headFromFeatures: boolean): Promise<StepRecord> {
  const { stepsDir, cacheRoot } = run;
  const dir = join(stepsDir, name);
  await fs.rm(dir, { recursive: true, force: true });
  const record = await runStep({
    name,
    data: run.options.data,
    checked,
    dir,
    featuresAugmentDir: join(stepsDir, 'features-augment'),
    recipeProfile: run.recipeProfile,
    featuresDir: headFromFeatures && existsSync(join(stepsDir, 'features', DONE_FILE)) ? join(stepsDir, 'features') : undefined,
    settings: run.settings[name],
    base: run.base,
    seed: run.seed,
    cacheDir: cacheRoot,
    signal: run.options.signal,
    verbose: run.verbose,
    log: run.log,
  });
  await writeFileAtomic(join(dir, RECORD_FILE), JSON.stringify(record, null, 2) + '\n');
  await writeFileAtomic(join(dir, DONE_FILE), `${record.finishedAt}\n`);
  return record;
}

/** Copies a step's model files (not its markers) into the report's model/ folder. */
export async function copyModel(from: string, to: string): Promise<void> {
  await writeDirAtomic(
    to,
    async (tmp) => {
      for (const f of await fs.readdir(from)) {
        if (f === DONE_FILE || f === RECORD_FILE || f.startsWith('.')) continue;
        const st = await fs.stat(join(from, f));
        if (st.isFile()) await fs.copyFile(join(from, f), join(tmp, f));
      }
    },
    MODEL_FOLDER,
  );
}

/**
 * The step whose model goes beside the report: the highest validation
 * accuracy; ties go to the lower validation loss, then to the later step.
 * The test set only scores the steps: choosing by it would make its score
 * an optimistic one.
 */
export function bestStep<T extends { record: { valAccuracy?: number; valLoss?: number } }>(outcomes: readonly T[]): T | undefined {
  const acc = (o: T) => o.record.valAccuracy ?? -Infinity;
  const loss = (o: T) => o.record.valLoss ?? Infinity;
  const worse = (a: T, b: T) => acc(a) < acc(b) || (acc(a) === acc(b) && loss(a) > loss(b));
  return outcomes.reduce<T | undefined>((b, o) => (b && worse(o, b) ? b : o), undefined);
}

function fmtAcc(v: number | undefined): string {
  return typeof v === 'number' ? `${(v * 100).toFixed(1)} %` : '—';
}
