/**
 * Frozen-prefix cache speed-up: fine-tuning MobileNet v1's last block (+ a
 * dense head) on a few hundred cats-and-dogs images, (a) running the frozen
 * base every step vs (b) computing the frozen prefix once and training the
 * suffix on the cached activations. Same seeds, same epochs; prints wall
 * times and validation accuracies.
 *
 * Run: node --import tsx bench/transfer-prefix-cache.ts [imagesPerClass=200] [epochs=5] [size=160] [firstUnfrozenLayer=conv_dw_13]
 * (CONVKIT_BACKEND picks the backend; data from ../shared/data/cats_and_dogs_small.)
 */
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../src/backend/index.js';
import { DirectoryIterator, scanImageFolder } from '../src/data/index.js';
import { fit, evaluateLossAcc } from '../src/train/fit.js';
import { packageRoot } from '../src/util/paths.js';
import { createRng } from '../src/util/rng.js';
import { getBase } from '../src/transfer/bases.js';
import { freeze, unfreeze } from '../src/transfer/freeze.js';
import { buildHead, stitch, truncate } from '../src/transfer/head.js';
import { cachePrefix } from '../src/transfer/prefix-cache.js';

const [perClass = 200, epochs = 5, size = 160] = process.argv.slice(2, 5).map(Number);
/** First unfrozen layer (default MobileNet v1's last depthwise-separable block). */
const from = process.argv[5] ?? 'conv_dw_13';
const data = join(packageRoot(), '..', 'shared', 'data', 'cats_and_dogs_small');
if (!existsSync(data)) {
  console.log(`skipped: ${data} not found`);
  process.exit(0);
}
const info = await initBackend();
console.log(
  `backend ${info.name} (${tf.getBackend()}), threads ${info.threads}; ${perClass} images/class for training, ${perClass / 2}/class for validation, ${size}×${size} px, ${epochs} epochs, trained from ${from}`,
);

async function subset(split: string, n: number) {
  const folder = await scanImageFolder(join(data, split));
  const files = folder.classNames.flatMap((c) => folder.files.filter((f) => f.className === c).slice(0, n));
  return { ...folder, files };
}
const trainFolder = await subset('train', perClass),
  valFolder = await subset('validation', perClass / 2);
const iter = (f: typeof trainFolder, shuffle: boolean) =>
  new DirectoryIterator(f, { targetSize: [size, size], batchSize: 20, shuffle, classMode: 'binary', seed: 3 });

async function buildModel() {
  const base = getBase('mobilenet_v1');
  const loaded = await base.load({ inputSize: [size, size] });
  const features = truncate(loaded.model, loaded.featureLayer);
  const head = buildHead(features.outputs[0]!.shape.slice(1) as number[], { numClasses: 2, rng: createRng(1), pooling: 'avg' });
  const model = stitch(features, head);
  freeze(model);
  unfreeze(model, { from });
  return model;
}

const fitOpts = { epochs, optimizer: 'rmsprop' as const, learningRate: 1e-4, batchSize: 20, seed: 1, verbose: false, classMode: 'binary' as const };
const cacheDir = mkdtempSync(join(tmpdir(), 'convkit-prefix-bench-'));
try {
  // Decode once up front for both arms (each iterator keeps its own pixel cache), so the timings compare model work.
  const warm = async (f: typeof trainFolder, shuffle: boolean) => {
    const it = iter(f, shuffle);
    for await (const b of it.epoch()) tf.dispose([b.x, b.y!]);
    it.reset();
    return it;
  };

  const a = await buildModel();
  const trainA = await warm(trainFolder, true),
    valA = await warm(valFolder, false);
  let t = performance.now();
  const histA = await fit(a, trainA, { ...fitOpts, validationData: valA });
  const secA = (performance.now() - t) / 1000;
  const accA = histA.history.val_acc!.at(-1)!;
  console.log(
    `(a) frozen base recomputed every step: ${secA.toFixed(1)} s, val_acc ${accA.toFixed(3)} (per epoch ${histA.history.val_acc!.map((v) => v.toFixed(3)).join(' ')})`,
  );

  const b = await buildModel();
  const trainB = await warm(trainFolder, false),
    valB = await warm(valFolder, false);
  t = performance.now();
  const pc = await cachePrefix(b, trainB, { baseName: 'mobilenet_v1', cacheDir, batchSize: 20, seed: 1, silent: true, noCache: true });
  const pv = await cachePrefix(b, valB, { baseName: 'mobilenet_v1', cacheDir, batchSize: 20, shuffle: false, silent: true, noCache: true });
  const secCache = (performance.now() - t) / 1000;
  const histB = await fit(pc.split.suffix, pc.data, { ...fitOpts, validationData: pv.data });
  const secB = (performance.now() - t) / 1000;
  const accB = histB.history.val_acc!.at(-1)!;
  const check = await evaluateLossAcc(b, valB, { batchSize: 20 });
  console.log(
    `(b) prefix cache (up to ${pc.split.at}, ${(pc.data.bytes / 2 ** 20).toFixed(0)} MiB): ${secB.toFixed(1)} s (${secCache.toFixed(1)} s computing the prefix), val_acc ${accB.toFixed(3)} (per epoch ${histB.history.val_acc!.map((v) => v.toFixed(3)).join(' ')}); whole model on val images after training: ${check.acc.toFixed(3)}`,
  );
  console.log(`speed-up ${(secA / secB).toFixed(2)}×`);
} finally {
  rmSync(cacheDir, { recursive: true, force: true });
}
// The wasm backend's worker threads would keep the process alive.
process.exit(0);
