/**
 * How faithful the TFLite exports are, measured with TensorFlow Lite's own
 * runtime (@tensorflow/tfjs-tflite in Chromium, see test/tflite-interpreter.ts):
 * for each trained model folder, the float32 and the int8 export of it are
 * run on every image of DATA/test and compared with the convkit model —
 * the largest probability difference (on 100 images spread over the split,
 * and on all of them) and the test accuracy of each. The int8 export is
 * calibrated on --calibration-count images of DATA/train.
 *
 *   node --import tsx bench/export-tflite-accuracy.ts MODEL_DIR=DATA_DIR [MODEL_DIR=DATA_DIR ...]
 *        [--calibration-count N] [--keep DIR]   (--keep: write the exports there instead of a temporary folder)
 */
import * as tf from '@tensorflow/tfjs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend } from '../src/backend/index.js';
import { decodeBatch } from '../src/data/cache.js';
import { scanImageFolder } from '../src/data/scan.js';
import { splitFolder } from '../src/data/splits.js';
import { exportTflite } from '../src/export/tflite.js';
import { modelReadOptions } from '../src/train/predict.js';
import { loadModel } from '../src/train/saved-model.js';
import { launchChromium } from '../test/chromium.js';
import { TfliteInterpreter } from '../test/tflite-interpreter.js';

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: { 'calibration-count': { type: 'string', default: '100' }, keep: { type: 'string' } },
});
if (positionals.length === 0) {
  console.error('usage: node --import tsx bench/export-tflite-accuracy.ts MODEL_DIR=DATA_DIR [...] [--calibration-count N] [--keep DIR]');
  process.exit(2);
}
const calibrationCount = Number(flags['calibration-count']);
const CHUNK = 50;
/** The images the float comparison of the task is stated on: every tenth of the split (both classes). */
const SAMPLE_EVERY = 10;

interface Row {
  model: string;
  images: number;
  floatMaxDiff100: number;
  floatMaxDiffAll: number;
  int8MaxDiffAll: number;
  accConvkit: number;
  accFloat: number;
  accInt8: number;
  int8AgreesWithConvkit: number;
  floatMB: number;
  int8MB: number;
  exportSeconds: { float: number; int8: number };
  runSeconds: number;
}

const decide = (probs: Float32Array, i: number, classes: number) => {
  if (classes === 1) return probs[i]! > 0.5 ? 1 : 0;
  let best = 0;
  for (let c = 1; c < classes; c++) if (probs[i * classes + c]! > probs[i * classes + best]!) best = c;
  return best;
};

