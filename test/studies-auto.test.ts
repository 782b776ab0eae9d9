/**
 * convkit study auto on a small real subset of cats_and_dogs_small (linked
 * into a temp folder) with tiny settings: the candidates run cheapest first
 * within the budget, the one that does not fit is listed as skipped, the
 * model chosen is the best by validation, model/ and the report are
 * written, and a re-run reuses every finished candidate. And how a folder
 * without a validation split is split.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../src/backend/index.js';
import { scanImageFolder } from '../src/data/scan.js';
import { runAutoStudy, type AutoStudyOptions } from '../src/studies/auto.js';
import { resolveAutoData, splitByClass } from '../src/studies/auto-data.js';
import { calibration, transferEstimate } from '../src/studies/auto-estimate.js';
import { DONE_FILE } from '../src/studies/study.js';
import { evaluate } from '../src/train/evaluate.js';
import { modelReadOptions } from '../src/train/predict.js';
import { loadModel } from '../src/train/saved-model.js';
import { registerRecipe } from '../src/recipes/registry.js';
import { ConvkitError } from '../src/util/errors.js';
import { linkSubset } from './audit-fixtures.js';

let root: string;

/** A from-scratch recipe whose network cannot be built here: its candidate fails, the others run on. */
const settings = { imageSize: 32, batchSize: 4, epochs: 1, optimizer: 'adam' as const, learningRate: 1e-3 };
registerRecipe({
  name: 'unbuildable',
  summary: 'a network that needs a kernel this backend lacks',
  profiles: { book: settings, best: settings },
  buildModel: () => {
    throw new ConvkitError('the network needs a kernel this backend lacks', 'pick another backend');
  },
});

before(async () => {
  await initBackend();
  root = mkdtempSync(join(tmpdir(), 'convkit-auto-'));
  linkSubset(join(root, 'data'), { train: 20, validation: 10, test: 10 });
});
after(() => rmSync(root, { recursive: true, force: true }));

const transfer = { imageSize: 64, batchSize: 16 };
function options(out: string, extra: Partial<AutoStudyOptions> = {}): AutoStudyOptions & { lines: string[] } {
  const lines: string[] = [];
  return {
    data: join(root, 'data'),
    out,
    budgetMinutes: 30,
    cacheDir: join(root, 'cache'),
    bases: ['mobilenet_v1'],
    scratchRecipes: ['augment', 'scratch', 'unbuildable'],
    overrides: {
      features: { ...transfer, epochs: 3 },
      'features-augment': { ...transfer, epochs: 1, transfer: { variants: 1 } },
      finetune: { ...transfer, epochs: 1, transfer: { variants: 1 } },
      augment: { imageSize: 32, epochs: 2, batchSize: 16, stepsPerEpoch: 4, validationSteps: 2, model: { filters: [4, 8], denseUnits: 8 } },
      // Far too many epochs for any budget: listed as skipped, never run.
      scratch: { imageSize: 32, epochs: 100_000, model: { filters: [4, 8], denseUnits: 8 } },
    },
    verbose: false,
    log: (l) => lines.push(l),
    lines,
    ...extra,
  };
}

