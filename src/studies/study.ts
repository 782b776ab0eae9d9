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
import { formatDuration } from '../util/progress.js';
import { checkData, type DataCheckResult } from './data-check.js';
import { writeStudyReport } from './report.js';
import { convnetSettings, runStep, type StepRecord } from './run-step.js';
import { COST_PER_IMAGE, getStudy, profileSettings, type StepName, type StepSettings, type StudyDefinition, type StudyProfile } from './steps.js';
import type { Profile } from '../train/recipes.js';

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

export interface StudyStepOutcome {
  name: StepName;
  /** 'trained' this run, or 'reused' from an earlier one. */
  status: 'trained' | 'reused';
  record: StepRecord;
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
export const RECORD_FILE = 'step.json';

function defaultCacheRoot(): string {
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

export async function runStudy(options: StudyOptions): Promise<StudyResult> {
  const t0 = performance.now();
  const study = typeof options.study === 'string' ? getStudy(options.study) : options.study;
  const { profile = 'quick', seed = 1, force = false, verbose = true } = options;
  const log = options.log ?? ((l: string) => console.error(l));
  const base = options.base ?? 'mobilenet_v1';
  const out = resolve(options.out);
  const cacheRoot = resolve(options.cacheDir ?? defaultCacheRoot());
  const recipeProfile = profile === 'best' ? 'best' : 'book';
  const settings = stepSettings(study, profile, options.overrides);
  const stepsDir = join(out, 'steps');
  await fs.mkdir(stepsDir, { recursive: true });

  // Check every image once, at the first small-convnet step's decode settings (its cache stays warm).
  const firstConvnet = study.steps.find((s) => s.name === 'scratch' || s.name === 'augment');
  const decode = firstConvnet ? convnetSettings(firstConvnet.name, recipeProfile, settings[firstConvnet.name]) : undefined;
  const checked = await checkData(options.data, {
    skipBad: options.skipBad, imageSize: decode?.imageSize ?? 224, interpolation: decode?.interpolation ?? 'bilinear',
    imageCacheDir: join(cacheRoot, 'images'), viewsDir: join(cacheRoot, 'views'), stateFile: join(stepsDir, 'data-check.json'),
    silent: !verbose, log,
  });
  if (checked.skipped.length) log(`study: ${checked.skipped.length} bad file(s) left out (listed in the report)`);
  const data = checked.root;
  const trainImages = checked.counts.train ?? 0;

  // A base that cannot load (VGG16's weights offline) should stop the study now, not after the first steps trained.
  const transferTodo = study.steps.some((s) => s.name !== 'scratch' && s.name !== 'augment' && (force || !existsSync(join(stepsDir, s.name, DONE_FILE))));
  if (transferTodo && typeof base === 'string') {
    const size = settings.features?.imageSize ?? settings['features-augment']?.imageSize;
    const loaded = await getBase(base).load(size ? { inputSize: [size, size] } : {});
    loaded.model.dispose();
  }

  const total = study.steps.length;
  const estimates = new Map(study.steps.map((s) => [s.name, estimate(s.name, settings[s.name], trainImages, recipeProfile)]));
  let scale = 1; // measured / estimated, from the steps trained in this run
  let measuredSec = 0, estimatedSec = 0;
  const outcomes: StudyStepOutcome[] = [];
  let stepStart = performance.now();
  const overall = (i: number, what: string, running = false) => {
    const current = running ? Math.max(0, estimates.get(study.steps[i]!.name)! * scale - (performance.now() - stepStart) / 1000) : 0;
    const left = current + study.steps.slice(running ? i + 1 : i).reduce((sum, s) => sum + estimates.get(s.name)! * scale, 0);
    log(`study ${study.name} [${i + 1 > total ? total : i + 1}/${total}] ${what} — elapsed ${formatDuration((performance.now() - t0) / 1000)}, study ETA ${formatDuration(left)}`);
  };

  for (const [i, step] of study.steps.entries()) {
    options.signal?.throwIfAborted();
    const dir = join(stepsDir, step.name);
    const done = join(dir, DONE_FILE);
    // finetune starts from the features-augment model (and features-augment may start from the features head): a new one makes it stale.
    const headFromFeatures = step.name === 'features-augment' && settings[step.name].headFromFeatures === true;
    const dependsOn = step.name === 'finetune' ? 'features-augment' : headFromFeatures ? 'features' : undefined;
    const staleDependency = outcomes.some((o) => o.name === dependsOn && o.status === 'trained');
    if (!force && !staleDependency && existsSync(done)) {
      const record = JSON.parse(await fs.readFile(join(dir, RECORD_FILE), 'utf8')) as StepRecord;
      outcomes.push({ name: step.name, status: 'reused', record });
      log(`study ${study.name} [${i + 1}/${total}] ${step.name}: finished earlier (test accuracy ${fmtAcc(record.testAccuracy)}), reused; --force redoes it`);
      continue;
    }
    if (step.name === 'finetune' && !existsSync(join(stepsDir, 'features-augment', DONE_FILE))) {
      throw new ConvkitError('finetune starts from the features-augment model, which is not there', 'run the features-augment step first (keep it in the study)');
    }
    // A folder without DONE is what a killed run left: start the step over.
    await fs.rm(dir, { recursive: true, force: true });
    stepStart = performance.now();
    overall(i, `${step.name}: ${step.description}`);
    const heartbeat = setInterval(() => overall(i, `${step.name} running`, true), 120_000);
    heartbeat.unref();
    let record: StepRecord;
    try {
      record = await runStep({
        name: step.name, data, dir, featuresAugmentDir: join(stepsDir, 'features-augment'), recipeProfile,
        featuresDir: headFromFeatures && existsSync(join(stepsDir, 'features', DONE_FILE)) ? join(stepsDir, 'features') : undefined,
        settings: settings[step.name], base, seed, imageCacheDir: join(cacheRoot, 'images'), featureCacheDir: join(cacheRoot, 'features'),
        signal: options.signal, verbose, log,
      });
    } finally {
      clearInterval(heartbeat);
    }
    await writeFileAtomic(join(dir, RECORD_FILE), JSON.stringify(record, null, 2) + '\n');
    await writeFileAtomic(done, `${record.finishedAt}\n`);
    measuredSec += record.wallSeconds;
    estimatedSec += estimates.get(step.name)!;
    scale = measuredSec / Math.max(estimatedSec, 1e-9);
    outcomes.push({ name: step.name, status: 'trained', record });
    overall(i + 1, `${step.name} done in ${formatDuration(record.wallSeconds)}: test accuracy ${fmtAcc(record.testAccuracy)}, validation ${fmtAcc(record.valAccuracy)}`);
  }

  // The best model by test accuracy (validation when there is no test split) goes beside the report.
  const score = (o: StudyStepOutcome) => o.record.testAccuracy ?? o.record.valAccuracy ?? -1;
  const best = outcomes.reduce<StudyStepOutcome | undefined>((b, o) => (!b || score(o) > score(b) ? o : b), undefined);
  if (best) {
    const from = join(stepsDir, best.name);
    await writeDirAtomic(join(out, 'model'), async (tmp) => {
      for (const f of await fs.readdir(from)) {
        if (f === DONE_FILE || f === RECORD_FILE || f.startsWith('.')) continue;
        const st = await fs.stat(join(from, f));
        if (st.isFile()) await fs.copyFile(join(from, f), join(tmp, f));
      }
    });
  }
  const written = await writeStudyReport({
    out, study, profile, base: typeof base === 'string' ? base : base.name, data: resolve(options.data), checked, outcomes,
    best: best?.name, includeImages: options.includeImages ?? !study.privateImages, seed,
    backend: backendInfo(), wallSeconds: (performance.now() - t0) / 1000,
  });
  const wallSeconds = (performance.now() - t0) / 1000;
  log(`study ${study.name}: done in ${formatDuration(wallSeconds)}; report: ${written.indexPath}`);
  return { out, indexPath: written.indexPath, resultsPath: written.resultsPath, steps: outcomes, best: best?.name, skipped: checked.skipped, wallSeconds };
}

function fmtAcc(v: number | undefined): string {
  return typeof v === 'number' ? `${(v * 100).toFixed(1)} %` : '—';
}
