/**
 * Damaged, mixed-up and hostile model folders: each is refused on load with
 * one ConvkitError naming the file (and weight, class or path) at fault.
 * Every bad folder is built here from a tiny model saved with saveModel.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, truncate, unlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { main } from '../src/cli/main.js';
import { loadLayersModelFromFile } from '../src/models/fs-io.js';
import { loadMobileNetV1, MOBILENET_V1_DIR } from '../src/models/mobilenet-v1.js';
import { modelsDir } from '../src/models/bases.js';
import { evaluate } from '../src/train/evaluate.js';
import { predict } from '../src/train/predict.js';
import { loadModel, makeMeta, saveModel, type ModelMetaInput } from '../src/train/saved-model.js';
import { ConvkitError } from '../src/util/errors.js';

process.env.CONVKIT_BACKEND = 'cpu';
let work: string;
let image: string;
before(async () => {
  await tf.setBackend('cpu');
  work = await mkdtemp(join(tmpdir(), 'convkit-integrity-'));
  image = join(work, 'img.png');
  await sharp(Buffer.alloc(8 * 8 * 3, 120), { raw: { width: 8, height: 8, channels: 3 } })
    .png()
    .toFile(image);
});
after(() => rm(work, { recursive: true, force: true }));

const META: ModelMetaInput = {
  classNames: ['cat', 'dog'],
  inputSize: [8, 8],
  colorMode: 'rgb',
  classMode: 'binary',
  preprocessing: { input: 'RGB 0..255', interpolation: 'bilinear' },
};

function tiny(units = 1, seed = 1): tf.Sequential {
  const m = tf.sequential();
  m.add(tf.layers.flatten({ inputShape: [8, 8, 3] }));
  m.add(tf.layers.dense({ units, activation: units === 1 ? 'sigmoid' : 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed }) }));
  return m;
}

let count = 0;
async function saved(meta: ModelMetaInput = META, model = tiny()): Promise<string> {
  const dir = join(work, `m${count++}`);
  await saveModel(model, dir, meta);
  model.dispose();
  return dir;
}

const readJson = async (path: string) => JSON.parse(await readFile(path, 'utf8'));
const writeJson = (path: string, value: unknown) => writeFile(path, JSON.stringify(value));
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** A ConvkitError (printed by the CLI as one line, no stack) whose message matches every pattern. */
function refused(...patterns: (RegExp | string)[]): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof ConvkitError, `not a ConvkitError: ${(err as Error)?.stack}`);
    for (const p of patterns) assert.ok(typeof p === 'string' ? err.message.includes(p) : p.test(err.message), `${err.message}\n  does not match ${p}`);
    return true;
  };
}

/** Rewrites convkit.json's weight hash to match the damaged weights.bin (as if saved that way). */
async function rehash(dir: string): Promise<void> {
  const meta = await readJson(join(dir, 'convkit.json'));
  meta.weightsSha256 = { 'weights.bin': sha256(await readFile(join(dir, 'weights.bin'))) };
  await writeJson(join(dir, 'convkit.json'), meta);
}

test('NaN weights: load names the weight and its file; saving refuses them; predict and evaluate never give a NaN probability', async () => {
  const dir = await saved();
  const bin = await readFile(join(dir, 'weights.bin'));
  new Float32Array(bin.buffer, bin.byteOffset, bin.byteLength / 4).fill(NaN, 10, 20);
  await writeFile(join(dir, 'weights.bin'), bin);
  await rehash(dir);
  await assert.rejects(loadModel(dir), refused(/weight dense_\w+\/kernel in .*weights\.bin holds NaN/));
  await assert.rejects(loadLayersModelFromFile(dir), refused('weights.bin holds NaN'));

  const broken = tiny();
  broken.layers[1]!.setWeights(broken.layers[1]!.getWeights().map((w) => tf.fill(w.shape, NaN)));
  await assert.rejects(saveModel(broken, join(work, 'nan-save'), META), refused('holds NaN', 'lower the learning rate'));
  assert.equal(existsSync(join(work, 'nan-save')), false);
  const loaded = { model: broken, meta: makeMeta(META), dir: work };
  await assert.rejects(predict(loaded, [image]), refused('NaN as a class probability for', image));
  const x = tf.ones([2, 8, 8, 3]) as tf.Tensor4D;
  await assert.rejects(evaluate(broken, { x, y: tf.tensor2d([0, 1], [2, 1]) }, { classNames: ['cat', 'dog'] }), refused('NaN as a class probability'));
  broken.dispose();
});

