/**
 * Merged feature shards as the `features` recipe's features (`--features
 * DIR`): used only when they are the features this run would compute — same
 * base and weights, input size, preprocessing, classes, convkit version, and
 * the same files with the same bytes (sha256), wherever the data folder is
 * mounted now. Anything else is an error naming the difference; the base
 * never runs instead.
 */
import type * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { relative, resolve, sep } from 'node:path';
import type { Interpolation } from '../data/decode.js';
import type { ImageFile } from '../data/scan.js';
import type { SplitName } from '../data/splits.js';
import { ConvkitError } from '../util/errors.js';
import { Progress } from '../util/progress.js';
import { readFeatureSet, weightsDigest, type FeatureSet } from './feature-cache.js';
import { MERGED_FORMAT, convkitVersion, isProblem, mergedEntriesDir, mergedManifestPath, readJsonOf, type MergedManifest } from './shard-manifest.js';

/** A split of the run: its files in scan order, classes and label encoding (a DirectoryIterator is one). */
export interface RunSplit {
  readonly files: readonly ImageFile[];
  readonly classNames: readonly string[];
  readonly classMode: string;
}

export interface MergedFeaturesContext {
  /** The run's data folder. */
  data: string;
  baseName: string;
  /** The truncated base this run would extract with: its weights and shapes are compared, it is not run. */
  features: tf.LayersModel;
  interpolation: Interpolation;
  splits: Partial<Record<SplitName, RunSplit>>;
  silent?: boolean;
  signal?: AbortSignal;
}

const show = (dims: readonly unknown[]) => dims.join('×');

/** The merged features in `dir` for each split of the run, checked against it (see the module comment). */
export async function readMergedFeatures(dir: string, ctx: MergedFeaturesContext): Promise<Partial<Record<SplitName, FeatureSet>>> {
  const flag = `--features ${dir}`;
  const m = await readJsonOf<MergedManifest>(mergedManifestPath(dir), MERGED_FORMAT);
  if (m === undefined)
    throw new ConvkitError(
      `${flag} holds no merged features (${mergedManifestPath(dir)} is missing)`,
      `run "convkit features merge ${dir}" once every shard has finished`,
    );
  const malformed =
    !isProblem(m) &&
    (typeof m.settings?.preprocessing !== 'object' ||
      typeof m.splits !== 'object' ||
      m.splits === null ||
      Object.values(m.splits).some((e) => typeof e?.key !== 'string' || !Array.isArray(e.files)));
  if (isProblem(m) || malformed)
    throw new ConvkitError(
      `${mergedManifestPath(dir)} is damaged: ${isProblem(m) ? m.problem : 'it is malformed'}`,
      `run "convkit features merge ${dir}" again`,
    );
  checkSettings(m, ctx, flag);
  const wanted = Object.entries(ctx.splits).filter((e): e is [SplitName, RunSplit] => e[1] !== undefined);
  for (const split of Object.keys(m.splits) as SplitName[]) {
    if (!ctx.splits[split])
      throw new ConvkitError(`${flag} has a ${split} split that --data ${ctx.data} lacks`, 'use the data folder the features were extracted from');
  }
  const root = resolve(ctx.data);
  for (const [split, run] of wanted) {
    const entry = m.splits[split];
    if (!entry) throw new ConvkitError(`${flag} has no ${split} split, but --data ${ctx.data} has one`, 'extract and merge features of this data folder');
    if (entry.files.length !== run.files.length)
      throw new ConvkitError(
        `${flag} holds ${entry.files.length} ${split} images, --data ${ctx.data} ${run.files.length}`,
        'the data changed since the features were extracted: extract them again',
      );
    for (const [i, f] of run.files.entries()) {
      const rel = relative(root, f.path).split(sep).join('/');
      const r = entry.files[i]!;
      if (r.path !== rel || r.label !== f.label)
        throw new ConvkitError(
          `${split} image ${i} is ${rel} (class ${f.label}) in --data but ${r.path} (class ${r.label}) in ${flag}`,
          'the data changed since the features were extracted: extract them again',
        );
    }
  }
  await checkContents(wanted, m, ctx, flag);
  const sets: Partial<Record<SplitName, FeatureSet>> = {};
  for (const [split, run] of wanted) {
    const entry = m.splits[split]!;
    let damage = 'it is missing';
    const set = await readFeatureSet(mergedEntriesDir(dir), entry.key, (reason) => (damage = reason));
    if (!set || set.n !== entry.n)
      throw new ConvkitError(
        `the ${split} features in ${mergedEntriesDir(dir)} (${entry.key}) cannot be used: ${set ? 'its size differs from the manifest' : damage}`,
        `run "convkit features merge ${dir}" again`,
      );
    sets[split] = { ...set, files: run.files.map((f) => f.path) };
  }
  return sets;
}

