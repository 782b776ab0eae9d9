/**
 * How well `convkit audit` finds planted problems in a real data set.
 *
 *   node --import tsx bench/audit-quality.ts DATA [--flip F] [--copies N] [--seed S] [--cache DIR]
 *
 * Builds a view of DATA in a temp folder (links to the photos), files a
 * seeded fraction F of the training images under another class (label
 * flips), and writes N near copies of training images into the last split
 * (re-encoded and resized, mirrored, or cropped by 6 %, in turn). Then it
 * audits the view and prints: recall of the flips in the top K = 2 × flips
 * label issues; precision and recall of the cross-split duplicate finder on
 * the planted copies (and every unplanted cross-split pair, to look at);
 * the counts of every finding type and the wall time of each stage.
 */
import { mkdir, mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { auditFolder } from '../src/audit/audit.js';
import { initBackend } from '../src/backend/index.js';
import { createRng } from '../src/util/rng.js';

const { values: v, positionals } = parseArgs({
  allowPositionals: true,
  options: { flip: { type: 'string' }, copies: { type: 'string' }, seed: { type: 'string' }, cache: { type: 'string' } },
});
const data = resolve(positionals[0] ?? '../shared/data/cats_and_dogs_small');
const flipFraction = Number(v.flip ?? 0.02);
const copies = Number(v.copies ?? 60);
const rng = createRng(Number(v.seed ?? 7));

const splits = (await readdir(data)).filter((s) => ['train', 'validation', 'val', 'test'].includes(s)).sort((a, b) => order(a) - order(b));
function order(s: string): number {
  return ['train', 'validation', 'val', 'test'].indexOf(s);
}
const classes = (await readdir(join(data, 'train'))).sort();
const view = await mkdtemp(join(tmpdir(), 'convkit-audit-quality-'));

/** Every photo linked into the view; the flipped ones under another class. */
async function linkView(): Promise<string[]> {
  const flipped: string[] = [];
  for (const split of splits) for (const cls of classes) await mkdir(join(view, split, cls), { recursive: true });
  for (const split of splits) {
    for (const cls of classes) {
      for (const f of await readdir(join(data, split, cls))) {
        let to = cls;
        if (split === 'train' && rng.next() < flipFraction) {
          to = classes.filter((c) => c !== cls)[rng.int(classes.length - 1)]!;
          flipped.push(join(split, to, f));
        }
        await symlink(join(data, split, cls, f), join(view, split, to, f));
      }
    }
  }
  return flipped;
}

/** Near copies of training photos in the last split: [original, copy] relative paths. */
async function plantCopies(flipped: string[]): Promise<[string, string][]> {
  const planted: [string, string][] = [];
  const last = splits[splits.length - 1]!;
  for (let i = 0; i < copies; i++) {
    const cls = classes[rng.int(classes.length)]!;
    const files = (await readdir(join(data, 'train', cls))).sort();
    const f = files[rng.int(files.length)]!;
    const src = join(data, 'train', cls, f);
    const name = `copy-${i}.jpg`;
    const img = sharp(src).rotate();
    const { width = 100, height = 100 } = await sharp(src).metadata();
    const edited = [
      () => img.resize(Math.round(width * 0.7)).jpeg({ quality: 60 }),
      () => img.flop().jpeg({ quality: 85 }),
      () =>
        img
          .extract({ left: Math.round(width * 0.03), top: Math.round(height * 0.03), width: Math.round(width * 0.94), height: Math.round(height * 0.94) })
          .jpeg({ quality: 85 }),
    ][i % 3]!();
    await edited.toFile(join(view, last, cls, name));
    // The original's place in the view: under another class when its label was flipped.
    const original = flipped.find((p) => p.startsWith('train/') && p.endsWith(`/${f}`)) ?? join('train', cls, f);
    planted.push([original, join(last, cls, name)]);
  }
  return planted;
}

await initBackend();
const t0 = performance.now();
const flipped = await linkView();
const planted = await plantCopies(flipped);
console.log(`view ${view}: ${flipped.length} flipped training labels, ${planted.length} planted copies`);
const result = await auditFolder({ data: view, cacheDir: v.cache, seed: 1 });
const wall = (performance.now() - t0) / 1000;

const k = 2 * flipped.length;
const top = new Set(result.labelIssues.slice(0, k).map((i) => i.file));
const flipsFound = flipped.filter((f) => top.has(f)).length;
console.log(`label flips: ${flipsFound} of ${flipped.length} in the top ${k} issues: recall ${(flipsFound / Math.max(1, flipped.length)).toFixed(3)}`);

const leaks = result.duplicates.filter((d) => d.relation === 'cross-split');
const plantedKeys = new Set(planted.map(([a, b]) => `${a}|${b}`));
const truePositives = leaks.filter((d) => plantedKeys.has(`${d.a}|${d.b}`)).length;
console.log(
  `cross-split copies: ${leaks.length} found, ${truePositives} of ${planted.length} planted: precision ${(truePositives / Math.max(1, leaks.length)).toFixed(3)}, recall ${(truePositives / planted.length).toFixed(3)}`,
);
for (const d of leaks.filter((x) => !plantedKeys.has(`${x.a}|${x.b}`))) console.log(`  not planted: ${d.reason}`);
const found = leaks.filter((d) => plantedKeys.has(`${d.a}|${d.b}`));
const quantiles = (xs: number[]) => [0, 0.1, 0.5, 0.9, 1].map((q) => xs.sort((a, b) => a - b)[Math.round(q * (xs.length - 1))]?.toFixed(3));
console.log(
  `  planted copies found: cosine min/p10/median/p90/max ${quantiles(found.map((d) => d.score)).join(' ')}; hash bits ${quantiles(found.map((d) => d.hashDistance)).join(' ')}`,
);
const missed = planted.filter(([a, b]) => !leaks.some((d) => d.a === a && d.b === b));
for (const [a, b] of missed) console.log(`  missed: ${b} (copy of ${a})`);

const counts = {
  unreadable: result.unreadable.length,
  leaks: leaks.length,
  conflicts: result.duplicates.filter((d) => d.relation === 'cross-class').length,
  duplicates: result.duplicates.filter((d) => d.relation === 'within-class').length,
  labelIssues: result.labelIssues.length,
  outliers: result.outliers.length,
};
console.log(`findings: ${JSON.stringify(counts)}; images ${result.images}; timings ${JSON.stringify(result.timings)}; wall ${wall.toFixed(0)} s`);
await rm(view, { recursive: true, force: true });
