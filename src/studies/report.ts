/**
 * Turns a study's step records into the report (src/report): the table of
 * steps beside the book's numbers, curves, confusion matrices, wrong
 * images, augmented samples and the best model's Grad-CAM maps (only where
 * the study allows images), the machine, and the try-it page for the best
 * model.
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ImageDataGenerator } from '../augment/generator.js';
import { previewAugmentations } from '../augment/preview.js';
import type { BackendInfo } from '../backend/index.js';
import { decodeImage, scanImageFolder, type Interpolation } from '../data/index.js';
import { gradCam, overlayHeatmap } from '../report/grad-cam.js';
import { imageGrid } from '../report/grid.js';
import { writeReport, type ReportImage, type StepReport, type WrittenReport } from '../report/html.js';
import { machineInfo } from '../report/machine.js';
import { writeTryPage } from '../report/try.js';
import { loadModel } from '../train/saved-model.js';
import { formatDuration } from '../util/progress.js';
import type { DataCheckResult } from '../data/check.js';
import type { StudyStepOutcome } from './run-step.js';
import { profileSettings, type StudyDefinition, type StudyProfile } from './steps.js';
import { settingsLines, stepReportOf } from './step-report.js';

export interface StudyReportInput {
  out: string;
  study: StudyDefinition;
  profile: StudyProfile;
  base: string;
  /** The data folder as given. */
  data: string;
  checked: DataCheckResult;
  outcomes: StudyStepOutcome[];
  best?: string;
  includeImages: boolean;
  seed: number;
  backend?: BackendInfo;
  wallSeconds: number;
}

const pct = (v: number | undefined) => (typeof v === 'number' ? `${(v * 100).toFixed(1)} %` : '—');

/** Training vs validation accuracy at the last epoch: the overfitting gap. */
export function overfittingGap(history: { history: Record<string, number[]> }): { train: number; val: number; gap: number } | undefined {
  const acc = history.history.acc,
    val = history.history.val_acc;
  if (!acc?.length || !val?.length) return undefined;
  const train = acc[acc.length - 1]!,
    v = val[val.length - 1]!;
  return { train, val: v, gap: train - v };
}

/** Where an accuracy falls against the book's [low, high], compared as the report prints them (0.1 %). */
export function againstBook(accuracy: number, [low, high]: readonly [number, number]): 'above' | 'within' | 'below' {
  const permille = (v: number) => Math.round(v * 1000);
  return permille(accuracy) > permille(high) ? 'above' : permille(accuracy) < permille(low) ? 'below' : 'within';
}

/** One note placing each step's test accuracy against the book's range for that step, from the numbers of this run. */
function bookComparison(input: StudyReportInput): string | undefined {
  const range = ([low, high]: readonly [number, number]) => `${(low * 100).toFixed(1)}–${(high * 100).toFixed(1)} %`;
  const parts = input.outcomes.flatMap((o) => {
    const book = input.study.steps.find((s) => s.name === o.name)?.book;
    const accuracy = o.record.testAccuracy;
    return book && accuracy !== undefined ? [`${o.name} ${pct(accuracy)}, ${againstBook(accuracy, book)} the book's ${range(book)}`] : [];
  });
  return parts.length ? `Test accuracy against the book's: ${parts.join('; ')}.` : undefined;
}

/** Grad-CAM of the report's best model on the first few test images of each class, as captioned overlays. */
async function gradCamTiles(input: StudyReportInput, perClass = 3): Promise<ReportImage[]> {
  const testDir = join(input.checked.root, 'test');
  if (!existsSync(testDir) || !existsSync(join(input.out, 'model'))) return [];
  const { model, meta } = await loadModel(join(input.out, 'model'));
  try {
    const folder = await scanImageFolder(testDir);
    const files = folder.classNames.flatMap((c) => folder.files.filter((f) => f.className === c).slice(0, perClass));
    const [h, w] = meta.inputSize;
    const interpolation = (meta.preprocessing as { interpolation?: Interpolation } | undefined)?.interpolation ?? 'bilinear';
    const decoded = await Promise.all(files.map((f) => decodeImage(f.path, { targetSize: [h, w], interpolation })));
    const x = tf.tensor4d(Float32Array.from(decoded.flatMap((d) => Array.from(d.data))), [files.length, h, w, 3]);
    try {
      const cam = gradCam(model, x);
      return files.map((f, i) => ({
        image: overlayHeatmap(decoded[i]!.data, cam.heatmaps[i]!),
        width: w,
        height: h,
        channels: 3 as const,
        caption: `true ${f.className}\npred ${meta.classNames[cam.classIndex[i]!]} ${cam.probability[i]!.toFixed(2)}`,
      }));
    } finally {
      x.dispose();
    }
  } finally {
    model.dispose();
  }
}