test('a tiny auto study runs the candidates that fit, chooses by validation, writes model/ and the report; a re-run reuses them', async () => {
  const out = join(root, 'report');
  const first = await runAutoStudy(options(out));
  const byName = new Map(first.candidates.map((c) => [c.name, c]));
  assert.deepEqual([...byName.keys()].sort(), [
    'augment',
    'features-augment-mobilenet_v1',
    'features-mobilenet_v1',
    'finetune-mobilenet_v1',
    'scratch',
    'unbuildable',
  ]);
  assert.deepEqual([byName.get('unbuildable')!.status, byName.get('unbuildable')!.reason], ['failed', 'the network needs a kernel this backend lacks']);
  for (const name of ['augment', 'features-mobilenet_v1', 'features-augment-mobilenet_v1', 'finetune-mobilenet_v1'])
    assert.equal(byName.get(name)!.status, 'trained', name);
  const skipped = byName.get('scratch')!;
  assert.equal(skipped.status, 'skipped');
  assert.match(skipped.reason!, /^estimated .*, .* of the budget left$/);
  // features-augment continues the features head, finetune the features-augment model.
  const order = first.candidates.map((c) => c.name);
  assert.ok(order.indexOf('features-mobilenet_v1') < order.indexOf('features-augment-mobilenet_v1'));
  assert.ok(order.indexOf('features-augment-mobilenet_v1') < order.indexOf('finetune-mobilenet_v1'));

  // The choice: the highest validation accuracy, ties by the lower validation loss — whatever the test accuracies say.
  const finished = first.candidates.filter((c) => c.record);
  const best = finished.reduce((b, c) =>
    c.record!.valAccuracy! > b.record!.valAccuracy! || (c.record!.valAccuracy === b.record!.valAccuracy && c.record!.valLoss! <= b.record!.valLoss!) ? c : b,
  );
  assert.equal(first.best, best.name);
  // The validation accuracy that chose is the saved model's on the whole validation split.
  const { model, meta } = await loadModel(join(out, 'model'));
  try {
    const read = modelReadOptions(meta);
    const v = await evaluate(model, join(root, 'data', 'validation'), {
      classNames: meta.classNames,
      inputSize: read.targetSize,
      interpolation: read.interpolation,
    });
    assert.equal(v.n, 20);
    assert.ok(Math.abs(v.accuracy - best.record!.valAccuracy!) < 1e-9, `${v.accuracy} vs ${best.record!.valAccuracy}`);
    assert.equal(meta.recipe?.name, best.recipe);
  } finally {
    model.dispose();
  }

  for (const f of ['index.html', 'results.json', 'try.html', join('model', 'model.json')]) assert.ok(existsSync(join(out, f)), f);
  const html = readFileSync(join(out, 'index.html'), 'utf8');
  for (const name of byName.keys()) assert.ok(html.includes(name), name);
  assert.match(html, /Class balance/);
  assert.match(html, /Skipped: estimated/);
  assert.match(html, /Failed: the network needs a kernel this backend lacks/);
  assert.match(html, /Learning curves/);
  assert.doesNotMatch(html, /vs book/);
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { tables: { heading: string; rows: (string | number)[][] }[] };
  const balance = results.tables.find((t) => t.heading === 'Class balance')!;
  assert.deepEqual(balance.rows, [
    ['cats', 20, 10, 10],
    ['dogs', 20, 10, 10],
  ]);

  const done = () => Object.fromEntries(finished.map(({ name: n }) => [n, statSync(join(out, 'candidates', n, DONE_FILE)).mtimeMs]));
  const before = done();
  const again = await runAutoStudy(options(out));
  assert.deepEqual(
    again.candidates.filter((c) => c.record).map((c) => [c.name, c.status]),
    finished.map((c) => [c.name, 'reused']),
  );
  assert.equal(again.best, first.best);
  assert.deepEqual(done(), before, 'no candidate was redone');
  assert.ok(again.wallSeconds < first.wallSeconds / 2, `re-run took ${again.wallSeconds} s`);
});

test('a budget nothing fits in stops with an error naming the cheapest candidate', async () => {
  await assert.rejects(
    runAutoStudy(options(join(root, 'no-budget'), { budgetMinutes: 0.001, scratchRecipes: [] })),
    (err: unknown) => err instanceof ConvkitError && /no candidate fits in --budget 0\.001 minutes: the cheapest, features-mobilenet_v1/.test(err.message),
  );
});

test('a single folder of classes is split per class, seeded, into a view of links; train/ without validation/ too', async () => {
  const single = join(root, 'single');
  linkSubset(single, { train: 11 }, () => '.');
  const views = join(root, 'views');
  const a = await resolveAutoData(single, { validationSplit: 0.2, seed: 1, viewsDir: views });
  assert.equal(a.layout, 'split-folder');
  assert.match(a.description, /no test split/);
  const train = await scanImageFolder(join(a.root, 'train'));
  const validation = await scanImageFolder(join(a.root, 'validation'));
  // ⌊0.2 · 11⌋ = 2 per class for validation, the other 9 for training; no file in both.
  assert.equal(validation.files.length, 4);
  assert.equal(train.files.length, 18);
  assert.equal(new Set([...train.files, ...validation.files].map((f) => realpathSync(f.path))).size, 22);
  assert.ok(lstatSync(validation.files[0]!.path).isSymbolicLink(), 'the view links the photos');
  // The same seed gives the same view; another seed another split.
  assert.equal((await resolveAutoData(single, { validationSplit: 0.2, seed: 1, viewsDir: views })).root, a.root);
  const all = (await scanImageFolder(single)).files;
  const names = (s: { validation: { path: string }[] }) => s.validation.map((f) => f.path).sort();
  assert.deepEqual(names(splitByClass(all, 0.2, 1)), names(splitByClass(all, 0.2, 1)));
  assert.notDeepEqual(names(splitByClass(all, 0.2, 1)), names(splitByClass(all, 0.2, 2)));
  assert.throws(() => splitByClass(all, 0.05, 1), /leaves no validation image/);

  const trainOnly = join(root, 'train-only');
  linkSubset(trainOnly, { train: 10, test: 3 });
  const b = await resolveAutoData(trainOnly, { validationSplit: 0.3, seed: 1, viewsDir: views });
  assert.equal(b.layout, 'split-train');
  assert.equal((await scanImageFolder(join(b.root, 'validation'))).files.length, 6);
  assert.equal((await scanImageFolder(join(b.root, 'test'))).files.length, 6);

  const own = await resolveAutoData(join(root, 'data'), { seed: 1, viewsDir: views });
  assert.deepEqual([own.layout, own.root], ['splits', join(root, 'data')]);
  // A validation split asked for where the folder has its own is refused, not ignored.
  await assert.rejects(
    resolveAutoData(join(root, 'data'), { validationSplit: 0.2, seed: 1, viewsDir: views }),
    /--validation-split 0\.2, but .* is already the validation split/,
  );
});

