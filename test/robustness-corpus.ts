/**
 * The robustness corpus: bad input built on the fly in a temporary folder,
 * the way careless users, full disks and a second process produce it —
 * damaged and misnamed image files, odd folder entries, odd data layouts
 * and damaged model folders. Every builder is deterministic.
 */
import sharp from 'sharp';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { crc32, deflateSync } from 'node:zlib';
import { promises as fs } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createRng } from '../src/util/rng.js';
import { syntheticImage } from './train-synthetic.js';

/** A valid JPEG big enough (noisy 64×64) that a damaged middle lands in its entropy-coded data. */
export async function goodJpeg(label = 0, size = 64, seed = 5): Promise<Buffer> {
  const px = syntheticImage(label, size, createRng(seed));
  return sharp(Buffer.from(px), { raw: { width: size, height: size, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
}

/** `bytes` with `n` seeded random bytes written over its middle (seed 1 makes libjpeg report a bad Huffman code). */
export function garble(bytes: Buffer, n = 200, seed = 1): Buffer {
  const rng = createRng(seed);
  const out = Buffer.from(bytes);
  const start = Math.floor(out.length / 2) - Math.floor(n / 2);
  for (let i = 0; i < n; i++) out[start + i] = Math.floor(rng.uniform(0, 256));
  return out;
}

/** A real 2×2 24-bit BMP (a format convkit does not read). */
function bmpBytes(): Buffer {
  const rowBytes = 8; // 2 px × 3 bytes, padded to 4
  const pixels = rowBytes * 2;
  const b = Buffer.alloc(54 + pixels);
  b.write('BM', 0, 'ascii');
  b.writeUInt32LE(b.length, 2);
  b.writeUInt32LE(54, 10);
  b.writeUInt32LE(40, 14);
  b.writeInt32LE(2, 18);
  b.writeInt32LE(2, 22);
  b.writeUInt16LE(1, 26);
  b.writeUInt16LE(24, 28);
  b.writeUInt32LE(pixels, 34);
  b.fill(0x80, 54);
  return b;
}

/** The start of an HEIC file (an ISO-BMFF "ftyp heic" box and nothing decodable). */
function heicBytes(): Buffer {
  const b = Buffer.alloc(64);
  b.writeUInt32BE(24, 0);
  b.write('ftypheic', 4, 'ascii');
  b.write('mif1heic', 16, 'ascii');
  return b;
}

/** A PNG whose header claims `side`×`side` px over a few bytes of pixel data (a decompression bomb's header). */
function hugePngBytes(side = 100_000): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(64))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A good image's bytes in another format or colour layout. */
async function goodPng(options: { grayscale?: boolean } = {}): Promise<Buffer> {
  const img = sharp(await goodJpeg(1, 32, 9));
  return (options.grayscale ? img.grayscale() : img).png().toBuffer();
}

export interface BadEntry {
  /** Corpus name, used in test names. */
  name: string;
  /** The entry's file name in its folder: what an error must name. */
  file: string;
  /** Builds the entry in `dir`. */
  make(dir: string): Promise<void>;
  /** 'error': the entry must be refused (naming it); 'ok': it must be read or ignored without complaint. */
  outcome: 'error' | 'ok';
  /** Images an 'ok' entry adds to its class (0: ignored). */
  adds?: number;
}

/** Bad image-folder entries: every one is something a photo folder really ends up holding. */
export const BAD_ENTRIES: readonly BadEntry[] = [
  { name: 'zero-byte .jpg', file: 'zero.jpg', outcome: 'error', make: (d) => fs.writeFile(join(d, 'zero.jpg'), '') },
  { name: 'text file named .jpg', file: 'notes.jpg', outcome: 'error', make: (d) => fs.writeFile(join(d, 'notes.jpg'), 'shopping list: milk, eggs\n') },
  {
    name: 'truncated JPEG',
    file: 'truncated.jpg',
    outcome: 'error',
    make: async (d) => {
      const j = await goodJpeg();
      await fs.writeFile(join(d, 'truncated.jpg'), j.subarray(0, j.length >> 1));
    },
  },
  {
    name: 'JPEG with 200 garbage bytes mid-file',
    file: 'garbled.jpg',
    outcome: 'error',
    make: async (d) => fs.writeFile(join(d, 'garbled.jpg'), garble(await goodJpeg())),
  },
  {
    name: '1×1 px image',
    file: 'dot.png',
    outcome: 'error',
    make: async (d) => {
      await sharp({ create: { width: 1, height: 1, channels: 3, background: '#808080' } })
        .png()
        .toFile(join(d, 'dot.png'));
    },
  },
  {
    name: '.svg in a class folder',
    file: 'vector.svg',
    outcome: 'error',
    make: (d) =>
      fs.writeFile(join(d, 'vector.svg'), '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8" fill="red"/></svg>\n'),
  },
  { name: '.bmp in a class folder', file: 'bitmap.bmp', outcome: 'error', make: (d) => fs.writeFile(join(d, 'bitmap.bmp'), bmpBytes()) },
  { name: '.heic in a class folder', file: 'phone.heic', outcome: 'error', make: (d) => fs.writeFile(join(d, 'phone.heic'), heicBytes()) },
  { name: 'dangling symlink', file: 'gone.jpg', outcome: 'error', make: (d) => fs.symlink('deleted-long-ago.jpg', join(d, 'gone.jpg')) },
  { name: 'symlink loop (loop.jpg -> .)', file: 'loop.jpg', outcome: 'error', make: (d) => fs.symlink('.', join(d, 'loop.jpg')) },
  { name: 'PNG header claiming 100000×100000 px', file: 'bomb.png', outcome: 'error', make: (d) => fs.writeFile(join(d, 'bomb.png'), hugePngBytes()) },
  // A pipe would block a plain read forever.
  {
    name: 'named pipe called pipe.jpg',
    file: 'pipe.jpg',
    outcome: 'error',
    make: async (d) => {
      execFileSync('mkfifo', [join(d, 'pipe.jpg')]);
    },
  },
  // A folder is a nested folder of the class whatever its name: read (here: empty), never decoded.
  { name: 'directory named x.jpg', file: 'x.jpg', outcome: 'ok', adds: 0, make: (d) => fs.mkdir(join(d, 'x.jpg')) },
  { name: 'upper-case extension SHOUT.PNG', file: 'SHOUT.PNG', outcome: 'ok', adds: 1, make: async (d) => fs.writeFile(join(d, 'SHOUT.PNG'), await goodPng()) },
  {
    name: 'PNG data in a file named .jpg',
    file: 'really-a-png.jpg',
    outcome: 'ok',
    adds: 1,
    make: async (d) => fs.writeFile(join(d, 'really-a-png.jpg'), await goodPng()),
  },
  { name: 'grayscale PNG', file: 'gray.png', outcome: 'ok', adds: 1, make: async (d) => fs.writeFile(join(d, 'gray.png'), await goodPng({ grayscale: true })) },
  {
    name: 'OS litter (.DS_Store, Thumbs.db)',
    file: '.DS_Store',
    outcome: 'ok',
    adds: 0,
    make: async (d) => {
      await fs.writeFile(join(d, '.DS_Store'), Buffer.alloc(64, 1));
      await fs.writeFile(join(d, 'Thumbs.db'), Buffer.alloc(64, 2));
    },
  },
];

/** Moves the first half of `dir`'s images into `dir/sub/deeper` (nested folders of a class belong to it). */
export async function nestHalf(dir: string): Promise<number> {
  const files = (await fs.readdir(dir)).filter((f) => f.endsWith('.png')).sort();
  const moved = files.slice(0, Math.ceil(files.length / 2));
  const sub = join(dir, 'sub', 'deeper');
  await fs.mkdir(sub, { recursive: true });
  for (const f of moved) await fs.rename(join(dir, f), join(sub, f));
  return moved.length;
}

/** Moves class folder `dir` to `elsewhere` and leaves a symbolic link in its place. */
export async function symlinkClass(dir: string, elsewhere: string): Promise<void> {
  await fs.mkdir(dirname(elsewhere), { recursive: true });
  await fs.rename(dir, elsewhere);
  await fs.symlink(elsewhere, dir);
}

/** Renames class folder `from` to `to` in every split under `root` that has it. */
export async function renameClass(root: string, from: string, to: string): Promise<void> {
  for (const split of await fs.readdir(root)) {
    const src = join(root, split, from);
    if (
      await fs.stat(src).then(
        (s) => s.isDirectory(),
        () => false,
      )
    )
      await fs.rename(src, join(root, split, to));
  }
}

/** Number of image files below `dir` (links followed, as the scan does). */
export async function countImages(dir: string): Promise<number> {
  let n = 0;
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    const st = await fs.stat(p).catch(() => undefined);
    if (st?.isDirectory()) n += await countImages(p);
    else if (st?.isFile() && /\.(png|jpe?g)$/i.test(e.name)) n++;
  }
  return n;
}

// ---- model folders ----

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await fs.readFile(path, 'utf8')) as Record<string, unknown>;
}