test('output units must match convkit.json: a 10-way softmax with a 2-class binary description is refused naming both files', async () => {
  const ten = Array.from({ length: 10 }, (_, i) => `c${i}`);
  const dir = await saved({ ...META, classNames: ten, classMode: 'categorical' }, tiny(10));
  (await loadModel(dir)).model.dispose();
  const meta = await readJson(join(dir, 'convkit.json'));
  await writeJson(join(dir, 'convkit.json'), { ...meta, classNames: ['cat', 'dog'], classMode: 'binary' });
  await assert.rejects(loadModel(dir), refused(join(dir, 'model.json'), join(dir, 'convkit.json'), 'has 10 output units', '2 classes'));
  await writeJson(join(dir, 'convkit.json'), { ...meta, classNames: ten.slice(0, 9) });
  await assert.rejects(loadModel(dir), refused('has 10 output units', '9 classes'));
  // A sigmoid unit described as two softmax classes, and a wrong input size, are refused too.
  const bin = await saved();
  await writeJson(join(bin, 'convkit.json'), { ...(await readJson(join(bin, 'convkit.json'))), classMode: 'categorical' });
  await assert.rejects(loadModel(bin), refused('has 1 output unit but', 'needs 2 softmax units'));
  await writeJson(join(bin, 'convkit.json'), { ...(await readJson(join(bin, 'convkit.json'))), classMode: 'binary', inputSize: [16, 16] });
  await assert.rejects(loadModel(bin), refused('takes 8×8 images', 'inputSize [16, 16]'));
  // saveModel checks the same before writing anything.
  await assert.rejects(saveModel(tiny(10), join(work, 'mismatch'), META), refused('has 10 output units'));
  assert.equal(existsSync(join(work, 'mismatch')), false);
});

test('duplicate class names are refused on save and on load', async () => {
  await assert.rejects(saveModel(tiny(), join(work, 'dup'), { ...META, classNames: ['cat', 'cat'] }), refused('names class "cat" twice'));
  const dir = await saved();
  await writeJson(join(dir, 'convkit.json'), { ...(await readJson(join(dir, 'convkit.json'))), classNames: ['dog', 'dog'] });
  await assert.rejects(loadModel(dir), refused(join(dir, 'convkit.json'), 'names class "dog" twice'));
});

test("content hashes: another model's weights.bin of the same size is named; folders without hashes still load", async () => {
  const dir = await saved(META, tiny(1, 1));
  const meta = await readJson(join(dir, 'convkit.json'));
  assert.match(meta.weightsSha256['weights.bin'], /^[0-9a-f]{64}$/);
  const other = await saved(META, tiny(1, 2));
  await cp(join(other, 'weights.bin'), join(dir, 'weights.bin'));
  await assert.rejects(loadModel(dir), refused(join(dir, 'weights.bin'), 'sha256', join(dir, 'convkit.json')));
  delete meta.weightsSha256;
  await writeJson(join(dir, 'convkit.json'), meta);
  (await loadModel(dir)).model.dispose();
});

test('foreign folders: two shards of different sizes swapped (same total) are named by their size', async () => {
  const dir = await saved();
  const json = await readJson(join(dir, 'model.json'));
  const [kernel, bias] = json.weightsManifest[0].weights;
  const bin = await readFile(join(dir, 'weights.bin'));
  const split = 8 * 8 * 3 * 4;
  await writeFile(join(dir, 'k.bin'), bin.subarray(0, split));
  await writeFile(join(dir, 'b.bin'), bin.subarray(split));
  json.weightsManifest = [
    { paths: ['k.bin'], weights: [kernel] },
    { paths: ['b.bin'], weights: [bias] },
  ];
  await writeJson(join(dir, 'model.json'), json);
  await unlink(join(dir, 'convkit.json'));
  (await loadLayersModelFromFile(dir)).dispose();
  json.weightsManifest = [
    { paths: ['b.bin'], weights: [kernel] },
    { paths: ['k.bin'], weights: [bias] },
  ];
  await writeJson(join(dir, 'model.json'), json);
  await assert.rejects(loadLayersModelFromFile(dir), refused(/weight shard .*b\.bin holds 4 bytes but .*model\.json needs 768/, 'truncated'));
});

