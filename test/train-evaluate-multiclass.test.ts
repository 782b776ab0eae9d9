/**
 * evaluate() on three real Imagenette classes: the balanced and top-k
 * accuracy it reports agree with its own confusion matrix and per-image
 * probabilities, recomputed here in plain JS.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../src/backend/index.js';
import { formatEvaluation } from '../src/cli/evaluation-text.js';
import { trainRecipe } from '../src/recipes/train-recipe.js';
import { evaluate } from '../src/train/evaluate.js';
import { loadModel } from '../src/train/saved-model.js';
import { ConvkitError } from '../src/util/errors.js';

const IMAGENETTE = join(import.meta.dirname, '..', '..', 'shared', 'data', 'imagenette');
const CLASSES = ['church', 'golf_ball', 'tench'];
let root: string;

before(async () => {
  await initBackend();
  root = mkdtempSync(join(tmpdir(), 'convkit-imagenette-'));
  // Imagenette's layout: train/ and val/; a few photos of three classes.
  // Unequal validation classes, so balanced accuracy and accuracy differ.
  const sizes = { train: [12, 12, 12], val: [12, 6, 18] };
  for (const split of ['train', 'val'] as const) {
    for (const [i, cls] of CLASSES.entries()) {
      const n = sizes[split][i]!;
      mkdirSync(join(root, 'data', split, cls), { recursive: true });
      for (const f of readdirSync(join(IMAGENETTE, split, cls))
        .sort()
        .slice(0, n))
        symlinkSync(join(IMAGENETTE, split, cls, f), join(root, 'data', split, cls, f));
    }
  }
  // A features head on MobileNet v1 at 96 px, trained briefly: good enough to make some mistakes and rank the rest.
  await trainRecipe({
    recipe: 'features',
    data: join(root, 'data'),
    out: join(root, 'model'),
    overrides: { imageSize: 96, epochs: 2, batchSize: 12, optimizer: 'adam', learningRate: 1e-3 },
    cacheDir: join(root, 'cache'),
    verbose: false,
    log: () => undefined,
  });
});
after(() => rmSync(root, { recursive: true, force: true }));

test('balanced accuracy and top-k accuracy of a 3-class model agree with its confusion matrix and probabilities', async () => {
  const { model, meta } = await loadModel(join(root, 'model'));
  try {
    const read = { classNames: meta.classNames, inputSize: meta.inputSize, keepPredictions: true };
    const r = await evaluate(model, join(root, 'data', 'val'), { ...read, topK: 2 });
    assert.deepEqual(r.classNames, CLASSES);
    assert.equal(r.n, 36);
    const rows = r.confusion.map((row) => row.reduce((a, b) => a + b, 0));
    assert.deepEqual(rows, [12, 6, 18]);
    const recalls = r.confusion.map((row, c) => row[c]! / rows[c]!);
    assert.ok(Math.abs(r.balancedAccuracy - recalls.reduce((a, b) => a + b, 0) / 3) < 1e-12);
    assert.deepEqual(
      r.perClass.map((c) => c.recall),
      recalls,
    );

    // Top-2 from the probabilities: the true class beaten by at most one other.
    const preds = r.predictions!;
    const rank = (p: (typeof preds)[number]) => p.probabilities.filter((q) => q > p.probabilities[p.trueIndex]!).length;
    const top2 = preds.filter((p) => rank(p) < 2).length / preds.length;
    assert.deepEqual(r.topK, { k: 2, accuracy: top2 });
    assert.ok(r.topK!.accuracy >= r.accuracy);
    // Top-1 is the accuracy (no tied probabilities here), and the predicted class is the top-ranked one.
    assert.equal(preds.filter((p) => rank(p) === 0).length / preds.length, r.accuracy);
    const trace = r.confusion.reduce((s, row, c) => s + row[c]!, 0);
    assert.equal(trace / 36, r.accuracy);
    assert.ok(r.accuracy > 1 / 3, `accuracy ${r.accuracy} is better than chance`);

    // Three classes: no top-k unless asked (top-5 starts above five classes), and k must stay below the classes.
    const plain = await evaluate(model, join(root, 'data', 'val'), read);
    assert.equal(plain.topK, undefined);
    assert.equal(plain.balancedAccuracy, r.balancedAccuracy);
    await assert.rejects(
      evaluate(model, join(root, 'data', 'val'), { ...read, topK: 3 }),
      (e: unknown) => e instanceof ConvkitError && /--top-k/.test(e.message),
    );

    const text = formatEvaluation(r, 1).join('\n');
    assert.match(text, new RegExp(`balanced ${r.balancedAccuracy.toFixed(4)}  top-2 ${top2.toFixed(4)}`));
    assert.match(text, /confusion \(rows: true, columns: predicted\)/);
  } finally {
    model.dispose();
  }
});