async function augmentedSamples(input: StudyReportInput, stepName: string): Promise<Uint8Array | undefined> {
  const outcome = input.outcomes.find((o) => o.name === stepName);
  const aug = (outcome?.record.settings.augmentation ?? undefined) as Record<string, unknown> | undefined;
  if (!aug) return undefined;
  const gen = new ImageDataGenerator({ ...(aug as object), rescale: null } as ConstructorParameters<typeof ImageDataGenerator>[0]);
  const { tiles, columns } = await previewAugmentations(gen, {
    data: join(input.checked.root, 'train'),
    numImages: 1,
    count: 7,
    imageSize: 150,
    seed: input.seed,
  });
  return imageGrid(tiles, { columns });
}

export async function writeStudyReport(input: StudyReportInput): Promise<WrittenReport> {
  const { study, outcomes } = input;
  const notes: string[] = [...(study.notes ?? [])];
  const steps: StepReport[] = [];
  const augStep = outcomes.find((o) => o.name === 'augment' || o.name === 'features-augment')?.name;
  for (const o of outcomes) {
    const def = study.steps.find((s) => s.name === o.name)!;
    const r = o.record;
    const extra = settingsLines(r.settings, ['base', 'imageSize', 'inputSize', 'batchSize', 'learningRate', 'optimizer', 'variants', 'unfreezeFrom']);
    if (r.trainAccuracy !== undefined) extra['training accuracy (last epoch)'] = pct(r.trainAccuracy);
    if (o.status === 'reused') extra.run = `reused from an earlier run (finished ${r.finishedAt})`;
    const step: StepReport = { ...stepReportOf(o.name, def.description, r, extra), bookAccuracy: def.book };
    if (input.includeImages && r.wrong.length) {
      step.wrongImages = r.wrong.slice(0, 8).map((w) => ({ image: w.file, caption: `true ${w.trueClass}\npred ${w.predClass} ${w.probability.toFixed(2)}` }));
    }
    if (input.includeImages && o.name === augStep) {
      const grid = await augmentedSamples(input, o.name);
      if (grid) step.augmentedSamples = grid;
    }
    if (input.includeImages && o.name === input.best) {
      const cams = await gradCamTiles(input);
      if (cams.length) step.gradCam = cams;
    }
    steps.push(step);
  }

  const scratch = outcomes.find((o) => o.name === 'scratch');
  const gap = scratch ? overfittingGap(scratch.record.history) : undefined;
  if (gap) {
    notes.push(
      gap.gap > 0.05
        ? `Overfitting: after ${scratch!.record.epochs} epochs the scratch convnet is right on ${pct(gap.train)} of its training images but only ${pct(gap.val)} of the validation images — a gap of ${(gap.gap * 100).toFixed(1)} points (see its learning curves: training keeps improving while validation stalls). The later steps attack this gap.`
        : `The scratch convnet's training and validation accuracy stay within ${(Math.abs(gap.gap) * 100).toFixed(1)} points after ${scratch!.record.epochs} epochs (${pct(gap.train)} vs ${pct(gap.val)}); more epochs open the overfitting gap.`,
    );
  }
  if (input.profile === 'quick') {
    notes.push(
      `Profile quick: reduced settings so the whole study runs in minutes on a laptop-class CPU (${outcomes
        .map((o) => {
          const q = profileSettings('quick', o.name, study);
          return `${o.name}: ${q.epochs} epochs at ${q.imageSize} px`;
        })
        .join('; ')}); the ranking of the steps is the point. Use --profile book for the book's settings.`,
    );
  } else {
    notes.push(`Profile ${input.profile}: every step runs its recipe's ${input.profile} settings.`);
  }
  const comparison = bookComparison(input);
  if (comparison) notes.push(comparison);
  if (input.base !== 'vgg16' && outcomes.some((o) => o.name !== 'scratch' && o.name !== 'augment')) {
    notes.push(`The transfer steps use ${input.base} as the pretrained base (the book uses VGG16), so their numbers differ from the book's.`);
  }
  const reused = outcomes.filter((o) => o.status === 'reused').map((o) => o.name);
  if (reused.length) notes.push(`Reused from an earlier run: ${reused.join(', ')} (pass --force to redo).`);
  if (input.checked.skipped.length) {
    notes.push(`Left out ${input.checked.skipped.length} bad file(s) (--skip-bad): ${input.checked.skipped.map((s) => `${s.path} (${s.reason})`).join('; ')}.`);
  }
  if (input.best)
    notes.push(
      `The best model (${input.best}, chosen by validation accuracy, ties by validation loss; the test set only scores the steps) is in model/ (TF.js format); try.html runs it in the browser.`,
    );
  const stepsSeconds = outcomes.reduce((t, o) => t + o.record.wallSeconds, 0);
  notes.push(
    `Wall time of the steps: ${formatDuration(stepsSeconds)} in all (each step's own run, reused ones included); this run took ${formatDuration(input.wallSeconds)} with the image check and the report. Seed ${input.seed}.`,
  );

  const counts = input.checked.counts;
  const written = await writeReport(input.out, {
    title: study.title,
    dataset: { name: study.name, path: input.data, classNames: input.checked.classNames, counts },
    machine: machineInfo(input.backend),
    steps,
    notes,
  });
  if (input.best) await writeTryPage(input.out, { modelDir: 'model', title: `${study.title}: try the ${input.best} model` });
  return written;
}