test('manifest paths may not leave the model folder: .., absolute paths and outward symlinks are named', async () => {
  const dir = await saved();
  const json = await readJson(join(dir, 'model.json'));
  const outside = join(work, 'outside.bin');
  await writeFile(outside, await readFile(join(dir, 'weights.bin')));
  for (const path of ['../../../../etc/passwd', '../outside.bin', outside]) {
    json.weightsManifest[0].paths = [path];
    await writeJson(join(dir, 'model.json'), json);
    await assert.rejects(loadModel(dir), refused(JSON.stringify(path), 'model folder'));
  }
  await symlink(outside, join(dir, 'link.bin'));
  json.weightsManifest[0].paths = ['link.bin'];
  await writeJson(join(dir, 'model.json'), json);
  await assert.rejects(loadLayersModelFromFile(dir), refused('"link.bin"', `a link to ${outside}`));
});

test('damaged model.json and convkit.json give one-line errors naming the file and value', async () => {
  const dir = await saved();
  const metaPath = join(dir, 'convkit.json');
  const meta = await readJson(metaPath);
  const cases: [Record<string, unknown>, string][] = [
    [{ inputSize: [0, 8] }, 'inputSize'],
    [{ inputSize: [8.5, 8] }, 'inputSize'],
    [{ inputSize: [1e6, 1e6] }, 'inputSize'],
    [{ colorMode: 'cmyk' }, 'colorMode: "cmyk"'],
    [{ preprocessing: undefined }, 'preprocessing'],
    [{ classMode: 'multi' }, 'classMode'],
    [{ weightsSha256: { 'weights.bin': 'abc' } }, 'weightsSha256'],
  ];
  for (const [patch, what] of cases) {
    await writeJson(metaPath, { ...meta, ...patch });
    await assert.rejects(loadModel(dir), refused(metaPath, what));
  }
  await writeJson(metaPath, meta);

  const jsonPath = join(dir, 'model.json');
  const json = await readJson(jsonPath);
  await writeFile(jsonPath, 'null');
  await assert.rejects(loadModel(dir), refused(jsonPath, 'holds null'));
  const r = await runCli(['evaluate', '--model', dir, '--data', work]);
  assert.equal(r.code, 2);
  assert.match(r.err, /^convkit evaluate: .*model\.json holds null/);
  assert.doesNotMatch(r.err, /\n\s+at /);

  json.modelTopology.config.layers[1].class_name = 'FancyDense';
  await writeJson(jsonPath, json);
  await assert.rejects(loadModel(dir), refused(jsonPath, 'layer class FancyDense'));
  json.modelTopology.config.layers[1].class_name = 'Dense';
  await writeJson(jsonPath, json);

  await rm(join(dir, 'weights.bin'));
  await mkdir(join(dir, 'weights.bin'));
  await assert.rejects(loadModel(dir), refused(/cannot read weight shard .*weights\.bin .*EISDIR/));
});

const mobilenet = join(modelsDir(), MOBILENET_V1_DIR);
test(
  'a truncated shard of a pretrained MobileNet names the shard file',
  { skip: !existsSync(join(mobilenet, 'model.json')) && 'no MobileNet v1 files' },
  async () => {
    const copy = join(work, 'mobilenet');
    await cp(mobilenet, copy, { recursive: true });
    await truncate(join(copy, 'group29-shard1of1'), 1000);
    await assert.rejects(loadMobileNetV1({ path: copy }), refused(join(copy, 'group29-shard1of1'), 'truncated'));
  },
);

async function runCli(argv: string[]): Promise<{ code: number; err: string }> {
  const err: string[] = [];
  const error = console.error;
  console.error = (...a: unknown[]) => {
    err.push(a.join(' '));
  };
  try {
    return { code: await main(argv), err: err.join('\n') };
  } finally {
    console.error = error;
  }
}
