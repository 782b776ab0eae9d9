import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import vm from 'node:vm';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { readSavedModel, tfjsBundlePath, topologyInputSize, versusBook, writeReport, writeTryPage } from '../src/report/index.js';
import { ConvkitError } from '../src/util/errors.js';
import { predictNode, samplePixels, saveModel, tinyModel, tinyStudy } from './report-fixtures.js';

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'convkit-report-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('versusBook compares test (else validation) accuracy with the book range, with half a point of slack', () => {
  assert.equal(versusBook({ testAccuracy: 0.71, bookAccuracy: [0.7, 0.72] })?.verdict, 'within');
  assert.equal(versusBook({ testAccuracy: 0.697, bookAccuracy: [0.7, 0.72] })?.verdict, 'within');
  const below = versusBook({ testAccuracy: 0.79, valAccuracy: 0.9, bookAccuracy: [0.82, 0.82] })!;
  assert.equal(below.verdict, 'below');
  assert.ok(Math.abs(below.points - -3) < 1e-9);
  assert.equal(versusBook({ valAccuracy: 0.97, bookAccuracy: [0.9, 0.95] })?.verdict, 'above');
  assert.equal(versusBook({ testAccuracy: 0.9 }), undefined);
});

test('writeReport writes a self-contained index.html, results.json and every figure', async () => {
  await withDir(async (dir) => {
    const study = await tinyStudy();
    const { indexPath, resultsPath, figurePaths } = await writeReport(dir, study);
    const html = await readFile(indexPath, 'utf8');
    // Table: one row per step, with the numbers.
    const body = /<table id="results">.*?<tbody>(.*?)<\/tbody>/s.exec(html)?.[1] ?? '';
    assert.equal((body.match(/<tr>/g) ?? []).length, 2);
    assert.match(body, /Small convnet/);
    assert.match(body, /70\.5 %/);
    assert.match(body, /70–72 %/);
    assert.match(body, /in range/);
    assert.match(body, /−3\.0 pts/);
    assert.match(body, /3,453,121/);
    // Charts: summary + learning curves and confusion matrix per step, inlined.
    assert.equal((html.match(/<div class="chart"/g) ?? []).length, 5);
    assert.equal((html.match(/<svg\b/g) ?? []).length, 5);
    // Inlined SVG ids stay unique across the page.
    const ids = [...html.matchAll(/\bid="([^"]+)"/g)].map((m) => m[1]);
    assert.equal(new Set(ids).size, ids.length, 'duplicate ids in index.html');
    // Images as data: URIs (4 wrong + 3 augmented), nothing fetched from the network.
    assert.equal((html.match(/<img src="data:image\/png;base64,/g) ?? []).length, 7);
    assert.match(html, /true cat<br>pred dog 0\.99/);
    assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//);
    assert.doesNotMatch(html, /@import|url\(http/);
    // Backend and machine facts.
    assert.match(html, /backend <b>cpu<\/b>/);
    assert.match(html, /test CPU \(2 cores\)/);
    assert.match(html, /Numbers are synthetic/);
    // results.json holds the same numbers.
    const results = JSON.parse(await readFile(resultsPath, 'utf8'));
    assert.equal(results.title, study.title);
    assert.equal(results.createdAt, '2026-01-02T03:04:05.000Z');
    assert.equal(results.steps.length, 2);
    assert.equal(results.steps[0].testAccuracy, 0.705);
    assert.deepEqual(results.steps[0].bookAccuracy, [0.7, 0.72]);
    assert.equal(results.steps[1].versusBook, 'below');
    assert.deepEqual(results.steps[0].confusion, [
      [7, 3],
      [3, 7],
    ]);
    assert.equal(results.steps[0].history.val_acc.length, 6);
    assert.deepEqual(results.steps[0].params, { trainable: 3453121, total: 3453121 });
    assert.equal(results.machine.backend, 'cpu');
    // Figures on disk, decodable.
    assert.equal(figurePaths.length, 10);
    for (const p of figurePaths.filter((f) => f.endsWith('.png'))) {
      const meta = await sharp(await readFile(p)).metadata();
      assert.ok(meta.width! > 100 && meta.height! > 100, p);
    }
    // Only the report's own files, no temp leftovers.
    assert.deepEqual((await readdir(dir)).sort(), ['figures', 'index.html', 'results.json']);
  });
});

test('writeReport links a try.html beside it and leaves other files alone', async () => {
  await withDir(async (dir) => {
    const model = tinyModel();
    await saveModel(model, join(dir, 'model'));
    await writeTryPage(dir, { modelDir: 'model', classNames: ['cats', 'dogs'] });
    const study = await tinyStudy();
    await writeReport(dir, { ...study, steps: study.steps.slice(0, 1) }, { figures: false });
    const html = await readFile(join(dir, 'index.html'), 'utf8');
    assert.match(html, /<a class="button" href="try.html">/);
    assert.deepEqual((await readdir(dir)).sort(), ['index.html', 'model', 'model-data.js', 'results.json', 'tf.min.js', 'try.html']);
    model.dispose();
  });
});

test('writeReport rejects bad input with a ConvkitError that names it', async () => {
  await withDir(async (dir) => {
    const study = await tinyStudy();
    await assert.rejects(writeReport(dir, { ...study, steps: [{ ...study.steps[0]!, testAccuracy: 70.5 }] }), /testAccuracy is 70\.5/);
    await assert.rejects(writeReport(dir, { ...study, steps: [{ ...study.steps[0]!, confusion: [[1, 2, 3]] }] }), ConvkitError);
    await assert.rejects(writeReport(dir, { ...study, steps: [{ ...study.steps[0]!, wrongImages: ['/no/such/image.png'] }] }), /\/no\/such\/image\.png/);
    assert.deepEqual(await readdir(dir).then((f) => f.filter((n) => !n.startsWith('figures'))), []);
  });
});

test('writeTryPage embeds the model so that it loads from memory and predicts like the original', async () => {
  await tf.setBackend('cpu');
  await withDir(async (dir) => {
    const model = tinyModel(3);
    await saveModel(model, join(dir, 'model'));
    const { inputSize, files, pagePath } = await writeTryPage(dir, { modelDir: 'model', classNames: ['a', 'b', 'c'], title: 'Try <it>' });
    assert.deepEqual(inputSize, [32, 32]);
    assert.equal(files.length, 3);
    assert.equal((await stat(join(dir, 'tf.min.js'))).size, (await stat(tfjsBundlePath())).size);
    const page = await readFile(pagePath, 'utf8');
    assert.match(page, /<script src="tf.min.js"><\/script>/);
    assert.match(page, /<script src="model-data.js"><\/script>/);
    assert.match(page, /<title>Try &lt;it&gt;<\/title>/);
    assert.doesNotMatch(page, /(src|href)="(https?:)?\/\//);
    // Run model-data.js as the browser would and rebuild the model from it.
    const sandbox: { window: { CONVKIT_MODEL?: { modelTopology: object; weightSpecs: tf.io.WeightsManifestEntry[]; weightData: string } } } = { window: {} };
    vm.runInNewContext(await readFile(join(dir, 'model-data.js'), 'utf8'), sandbox);
    // Copied into this realm: TF.js checks `instanceof Array`, which arrays made inside the vm fail.
    const embedded = JSON.parse(JSON.stringify(sandbox.window.CONVKIT_MODEL!)) as NonNullable<typeof sandbox.window.CONVKIT_MODEL>;
    const saved = await readSavedModel(join(dir, 'model', 'model.json'));
    assert.ok(Buffer.from(embedded.weightData, 'base64').equals(saved.weightData));
    const weightData = Buffer.from(embedded.weightData, 'base64');
    const loaded = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: embedded.modelTopology,
        weightSpecs: embedded.weightSpecs,
        weightData: weightData.buffer.slice(weightData.byteOffset, weightData.byteOffset + weightData.length),
      }),
    );
    const px = samplePixels(2);
    const a = predictNode(model, px),
      b = predictNode(loaded, px);
    assert.equal(a.length, 3);
    a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) < 1e-6));
    model.dispose();
    loaded.dispose();
  });
});

