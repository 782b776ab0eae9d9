/**
 * Batches from a class-folder tree, with Keras `flow_from_directory`
 * semantics: an endless, per-epoch reshuffled stream of (x, y) batches,
 * decoded once and served from the cache afterwards, with an optional
 * per-batch transform (augmentation) driven by the iterator's seeded Rng.
 */
import * as tf from '@tensorflow/tfjs';
import { ConvkitError, check } from '../util/errors.js';
import { listNames } from '../util/list-names.js';
import { createRng, type Rng } from '../util/rng.js';
import { Progress } from '../util/progress.js';
import { ImageCache, type ResolvedDecodeOptions } from './cache.js';
import type { ColorMode, DecodedImage, Interpolation } from './decode.js';
import { scanImageFolder, type ImageFile, type ImageFolder, type SkippedFile } from './scan.js';
import { epochDataset } from './epoch-dataset.js';

export type ClassMode = 'binary' | 'categorical' | 'sparse' | 'none';

/** A per-batch transform (e.g. augmentation): receives the batch and the iterator's Rng; returns the new batch. */
export type BatchTransform = (x: tf.Tensor4D, rng: Rng) => tf.Tensor4D;

export interface Batch {
  /** float32 [b, h, w, c], pixel values 0..255 unless the transform changes them. */
  x: tf.Tensor4D;
  /** binary: float [b,1] 0/1; categorical: one-hot float [b,n]; sparse: float [b]; none: undefined. */
  y?: tf.Tensor;
  files: ImageFile[];
}

export interface DirectoryIteratorOptions {
  /** [height, width] every image is resized to (default [256, 256], as Keras). */
  targetSize?: readonly [number, number];
  colorMode?: ColorMode;
  classMode?: ClassMode;
  batchSize?: number;
  /** Reshuffle the files every epoch (default true). */
  shuffle?: boolean;
  /** Seed for the shuffles and the transform's Rng (default 42): same seed, same batches. */
  seed?: number;
  /** Resize filter (default 'bilinear', as image_dataset_from_directory). */
  interpolation?: Interpolation;
  /** Disk cache of decoded pixels, reused across runs. */
  cacheDir?: string;
  /** Skip (and list in `skipped`) non-image, unreadable, damaged or tiny files, dangling links and link loops instead of failing. */
  skipBad?: boolean;
  transform?: BatchTransform;
  /** Share one cache between iterators (default: a new in-memory cache, with `cacheDir` if given). */
  cache?: ImageCache;
  /** Files decoded at once (default 3). */
  concurrency?: number;
  /** Fraction of each class's files held out for `subset: 'validation'` (Keras's ImageDataGenerator validation_split). */
  validationSplit?: number;
  /** With validationSplit: 'validation' reads the first part of each class's sorted files, 'training' the rest (as Keras). */
  subset?: 'training' | 'validation';
}

const CLASS_MODES: readonly ClassMode[] = ['binary', 'categorical', 'sparse', 'none'];
const COLOR_MODES: readonly ColorMode[] = ['rgb', 'grayscale'];
const INTERPOLATIONS: readonly Interpolation[] = ['nearest', 'bilinear', 'bicubic', 'area'];

const isPosInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1;

export class DirectoryIterator implements AsyncIterable<Batch> {
  readonly root: string;
  readonly classNames: string[];
  readonly classIndices: Record<string, number>;
  readonly batchSize: number;
  readonly classMode: ClassMode;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly decodeOptions: ResolvedDecodeOptions;
  /** Files left out: by the scan, and (with skipBad) those that failed to decode. */
  readonly skipped: SkippedFile[];
  readonly cache: ImageCache;
  private readonly transform?: BatchTransform;
  private readonly skipBad: boolean;
  private readonly shuffleRng: Rng;
  private readonly transformRng: Rng;
  private fileList: ImageFile[];
  private readonly bad = new Set<string>();
  private order: ImageFile[];
  private nextOrder?: ImageFile[];
  private pos = 0;
  private epochs = 0;