test('the estimates: passes of the base at the reference speed, rescaled by what finished candidates measured', () => {
  const counts = { train: 2000, validation: 1000, test: 1000 };
  const at224 = (epochs: number, variants?: number) => ({
    imageSize: 224,
    batchSize: 32,
    epochs,
    optimizer: 'adam' as const,
    learningRate: 1e-3,
    transfer: { variants },
  });
  // features: 2,000 training passes + 2 × (1,000 + 1,000) scoring passes at 17 ms, and the head's 0.5 ms × 2,000 × 10 epochs.
  assert.ok(Math.abs(transferEstimate('features', at224(10), counts, 'mobilenet_v1') - (0.017 * 6000 + 10)) < 1e-9);
  assert.ok(Math.abs(transferEstimate('features', at224(10), counts, 'mobilenet_v2') - (0.017 * 1.6 * 6000 + 10)) < 1e-9);
  // features-augment with 2 variants: 4,000 + 4,000 passes and the head; at 112 px a pass costs a quarter.
  assert.ok(Math.abs(transferEstimate('features-augment', at224(6, 2), counts, 'mobilenet_v1') - (0.017 * 8000 + 6)) < 1e-9);
  assert.ok(Math.abs(transferEstimate('features-augment', { ...at224(6, 2), imageSize: 112 }, counts, 'mobilenet_v1') - ((0.017 / 4) * 8000 + 6)) < 1e-9);
  // finetune: the same passes, then a quarter pass per training image and epoch.
  assert.ok(Math.abs(transferEstimate('finetune', at224(4, 2), counts, 'mobilenet_v1') - (0.017 * 8000 + 0.017 * 0.25 * 2000 * 4)) < 1e-9);
  // Both MobileNets side by side: a pass of each.
  assert.ok(Math.abs(transferEstimate('features', at224(10), counts, 'mobilenet_v1+mobilenet_v2') - (0.017 * 2.6 * 6000 + 10)) < 1e-9);
  assert.equal(calibration([]), 1);
  assert.equal(calibration([{ wallSeconds: 30, estimateSeconds: 10 }, { wallSeconds: 10, estimateSeconds: 10 }, { wallSeconds: 99 }]), 2);
});

test('with both MobileNets, their features side by side are a candidate of their own; the fine-tuning chain continues a single base', async () => {
  const out = join(root, 'report-both');
  const r = await runAutoStudy(options(out, { bases: ['mobilenet_v1', 'mobilenet_v2'], scratchRecipes: [] }));
  const byName = new Map(r.candidates.map((c) => [c.name, c]));
  const both = byName.get('features-mobilenet_v1+mobilenet_v2');
  assert.equal(both?.status, 'trained');
  assert.equal(both.base, 'mobilenet_v1+mobilenet_v2');
  const chain = r.candidates.filter((c) => c.kind === 'features-augment' || c.kind === 'finetune');
  assert.equal(chain.length, 2);
  for (const c of chain) {
    assert.equal(c.status, 'trained', `${c.name}: ${c.reason}`);
    assert.ok(c.base === 'mobilenet_v1' || c.base === 'mobilenet_v2', c.name);
  }
  // The pair came last among the features (a pass of each base estimated), from the parts' cache entries.
  const features = r.candidates.filter((c) => c.kind === 'features').map((c) => c.name);
  assert.equal(features.at(-1), 'features-mobilenet_v1+mobilenet_v2');
});