function checkSettings(m: MergedManifest, ctx: MergedFeaturesContext, flag: string): void {
  const s = m.settings;
  const input = ctx.features.inputs[0]!.shape.slice(1);
  const refuse = (what: string, fix: string) => {
    throw new ConvkitError(`${flag} ${what}`, fix);
  };
  if (s.base !== ctx.baseName)
    refuse(`holds features of base ${s.base}; this run's base is ${ctx.baseName}`, `pass --base ${s.base}, or extract features with --base ${ctx.baseName}`);
  if (show(s.input) !== show(input))
    refuse(`was extracted at ${show(s.input.slice(0, 2))} px; this run reads images at ${show(input.slice(0, 2))}`, `pass --image-size ${s.input[0]}`);
  if (s.weights !== weightsDigest(ctx.features))
    refuse(
      `was extracted with other weights of ${s.base} than the ones loaded here`,
      'use the same pretrained files (CONVKIT_MODELS_DIR) as the extraction, or extract again',
    );
  if (show(s.output) !== show(ctx.features.outputs[0]!.shape.slice(1)))
    refuse(`holds features shaped ${show(s.output)}, the base gives ${show(ctx.features.outputs[0]!.shape.slice(1))}`, 'extract again');
  if (s.preprocessing.interpolation !== ctx.interpolation)
    refuse(
      `resized images with ${s.preprocessing.interpolation} interpolation; this run uses ${ctx.interpolation}`,
      'extract again with the run’s interpolation',
    );
  if (s.convkit !== convkitVersion()) refuse(`was made by convkit ${s.convkit}; this is ${convkitVersion()}`, 'extract the features again with this version');
  for (const run of Object.values(ctx.splits)) {
    if (run && (run.classNames.join('\n') !== s.classNames.join('\n') || run.classMode !== s.classMode))
      refuse(`has classes ${s.classNames.join(', ')} (${s.classMode}); --data has ${run.classNames.join(', ')} (${run.classMode})`, 'extract them again');
  }
}

/** Every file's size and sha256 equal what the features were extracted from. */
async function checkContents(wanted: [SplitName, RunSplit][], m: MergedManifest, ctx: MergedFeaturesContext, flag: string): Promise<void> {
  const total = wanted.reduce((a, [, r]) => a + r.files.length, 0);
  const progress = new Progress({ total, label: 'checking images against the features', unit: 'img', silent: ctx.silent });
  for (const [split, run] of wanted) {
    const records = m.splits[split]!.files;
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < run.files.length; i = next++) {
        ctx.signal?.throwIfAborted();
        const bytes = await fs.readFile(run.files[i]!.path);
        const r = records[i]!;
        if (bytes.byteLength !== r.size || createHash('sha256').update(bytes).digest('hex') !== r.sha256)
          throw new ConvkitError(
            `${run.files[i]!.path} is not the file ${flag} was extracted from (its bytes differ)`,
            'the data changed since the features were extracted: extract them again',
          );
        progress.tick();
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
  }
  progress.finish();
}