async function measure(modelDir: string, dataDir: string, outDir: string, browser: Awaited<ReturnType<typeof launchChromium>>): Promise<Row> {
  const { model, meta } = await loadModel(modelDir);
  const name = basename(resolve(modelDir));
  const floatFile = join(outDir, `${name}.tflite`),
    int8File = join(outDir, `${name}-int8.tflite`);
  let t = performance.now();
  const f = await exportTflite(model, meta, floatFile, { silent: true });
  const floatSeconds = (performance.now() - t) / 1000;
  t = performance.now();
  const q = await exportTflite(model, meta, int8File, { quantize: 'int8', calibration: splitFolder(dataDir, 'train'), calibrationCount });
  const int8Seconds = (performance.now() - t) / 1000;

  const [floatRt, int8Rt] = [await TfliteInterpreter.open(browser), await TfliteInterpreter.open(browser)];
  await floatRt.load(new Uint8Array(await readFile(f.file)));
  await int8Rt.load(new Uint8Array(await readFile(q.file)));
  const test = await scanImageFolder(splitFolder(dataDir, 'test'));
  const read = modelReadOptions(meta);
  const [h, w] = read.targetSize;
  const channels = read.colorMode === 'grayscale' ? 1 : 3;
  const classes = meta.classMode === 'binary' ? 1 : meta.classNames.length;
  const right = [0, 0, 0];
  let floatMaxDiff100 = 0,
    floatMaxDiffAll = 0,
    int8MaxDiffAll = 0,
    agree = 0;
  t = performance.now();
  for (let start = 0; start < test.files.length; start += CHUNK) {
    const files = test.files.slice(start, start + CHUNK);
    const { pixels } = await decodeBatch(
      files.map((x) => x.path),
      read,
    );
    const n = files.length;
    const convkit = tf.tidy(() => (model.predict(tf.tensor4d(pixels, [n, h, w, channels])) as tf.Tensor).dataSync() as Float32Array);
    const bytes = Uint8Array.from(pixels);
    const [pf, pq] = [await floatRt.run(bytes, n), await int8Rt.run(bytes, n)];
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < classes; c++) {
        const k = i * classes + c;
        const df = Math.abs(pf[k]! - convkit[k]!);
        floatMaxDiffAll = Math.max(floatMaxDiffAll, df);
        if ((start + i) % SAMPLE_EVERY === 0) floatMaxDiff100 = Math.max(floatMaxDiff100, df);
        int8MaxDiffAll = Math.max(int8MaxDiffAll, Math.abs(pq[k]! - convkit[k]!));
      }
      const label = files[i]!.label;
      const decisions = [convkit, pf, pq].map((p) => decide(p, i, classes));
      decisions.forEach((d, j) => (right[j]! += d === label ? 1 : 0));
      if (decisions[2] === decisions[0]) agree++;
    }
    process.stderr.write(`\r${name}: ${Math.min(start + CHUNK, test.files.length)}/${test.files.length} test images`);
  }
  process.stderr.write('\n');
  const runSeconds = (performance.now() - t) / 1000;
  await floatRt.close();
  await int8Rt.close();
  model.dispose();
  const n = test.files.length;
  return {
    model: name,
    images: n,
    floatMaxDiff100,
    floatMaxDiffAll,
    int8MaxDiffAll,
    accConvkit: right[0]! / n,
    accFloat: right[1]! / n,
    accInt8: right[2]! / n,
    int8AgreesWithConvkit: agree / n,
    floatMB: f.bytes / 1e6,
    int8MB: q.bytes / 1e6,
    exportSeconds: { float: floatSeconds, int8: int8Seconds },
    runSeconds,
  };
}

await initBackend();
const outDir = flags.keep ? resolve(flags.keep) : await mkdtemp(join(tmpdir(), 'convkit-tflite-bench-'));
await mkdir(outDir, { recursive: true });
const browser = await launchChromium();
const rows: Row[] = [];
try {
  for (const pair of positionals) {
    const [modelDir, dataDir] = pair.split('=');
    if (!modelDir || !dataDir) throw new Error(`expected MODEL_DIR=DATA_DIR, got ${pair}`);
    rows.push(await measure(modelDir, dataDir, outDir, browser));
  }
} finally {
  await browser.close();
  if (!flags.keep) await rm(outDir, { recursive: true, force: true });
}

const pct = (x: number) => (100 * x).toFixed(1) + ' %';
console.log(`\nTFLite exports through tfjs-tflite (TFLite's runtime in WebAssembly), int8 calibrated on ${calibrationCount} training images\n`);
console.log(
  '| model | test images | max |p_float − p_convkit| (100 / all) | accuracy convkit | float32 .tflite | int8 .tflite | int8 − convkit | int8 decisions = convkit | size float / int8 |',
);
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(
    `| ${r.model} | ${r.images} | ${r.floatMaxDiff100.toExponential(1)} / ${r.floatMaxDiffAll.toExponential(1)} | ${pct(r.accConvkit)} | ${pct(r.accFloat)} | ${pct(r.accInt8)} | ` +
      `${((r.accInt8 - r.accConvkit) * 100).toFixed(1)} points | ${pct(r.int8AgreesWithConvkit)} | ${r.floatMB.toFixed(1)} / ${r.int8MB.toFixed(1)} MB |`,
  );
}
console.log('\n' + JSON.stringify(rows));
