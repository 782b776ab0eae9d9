/**
 * How closely each exported model family matches convkit: every family of
 * test/export-fixtures.ts (plus the ImageNet classifiers of MobileNet v1/v2
 * and the mini-Xception and xresnet builders) is exported to ONNX and run on
 * the same real test images through convkit (TF.js, the backend initBackend
 * picks) and through onnxruntime-node; prints the largest absolute
 * probability difference per family, and a JSON line with all of them.
 * Classifiers get their last layer rescaled first so that the images'
 * probabilities spread out (see spreadOutputs).
 *
 *   node --import tsx bench/export-agreement.ts [--images 100] [FAMILY ...]
 */
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend } from '../src/backend/index.js';
import { exportModel } from '../src/export/index.js';
import { loadMobileNetV1, MOBILENET_V1_DIR } from '../src/models/mobilenet-v1.js';
import { loadMobileNetV2, MOBILENET_V2_DIR } from '../src/models/mobilenet-v2.js';
import { miniXception } from '../src/models/xception.js';
import { xresnet } from '../src/models/xresnet.js';
import { agreement, MODELS, ONNX_FAMILIES, spreadOutputs, testImages, writeBatchNormStats, type Family } from '../test/export-fixtures.js';

const EXTRA: Family[] = [
  {
    name: 'mobilenet_v1_imagenet',
    title: 'MobileNet v1 0.75 with its ImageNet classifier (Reshape, Dropout, 1×1 conv, softmax), 224 px',
    skip: false,
    build: async () => ({ model: await loadMobileNetV1({ path: join(MODELS, MOBILENET_V1_DIR), includeTop: true }), meta: {} }),
  },
  {
    name: 'mobilenet_v2_imagenet',
    title: 'MobileNet v2 1.0 with its 1001-way classifier (TFLite import: Reshape, 1×1 conv, Softmax layer), 224 px',
    skip: false,
    build: async () => ({ model: (await loadMobileNetV2({ path: join(MODELS, MOBILENET_V2_DIR), includeTop: true })).model, meta: {} }),
  },
  {
    name: 'mini_xception',
    title: 'convkit miniXception (default widths, 180 px), seeded weights, BatchNormalization statistics written',
    skip: false,
    build: async () => {
      const model = miniXception({ seed: 1 });
      writeBatchNormStats(model, 7);
      return { model, meta: { classNames: ['cats', 'dogs'], classMode: 'binary' } };
    },
  },
  {
    name: 'xresnet18',
    title: 'convkit xresnet (xresnet18, 128 px), seeded weights, BatchNormalization statistics written',
    skip: false,
    build: async () => {
      const model = xresnet({ seed: 1 });
      writeBatchNormStats(model, 8);
      return { model, meta: { classNames: ['cats', 'dogs'], classMode: 'binary' } };
    },
  },
];

const { values, positionals } = parseArgs({ options: { images: { type: 'string' } }, allowPositionals: true });
const images = Number(values.images ?? 100);
const backend = await initBackend();
const tmp = mkdtempSync(join(tmpdir(), 'convkit-export-agreement-'));
const results: Record<string, { maxAbsDiff: number; min: number; max: number; images: number; onnxBytes: number; nodes: unknown }> = {};
try {
  for (const family of [...ONNX_FAMILIES, ...EXTRA].filter((f) => positionals.length === 0 || positionals.includes(f.name))) {
    if (family.skip) {
      console.log(`${family.name}: skipped (${family.skip})`);
      continue;
    }
    const { model, meta } = await family.build();
    const [, h, w] = model.inputs[0]!.shape as number[];
    const pixels = await testImages(images, [h!, w!]);
    spreadOutputs(model, pixels, images);
    const out = join(tmp, `${family.name}.onnx`);
    const exported = await exportModel(model, { format: 'onnx', out, meta });
    const session = await ort.InferenceSession.create(out, { intraOpNumThreads: 2, interOpNumThreads: 1 });
    const r = await agreement(
      model,
      async (batch, dims) => (await session.run({ pixels: new ort.Tensor('float32', batch, dims) })).probabilities!.data as Float32Array,
      pixels,
      images,
    );
    results[family.name] = { ...r, onnxBytes: exported.bytes, nodes: exported.details.nodes };
    console.log(
      `${family.name.padEnd(22)} max |Δp| ${r.maxAbsDiff.toExponential(2)} over ${r.images} images (p in [${r.min.toFixed(4)}, ${r.max.toFixed(4)}]); ${(exported.bytes / 1e6).toFixed(1)} MB, ${String(exported.details.nodes)} nodes — ${family.title}`,
    );
    await session.release();
    model.dispose();
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
console.log(JSON.stringify({ backend: backend.name, images, results, tensors: tf.memory().numTensors }));