test('writeTryPage takes class names and input size from convkit.json when not given', async () => {
  await withDir(async (dir) => {
    const model = tinyModel();
    await saveModel(model, join(dir, 'm'));
    model.dispose();
    await writeFile(join(dir, 'm', 'convkit.json'), JSON.stringify({ classNames: ['cats', 'dogs'], inputSize: [32, 32], colorMode: 'rgb' }));
    const { inputSize, pagePath } = await writeTryPage(dir, { modelDir: 'm/' });
    assert.deepEqual(inputSize, [32, 32]);
    const page = await readFile(pagePath, 'utf8');
    const config = JSON.parse(/<script id="convkit-config" type="application\/json">(.*?)<\/script>/s.exec(page)![1]!);
    assert.deepEqual(config.classNames, ['cats', 'dogs']);
    assert.equal(config.modelUrl, 'm/model.json');
    assert.equal(config.grayscale, false);
  });
});

test('writeTryPage names a missing model folder, a bad class list and a class count that does not match the model', async () => {
  await withDir(async (dir) => {
    await assert.rejects(writeTryPage(dir, { modelDir: 'model', classNames: ['a', 'b'] }), /no model at .*model\.json/);
    await assert.rejects(writeTryPage(dir, { modelDir: 'model', classNames: ['a'] }), /at least two classes/);
    await assert.rejects(writeTryPage(dir, { modelDir: '/abs/model', classNames: ['a', 'b'] }), /must be a path relative/);
    const model = tinyModel(3);
    await saveModel(model, join(dir, 'model'));
    model.dispose();
    await assert.rejects(writeTryPage(dir, { modelDir: 'model', classNames: ['a', 'b'] }), /has 3 outputs but 2 class names/);
  });
});

test('topologyInputSize finds the input height and width in Sequential and functional topologies', () => {
  assert.deepEqual(topologyInputSize({ config: { layers: [{ class_name: 'Rescaling', config: { batch_input_shape: [null, 150, 120, 3] } }] } }), [150, 120]);
  assert.deepEqual(
    topologyInputSize({ model_config: { config: { layers: [{ class_name: 'InputLayer', config: { batch_input_shape: [null, 224, 224, 3] } }] } } }),
    [224, 224],
  );
  assert.equal(topologyInputSize({ config: { layers: [{ config: { batch_input_shape: [null, null, null, 3] } }] } }), undefined);
});