  constructor(folder: ImageFolder, options: DirectoryIteratorOptions = {}) {
    const {
      targetSize = [256, 256],
      colorMode = 'rgb',
      classMode = 'categorical',
      batchSize = 32,
      shuffle = true,
      seed = 42,
      interpolation = 'bilinear',
      skipBad = false,
    } = options;
    check(
      Array.isArray(targetSize) && targetSize.length === 2 && targetSize.every(isPosInt),
      'targetSize',
      targetSize,
      'two integers [height, width], each ≥ 1',
    );
    check(COLOR_MODES.includes(colorMode), 'colorMode', colorMode, `one of ${COLOR_MODES.join(', ')}`);
    check(CLASS_MODES.includes(classMode), 'classMode', classMode, `one of ${CLASS_MODES.join(', ')}`);
    check(isPosInt(batchSize), 'batchSize', batchSize, 'an integer ≥ 1');
    check(INTERPOLATIONS.includes(interpolation), 'interpolation', interpolation, `one of ${INTERPOLATIONS.join(', ')}`);
    check(Number.isInteger(seed), 'seed', seed, 'an integer');
    if (classMode === 'binary' && folder.classNames.length !== 2) {
      throw new ConvkitError(
        `classMode "binary" needs exactly 2 classes, but ${folder.root} has ${folder.classNames.length} (${listNames(folder.classNames)})`,
        'use classMode "categorical" or "sparse" for more than two classes',
      );
    }
    this.root = folder.root;
    this.classNames = [...folder.classNames];
    // No prototype: a look-up of any folder name ("constructor", "__proto__") finds only classes.
    this.classIndices = Object.assign(Object.create(null) as Record<string, number>, Object.fromEntries(this.classNames.map((name, i) => [name, i])));
    this.batchSize = batchSize;
    this.classMode = classMode;
    this.shuffle = shuffle;
    this.seed = seed;
    this.decodeOptions = { targetSize: [targetSize[0], targetSize[1]], colorMode, interpolation };
    this.skipped = [...folder.skipped];
    this.skipBad = skipBad;
    this.transform = options.transform;
    this.cache = options.cache ?? new ImageCache({ cacheDir: options.cacheDir, concurrency: options.concurrency });
    const rng = createRng(seed);
    this.shuffleRng = rng.fork();
    this.transformRng = rng.fork();
    this.fileList = subsetOf(folder.files, options.validationSplit, options.subset);
    this.order = this.makeOrder();
  }

  /** Number of (readable) files. */
  get n(): number {
    return this.fileList.length;
  }

  get stepsPerEpoch(): number {
    return Math.ceil(this.n / this.batchSize);
  }

  /** Files in scan order (class by class, names sorted). */
  get files(): readonly ImageFile[] {
    return this.fileList;
  }

  /** Class index of each file, in `files` order. */
  get labels(): number[] {
    return this.fileList.map((f) => f.label);
  }

  /** Epochs started so far. */
  get epochIndex(): number {
    return this.epochs;
  }

  /** Image shape of one example: [h, w, c]. */
  get imageShape(): [number, number, number] {
    const [h, w] = this.decodeOptions.targetSize;
    return [h, w, this.decodeOptions.colorMode === 'grayscale' ? 1 : 3];
  }

  /** The next batch of an endless stream (Keras style); a new, reshuffled epoch starts after the last batch. */
  async nextBatch(): Promise<Batch> {
    for (;;) {
      if (this.pos >= this.order.length) this.startEpoch();
      const batch = await this.take();
      if (batch) return batch;
    }
  }

  /** The rest of the current epoch (a whole fresh epoch when the last one is finished). */
  async *epoch(): AsyncGenerator<Batch> {
    if (this.pos >= this.order.length) this.startEpoch();
    while (this.pos < this.order.length) {
      const batch = await this.take();
      if (batch) yield batch;
    }
  }

