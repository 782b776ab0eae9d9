/**
 * Decoded-image cache: each file is decoded and resized once, then served
 * from memory (keyed by path + decode options) on later epochs, and
 * optionally from a disk cache keyed by the file's content hash, so a new
 * process skips decoding too. Decoding runs a few files at a time: sharp is
 * multi-threaded per image, and more in flight only adds memory.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { ConvkitError } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { ensureDir } from '../util/output-guard.js';
import { decodeImage, readImageFile, type ColorMode, type DecodedImage, type Interpolation } from './decode.js';
import type { SkippedFile } from './scan.js';

export interface ResolvedDecodeOptions {
  targetSize: readonly [number, number];
  colorMode: ColorMode;
  interpolation: Interpolation;
}

export interface ImageCacheOptions {
  /** Folder for the on-disk cache; omitted keeps the cache in memory only. */
  cacheDir?: string;
  /** Files decoded at once (default 3). */
  concurrency?: number;
}

export interface CacheStats {
  decoded: number;
  memoryHits: number;
  diskHits: number;
  /** Pixel bytes held in memory. */
  bytes: number;
}

const MAGIC = 0x58504b43; // "CKPX"
// In the disk entries' names, raised when decoding changes what a file gives
// (2: decoder warnings fail the file), so older entries are not served.
const DECODE_VERSION = 2;
const HEADER = 16;

function optionsKey(o: ResolvedDecodeOptions): string {
  return `${o.targetSize[0]}x${o.targetSize[1]}-${o.colorMode}-${o.interpolation}`;
}

/** A counting semaphore: at most `limit` tasks run at once. */
class Limiter {
  private active = 0;
  private readonly queue: (() => void)[] = [];
  constructor(private readonly limit: number) {}
  async run<T>(task: () => Promise<T>): Promise<T> {
    // A finishing task hands its slot straight to the next waiter.
    if (this.active >= this.limit) await new Promise<void>((r) => this.queue.push(r));
    else this.active++;
    try {
      return await task();
    } finally {
      const next = this.queue.shift();
      if (next) next();
      else this.active--;
    }
  }
}

export class ImageCache {
  readonly cacheDir?: string;
  private readonly memory = new Map<string, DecodedImage>();
  private readonly pending = new Map<string, Promise<DecodedImage>>();
  private readonly limiter: Limiter;
  private readonly counts = { decoded: 0, memoryHits: 0, diskHits: 0, bytes: 0 };
  private dirReady?: Promise<void>;

  constructor(options: ImageCacheOptions = {}) {
    this.cacheDir = options.cacheDir;
    const c = options.concurrency ?? 3;
    if (!Number.isInteger(c) || c < 1) throw new ConvkitError(`invalid concurrency: ${JSON.stringify(c)}`, 'concurrency must be an integer ≥ 1');
    this.limiter = new Limiter(c);
  }

  get stats(): CacheStats {
    return { ...this.counts };
  }

  /** Whether `path` is already decoded in memory for `options`. */
  has(path: string, options: ResolvedDecodeOptions): boolean {
    return this.memory.has(`${optionsKey(options)}\0${path}`);
  }

  /** The decoded, resized pixels of `path`; throws a ConvkitError naming the file if it cannot be decoded. */
  get(path: string, options: ResolvedDecodeOptions): Promise<DecodedImage> {
    const key = `${optionsKey(options)}\0${path}`;
    const hit = this.memory.get(key);
    if (hit) {
      this.counts.memoryHits++;
      return Promise.resolve(hit);
    }
    let p = this.pending.get(key);
    if (!p) {
      p = this.limiter
        .run(() => this.load(path, options))
        .then(
          (img) => {
            this.memory.set(key, img);
            this.counts.bytes += img.data.byteLength;
            this.pending.delete(key);
            return img;
          },
          (err: unknown) => {
            this.pending.delete(key);
            throw err;
          },
        );
      // A prefetch nobody awaits yet must not become an unhandled rejection.
      p.catch(() => undefined);
      this.pending.set(key, p);
    }
    return p;
  }

  /** Decodes all `paths` (a few at a time); each result is the image or the error it raised. */
  async getMany(paths: readonly string[], options: ResolvedDecodeOptions): Promise<(DecodedImage | ConvkitError)[]> {
    return Promise.all(
      paths.map((p) =>
        this.get(p, options).catch((err: unknown) => {
          if (err instanceof ConvkitError) return err;
          throw err;
        }),
      ),
    );
  }

