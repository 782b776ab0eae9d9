/**
 * A small photo set with planted problems, made from real cats-vs-dogs
 * photos in a temp folder: label flips, a re-encoded and resized copy across
 * splits, a mirrored copy, a blank frame and a corrupt file. It records
 * what it planted so a test can check each is found.
 */
import { mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';

export const CATS_DOGS = join(import.meta.dirname, '..', '..', 'shared', 'data', 'cats_and_dogs_small');

/** Links the first `n[split]` photos of each class of cats_and_dogs_small into `dir/<split>/<class>/`. */
export function linkSubset(dir: string, n: Record<string, number>, splitName = (s: string) => s): void {
  for (const [split, count] of Object.entries(n)) {
    for (const cls of ['cats', 'dogs']) {
      const to = join(dir, splitName(split), cls);
      mkdirSync(to, { recursive: true });
      for (const f of readdirSync(join(CATS_DOGS, split, cls))
        .sort()
        .slice(0, count))
        symlinkSync(join(CATS_DOGS, split, cls, f), join(to, f));
    }
  }
}

export interface PlantedSet {
  root: string;
  /** Train files moved into the other class folder (relative paths as planted). */
  flipped: string[];
  /** [original, copy] relative paths of near copies planted across splits. */
  leaks: [string, string][];
  /** A same-bytes copy within the train split, across classes. */
  conflict: [string, string];
  blank: string;
  corrupt: string;
  cleanup(): Promise<void>;
}

async function firstFiles(dir: string, n: number, skip = 0): Promise<string[]> {
  return (await readdir(dir)).sort().slice(skip, skip + n);
}

/** Copies `perClass` train and `testPerClass` test photos of each class, unchanged: a clean folder. */
export async function cleanSet(perClass: number, testPerClass: number): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'convkit-audit-'));
  for (const [split, n] of [
    ['train', perClass],
    ['test', testPerClass],
  ] as const) {
    for (const cls of ['cats', 'dogs']) {
      await mkdir(join(root, split, cls), { recursive: true });
      for (const f of await firstFiles(join(CATS_DOGS, split, cls), n)) await copyFile(join(CATS_DOGS, split, cls, f), join(root, split, cls, f));
    }
  }
  return root;
}

/** The clean set with one of each problem planted. */
export async function plantedSet(perClass = 40, testPerClass = 10): Promise<PlantedSet> {
  const root = await cleanSet(perClass, testPerClass);
  const flipped: string[] = [];
  // Two cats filed as dogs and one dog filed as a cat (photos not otherwise in the set).
  const [c1, c2] = await firstFiles(join(CATS_DOGS, 'train', 'cats'), 2, 500);
  const [d1] = await firstFiles(join(CATS_DOGS, 'train', 'dogs'), 1, 500);
  for (const [from, to, f] of [
    ['cats', 'dogs', c1!],
    ['cats', 'dogs', c2!],
    ['dogs', 'cats', d1!],
  ] as const) {
    await copyFile(join(CATS_DOGS, 'train', from, f), join(root, 'train', to, f));
    flipped.push(join('train', to, f));
  }
  const [a, b] = await firstFiles(join(root, 'train', 'cats'), 2, 3);
  // Re-encoded at lower quality and resized, then mirrored: both copies land in test/.
  await sharp(join(root, 'train', 'cats', a!))
    .resize(200)
    .jpeg({ quality: 60 })
    .toFile(join(root, 'test', 'cats', 'leak-resized.jpg'));
  await sharp(join(root, 'train', 'cats', b!))
    .flop()
    .jpeg({ quality: 85 })
    .toFile(join(root, 'test', 'cats', 'leak-mirrored.jpg'));
  const [d] = await firstFiles(join(root, 'train', 'dogs'), 1, 5);
  await copyFile(join(root, 'train', 'dogs', d!), join(root, 'train', 'cats', 'conflict.jpg'));
  await sharp({ create: { width: 300, height: 240, channels: 3, background: { r: 250, g: 250, b: 250 } } })
    .jpeg()
    .toFile(join(root, 'train', 'dogs', 'blank.jpg'));
  await writeFile(join(root, 'train', 'cats', 'corrupt.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 74, 70, 73, 70, 0, 1, 1, 0, 0, 1]));
  return {
    root,
    flipped,
    leaks: [
      [join('train', 'cats', a!), join('test', 'cats', 'leak-resized.jpg')],
      [join('train', 'cats', b!), join('test', 'cats', 'leak-mirrored.jpg')],
    ],
    conflict: [join('train', 'dogs', d!), join('train', 'cats', 'conflict.jpg')],
    blank: join('train', 'dogs', 'blank.jpg'),
    corrupt: join('train', 'cats', 'corrupt.jpg'),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}