  /** Endless batches, like `nextBatch()` in a loop. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Batch> {
    for (;;) yield await this.nextBatch();
  }

  /** Ends the current epoch: the next batch is the first of a new, reshuffled epoch. */
  reset(): void {
    this.pos = this.order.length;
  }

  /** Whether batches of the current epoch have been taken. */
  get epochStarted(): boolean {
    return this.pos > 0;
  }

  /**
   * A tf.data.Dataset of `{xs, ys}` for `model.fitDataset`: each iteration
   * (each training epoch) is one full, reshuffled pass over the files.
   */
  toDataset(): tf.data.Dataset<{ xs: tf.Tensor4D; ys?: tf.Tensor }> {
    return epochDataset(this);
  }

  /** The whole set in `files` order as two tensors (no transform applied); `y` follows classMode. */
  async loadAll(options: { progress?: boolean } = {}): Promise<{ x: tf.Tensor4D; y?: tf.Tensor; files: ImageFile[] }> {
    const progress = new Progress({ total: this.n, label: 'decoding', unit: 'img', silent: !options.progress });
    const images: (DecodedImage | undefined)[] = [];
    const files = [...this.fileList];
    // In chunks, so the progress line moves and errors surface early.
    for (let i = 0; i < files.length; i += 64) {
      const chunk = files.slice(i, i + 64);
      images.push(...(await this.decodeFiles(chunk)));
      progress.tick(chunk.length);
    }
    progress.finish();
    const kept = files.filter((_, i) => images[i] !== undefined);
    const { x, y } = this.toTensors(
      images.filter((im): im is DecodedImage => im !== undefined),
      kept,
    );
    return { x, y, files: kept };
  }

  /** Drops the decoded pixels held in memory. */
  dispose(): void {
    this.cache.clear();
  }

  private makeOrder(): ImageFile[] {
    const files = this.fileList.filter((f) => !this.bad.has(f.path));
    return this.shuffle ? this.shuffleRng.shuffle(files) : files;
  }

  private startEpoch(): void {
    this.order = this.nextOrder ?? this.makeOrder();
    this.nextOrder = undefined;
    this.pos = 0;
    this.epochs++;
    if (this.order.length === 0) {
      throw new ConvkitError(`no readable images left in ${this.root}`, 'check the files listed as skipped');
    }
  }

  /** Takes the next slice of the current epoch; undefined when every file of it was bad (skipBad). */
  private async take(): Promise<Batch | undefined> {
    if (this.epochs === 0) this.epochs = 1;
    const slice = this.order.slice(this.pos, this.pos + this.batchSize);
    this.pos += slice.length;
    const pending = this.decodeFiles(slice);
    this.prefetch();
    const images = await pending;
    const files = slice.filter((_, i) => images[i] !== undefined);
    if (files.length === 0) return undefined;
    const { x, y } = this.toTensors(
      images.filter((im): im is DecodedImage => im !== undefined),
      files,
    );
    if (!this.transform) return { x, y, files };
    const transform = this.transform,
      rng = this.transformRng;
    let out: tf.Tensor4D;
    try {
      out = tf.tidy(() => transform(x, rng));
    } catch (err) {
      x.dispose();
      y?.dispose();
      throw err;
    }
    if (out !== x) x.dispose();
    return { x: out, y, files };
  }

  /** Starts decoding the next batch while the current one is used. */
  private prefetch(): void {
    let next: ImageFile[];
    if (this.pos < this.order.length) next = this.order.slice(this.pos, this.pos + this.batchSize);
    else {
      this.nextOrder ??= this.makeOrder();
      next = this.nextOrder.slice(0, this.batchSize);
    }
    for (const f of next) if (!this.bad.has(f.path)) void this.cache.get(f.path, this.decodeOptions).catch(() => undefined);
  }