  /** Drops the in-memory pixels (the disk cache stays). */
  clear(): void {
    this.memory.clear();
    this.counts.bytes = 0;
  }

  private async load(path: string, options: ResolvedDecodeOptions): Promise<DecodedImage> {
    if (!this.cacheDir) {
      this.counts.decoded++;
      return decodeImage(path, options, path);
    }
    const buf = await readImageFile(path);
    const hash = createHash('sha256').update(buf).digest('hex').slice(0, 40);
    const file = join(this.cacheDir, `${hash}-${buf.length}-${optionsKey(options)}-v${DECODE_VERSION}.px`);
    const cached = await readCached(file, options);
    if (cached) {
      this.counts.diskHits++;
      return cached;
    }
    this.counts.decoded++;
    const img = await decodeImage(buf, options, path);
    await (this.dirReady ??= this.prepareDir());
    const out = new Uint8Array(HEADER + img.data.length);
    const view = new DataView(out.buffer);
    view.setUint32(0, MAGIC, true);
    view.setUint32(4, img.height, true);
    view.setUint32(8, img.width, true);
    view.setUint32(12, img.channels, true);
    out.set(img.data, HEADER);
    try {
      await writeFileAtomic(file, out);
    } catch (err) {
      // Another cache writing the same entry at the same moment is fine.
      if (
        await fs.stat(file).then(
          () => true,
          () => false,
        )
      )
        return img;
      throw new ConvkitError(
        `cannot write to cache folder ${this.cacheDir}: ${(err as Error).message}`,
        'pass a writable cacheDir / --cache-dir, or none to cache in memory only',
      );
    }
    return img;
  }

  private async prepareDir(): Promise<void> {
    const dir = this.cacheDir!;
    try {
      await ensureDir(dir);
    } catch (err) {
      throw new ConvkitError(
        `cannot create cache folder ${dir}: ${(err as Error).message}`,
        'pass a writable cacheDir / --cache-dir, or none to cache in memory only',
      );
    }
  }
}

/** Reads a cache entry; a missing, short or foreign file counts as a miss. */
async function readCached(file: string, options: ResolvedDecodeOptions): Promise<DecodedImage | undefined> {
  let buf: Buffer;
  try {
    buf = await fs.readFile(file);
  } catch {
    return undefined;
  }
  if (buf.length < HEADER) return undefined;
  const view = new DataView(buf.buffer, buf.byteOffset, HEADER);
  const height = view.getUint32(4, true),
    width = view.getUint32(8, true),
    channels = view.getUint32(12, true);
  const expectChannels = options.colorMode === 'grayscale' ? 1 : 3;
  if (view.getUint32(0, true) !== MAGIC || channels !== expectChannels || height !== options.targetSize[0] || width !== options.targetSize[1]) return undefined;
  if (buf.length !== HEADER + height * width * channels) return undefined;
  return { data: new Uint8Array(buf.buffer, buf.byteOffset + HEADER, buf.length - HEADER), height, width, channels: channels as 1 | 3 };
}

/**
 * Decodes `paths` (a few at a time, nothing kept) into one float32
 * [n, h, w, c] buffer of the files that decode, in order; a file that fails
 * goes to `onBad`, or throws its error when there is none.
 */
export async function decodeBatch(
  paths: readonly string[],
  options: ResolvedDecodeOptions,
  onBad?: (file: SkippedFile) => void,
): Promise<{ files: string[]; pixels: Float32Array }> {
  const decoded = await new ImageCache().getMany(paths, options);
  const files: string[] = [],
    images: DecodedImage[] = [];
  decoded.forEach((r, i) => {
    if (!(r instanceof ConvkitError)) {
      files.push(paths[i]!);
      images.push(r);
    } else if (onBad) onBad({ path: paths[i]!, reason: r.message.split('\n')[0]! });
    else throw r;
  });
  const size = options.targetSize[0] * options.targetSize[1] * (options.colorMode === 'grayscale' ? 1 : 3);
  const pixels = new Float32Array(images.length * size);
  images.forEach((im, i) => pixels.set(im.data, i * size));
  return { files, pixels };
}