async function writeJson(path: string, value: unknown): Promise<void> {
  await fs.writeFile(path, JSON.stringify(value, null, 2));
}

/** Edits convkit.json of model folder `dir`. */
export async function editMeta(dir: string, edit: (meta: Record<string, unknown>) => void): Promise<void> {
  const path = join(dir, 'convkit.json');
  const meta = await readJson(path);
  edit(meta);
  await writeJson(path, meta);
}

/** Edits model.json of model folder `dir`. */
async function editModelJson(dir: string, edit: (json: Record<string, unknown>) => void): Promise<void> {
  const path = join(dir, 'model.json');
  const json = await readJson(path);
  edit(json);
  await writeJson(path, json);
}

/** Rewrites weights.bin with `edit` applied; `rehash` records its new sha256 in convkit.json (so only the content check can catch it). */
async function editWeights(dir: string, edit: (bytes: Buffer) => void, rehash: boolean): Promise<void> {
  const path = join(dir, 'weights.bin');
  const bytes = await fs.readFile(path);
  edit(bytes);
  await fs.writeFile(path, bytes);
  if (rehash)
    await editMeta(dir, (m) => {
      m.weightsSha256 = { 'weights.bin': sha256Hex(bytes) };
    });
}

export interface ModelDamage {
  name: string;
  /** Damages the (copied) model folder `dir`. */
  make(dir: string): Promise<void>;
  /** What the one-line error must say (it names the file at fault). */
  error: RegExp;
}