  /** Decodes files; with skipBad a failing file yields undefined and is recorded, otherwise its error is thrown. */
  private async decodeFiles(files: readonly ImageFile[]): Promise<(DecodedImage | undefined)[]> {
    const todo = files.filter((f) => !this.bad.has(f.path));
    const decoded = await this.cache.getMany(
      todo.map((f) => f.path),
      this.decodeOptions,
    );
    const byPath = new Map(todo.map((f, i) => [f.path, decoded[i]!]));
    return files.map((file) => {
      const r = byPath.get(file.path);
      if (r === undefined) return undefined;
      if (!(r instanceof ConvkitError)) return r;
      if (!this.skipBad) throw r;
      this.bad.add(file.path);
      this.skipped.push({ path: file.path, reason: r.message.split('\n')[0]! });
      this.fileList = this.fileList.filter((f) => f.path !== file.path);
      return undefined;
    });
  }

  private toTensors(images: readonly DecodedImage[], files: readonly ImageFile[]): { x: tf.Tensor4D; y?: tf.Tensor } {
    const [h, w, c] = this.imageShape;
    const size = h * w * c;
    const data = new Float32Array(images.length * size);
    images.forEach((im, i) => data.set(im.data, i * size));
    const x = tf.tensor4d(data, [images.length, h, w, c], 'float32');
    const b = files.length,
      n = this.classNames.length;
    switch (this.classMode) {
      case 'none':
        return { x };
      case 'binary':
        return {
          x,
          y: tf.tensor2d(
            files.map((f) => f.label),
            [b, 1],
            'float32',
          ),
        };
      case 'sparse':
        return {
          x,
          y: tf.tensor1d(
            files.map((f) => f.label),
            'float32',
          ),
        };
      case 'categorical': {
        const onehot = new Float32Array(b * n);
        files.forEach((f, i) => (onehot[i * n + f.label] = 1));
        return { x, y: tf.tensor2d(onehot, [b, n], 'float32') };
      }
    }
  }
}

/**
 * The files of a subset: per class (files in scan order), the first
 * ⌊split·n⌋ are 'validation' and the rest 'training', as Keras splits a
 * folder, so the two subsets never share a file and each keeps every class.
 */
function subsetOf(files: readonly ImageFile[], split: number | undefined, subset: 'training' | 'validation' | undefined): ImageFile[] {
  if (split === undefined && subset === undefined) return [...files];
  check(typeof split === 'number' && split > 0 && split < 1, 'validationSplit', split, 'a fraction between 0 and 1 (with subset)');
  check(subset === 'training' || subset === 'validation', 'subset', subset, '"training" or "validation" (with validationSplit)');
  const byClass = new Map<number, ImageFile[]>();
  for (const f of files) (byClass.get(f.label) ?? byClass.set(f.label, []).get(f.label)!).push(f);
  const kept = new Set<ImageFile>();
  for (const members of byClass.values()) {
    const cut = Math.floor(split * members.length);
    for (const f of subset === 'validation' ? members.slice(0, cut) : members.slice(cut)) kept.add(f);
  }
  return files.filter((f) => kept.has(f));
}

/** Scans `root` (one sub-folder per class) and returns a batch iterator over it. */
export async function flowFromDirectory(root: string, options: DirectoryIteratorOptions = {}): Promise<DirectoryIterator> {
  const folder = await scanImageFolder(root, { skipBad: options.skipBad });
  return new DirectoryIterator(folder, options);
}

export type LoadImageFolderOptions = Omit<DirectoryIteratorOptions, 'batchSize' | 'shuffle' | 'transform'> & {
  /** Print a progress line while decoding. */
  progress?: boolean;
};

/** Decodes a whole class-folder tree into memory: x [n,h,w,c] float 0..255, y per classMode, in scan order. */
export async function loadImageFolder(
  root: string,
  options: LoadImageFolderOptions = {},
): Promise<{ x: tf.Tensor4D; y?: tf.Tensor; classNames: string[]; files: ImageFile[]; skipped: SkippedFile[] }> {
  const it = await flowFromDirectory(root, { ...options, shuffle: false });
  try {
    const { x, y, files } = await it.loadAll({ progress: options.progress });
    return { x, y, classNames: it.classNames, files, skipped: it.skipped };
  } finally {
    if (!options.cache) it.dispose();
  }
}