/** Damaged or mismatched model folders, each the result of a bad copy, a hand edit or a hostile download. */
export const MODEL_DAMAGE: readonly ModelDamage[] = [
  { name: 'model.json of null', make: (d) => fs.writeFile(join(d, 'model.json'), 'null'), error: /model\.json/ },
  { name: 'model.json not JSON', make: (d) => fs.writeFile(join(d, 'model.json'), '{"modelTopology": {"class_name": "Sequ'), error: /model\.json.*JSON/ },
  {
    name: 'unknown layer class',
    make: (d) =>
      editModelJson(d, (j) => {
        const text = JSON.stringify(j.modelTopology).replace(/"class_name":"Conv2D"/, '"class_name":"FancyConv"');
        j.modelTopology = JSON.parse(text) as unknown;
      }),
    error: /FancyConv/,
  },
  { name: 'missing weights.bin', make: (d) => fs.rm(join(d, 'weights.bin')), error: /weights\.bin/ },
  {
    name: 'truncated weights.bin',
    make: async (d) => {
      const b = await fs.readFile(join(d, 'weights.bin'));
      await fs.writeFile(join(d, 'weights.bin'), b.subarray(0, b.length - 100));
    },
    error: /weights\.bin/,
  },
  {
    name: 'weights.bin a directory',
    make: async (d) => {
      await fs.rm(join(d, 'weights.bin'));
      await fs.mkdir(join(d, 'weights.bin'));
    },
    error: /weights\.bin/,
  },
  {
    name: 'NaN weights (hash recorded for them)',
    make: (d) => editWeights(d, (b) => b.writeFloatLE(Number.NaN, 0), true),
    error: /NaN/,
  },
  {
    name: 'edited weight bytes of equal size (hash mismatch)',
    make: (d) =>
      editWeights(
        d,
        (b) => {
          // Swap two weights: every size check still passes.
          const a = b.readFloatLE(0),
            c = b.readFloatLE(4);
          b.writeFloatLE(c === a ? a + 1 : c, 0);
          b.writeFloatLE(a, 4);
        },
        false,
      ),
    error: /weights\.bin.*(sha256|hash)|(sha256|hash).*weights\.bin/,
  },
  {
    name: 'shard path ../../etc/passwd',
    make: (d) =>
      editModelJson(d, (j) => {
        (j.weightsManifest as { paths: string[] }[])[0]!.paths = ['../../etc/passwd'];
      }),
    error: /etc\/passwd/,
  },
  { name: 'convkit.json missing', make: (d) => fs.rm(join(d, 'convkit.json')), error: /convkit\.json/ },
  { name: 'convkit.json garbage', make: (d) => fs.writeFile(join(d, 'convkit.json'), '\x00\x01garbage{{{'), error: /convkit\.json/ },
  {
    name: 'convkit.json wrong inputSize',
    make: (d) =>
      editMeta(d, (m) => {
        m.inputSize = [32, 32];
      }),
    error: /inputSize|16×16/,
  },
  {
    name: 'convkit.json wrong colorMode',
    make: (d) =>
      editMeta(d, (m) => {
        m.colorMode = 'grayscale';
      }),
    error: /colorMode|channel/,
  },
  {
    name: 'convkit.json missing preprocessing',
    make: (d) =>
      editMeta(d, (m) => {
        delete m.preprocessing;
      }),
    error: /preprocessing/,
  },
  {
    name: 'convkit.json duplicate class names',
    make: (d) =>
      editMeta(d, (m) => {
        m.classNames = ['left', 'left'];
      }),
    error: /"left".*twice|twice/,
  },
  {
    name: 'convkit.json class count not matching the outputs',
    make: (d) =>
      editMeta(d, (m) => {
        m.classNames = ['left', 'middle', 'right'];
        m.classMode = 'categorical';
      }),
    error: /output unit|3 classes/,
  },
  {
    name: 'convkit.json from a newer convkit',
    make: (d) =>
      editMeta(d, (m) => {
        m.version = 99;
      }),
    error: /version/,
  },
  {
    name: 'model.json lists no weight files',
    make: (d) =>
      editModelJson(d, (j) => {
        (j.weightsManifest as { paths: string[] }[])[0]!.paths = [];
      }),
    error: /model\.json|weight/,
  },
  {
    name: 'weights.bin a link to a file outside the folder',
    make: async (d) => {
      await fs.rename(join(d, 'weights.bin'), join(dirname(d), 'outside-weights.bin'));
      await fs.symlink(join(dirname(d), 'outside-weights.bin'), join(d, 'weights.bin'));
    },
    error: /outside|weights\.bin/,
  },
];

/** Every entry name below `dir` (links not followed) whose name looks like an atomic writer's leftover. */
export async function tempLeftovers(dir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await fs.readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.name.includes('.tmp-') || e.name.startsWith('.convkit-probe-')) found.push(p);
      if (e.isDirectory()) await walk(p);
    }
  };
  await walk(dir);
  return found;
}

/** The basename of `path` as a regular expression that matches it literally. */
export function named(path: string): RegExp {
  return new RegExp(escapeRe(basename(path)));
}

export function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
