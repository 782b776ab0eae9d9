/**
 * Small synthetic inputs for the report tests: a tiny two-class CNN saved as
 * a TF.js layers folder, a plausible history, a confusion matrix and
 * generated sample images (no photos from the data sets).
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import type { StudyReport } from '../src/report/index.js';

export const SIZE = 32;

/** Rescaling → conv → pool → dense: takes 0..255 RGB, seeded so every run is the same. */
export function tinyModel(units: 1 | 3 = 1): tf.Sequential {
  const model = tf.sequential();
  model.add(tf.layers.rescaling({ scale: 1 / 255, inputShape: [SIZE, SIZE, 3] }));
  model.add(tf.layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 7 }) }));
  model.add(tf.layers.maxPooling2d({ poolSize: 4 }));
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({ units, activation: units === 1 ? 'sigmoid' : 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 11 }) }));
  return model;
}

/** Saves `model` as model.json + weights.bin in `dir` (the TF.js layers format). */
export async function saveModel(model: tf.LayersModel, dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weightData = tf.io.CompositeArrayBuffer.join(artifacts.weightData!);
      const json = {
        modelTopology: artifacts.modelTopology,
        format: 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: null,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
      };
      await fs.writeFile(join(dir, 'model.json'), JSON.stringify(json));
      await fs.writeFile(join(dir, 'weights.bin'), new Uint8Array(weightData));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
}

/** A 32×32 RGB test pattern; `variant` changes colours and stripes. */
export function samplePixels(variant: number): Uint8Array {
  const px = new Uint8Array(SIZE * SIZE * 3);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const i = (y * SIZE + x) * 3;
      const stripe = ((x + variant * y) >> 2) & 1;
      px[i] = (variant * 70 + x * 6) & 255;
      px[i + 1] = stripe ? 220 : 30 + variant * 40;
      px[i + 2] = (y * 7 + variant * 90) & 255;
    }
  }
  return px;
}

export async function samplePng(variant: number): Promise<Buffer> {
  return sharp(samplePixels(variant), { raw: { width: SIZE, height: SIZE, channels: 3 } })
    .png()
    .toBuffer();
}

/** Node's prediction for raw pixels: class probabilities (sigmoid → [1-p, p]). */
export function predictNode(model: tf.LayersModel, pixels: Uint8Array): number[] {
  return tf.tidy(() => {
    const x = tf.tensor4d(Float32Array.from(pixels), [1, SIZE, SIZE, 3]);
    const y = (model.predict(x) as tf.Tensor).dataSync();
    return y.length === 1 ? [1 - y[0]!, y[0]!] : Array.from(y);
  });
}

/** Shifts the last dense bias so that image `pixels` gets logit `target` (a decisive, known answer). */
export function setDecisiveBias(model: tf.LayersModel, pixels: Uint8Array, target = 2): void {
  const dense = model.layers[model.layers.length - 1]!;
  const [kernel, bias] = dense.getWeights();
  const p = predictNode(model, pixels)[1]!;
  const logit = Math.log(p / (1 - p));
  const b0 = bias!.dataSync()[0]!;
  dense.setWeights([kernel!, tf.tensor1d([b0 + target - logit])]);
}

export function fakeHistory(epochs: number, seedShift = 0): Record<string, number[]> {
  const h: Record<string, number[]> = { loss: [], acc: [], val_loss: [], val_acc: [] };
  for (let e = 0; e < epochs; e++) {
    const t = e / Math.max(1, epochs - 1);
    h.acc!.push(0.52 + 0.4 * t - 0.01 * seedShift);
    h.val_acc!.push(0.55 + 0.17 * Math.sqrt(t) - 0.02 * (t > 0.7 ? t - 0.7 : 0) - 0.01 * seedShift);
    h.loss!.push(0.69 - 0.45 * t);
    h.val_loss!.push(0.68 - 0.12 * Math.sqrt(t) + 0.25 * Math.max(0, t - 0.6) ** 2);
  }
  return h;
}

/** A plausible two-step study on generated images. */
export async function tinyStudy(): Promise<StudyReport> {
  const wrong = await Promise.all(
    [0, 1, 2, 3].map(async (v) => ({
      image: await samplePng(v),
      caption: `true ${v % 2 ? 'dog' : 'cat'}\npred ${v % 2 ? 'cat' : 'dog'} ${(0.99 - v * 0.03).toFixed(2)}`,
    })),
  );
  const augmented = await Promise.all([4, 5, 6].map(async (v) => ({ image: samplePixels(v), width: SIZE, height: SIZE, caption: `sample ${v - 3}` })));
  return {
    title: 'Cats vs dogs, small data (synthetic)',
    dataset: { name: 'synthetic 32×32 patterns', classNames: ['cats', 'dogs'], counts: { train: 40, validation: 20, test: 20 } },
    machine: { backend: 'cpu', threads: 1, cpu: 'test CPU', cores: 2, memoryGiB: 24, os: 'Linux', node: process.version, tfjs: tf.version.tfjs },
    createdAt: '2026-01-02T03:04:05.000Z',
    steps: [
      {
        name: 'Small convnet',
        description: 'four conv/pool blocks trained from scratch',
        testAccuracy: 0.705,
        valAccuracy: 0.712,
        bookAccuracy: [0.7, 0.72],
        epochs: 6,
        wallSeconds: 83.4,
        imagesPerSecond: 412.5,
        params: { trainable: 3453121, total: 3453121 },
        history: { epoch: [0, 1, 2, 3, 4, 5], history: fakeHistory(6) },
        confusion: [
          [7, 3],
          [3, 7],
        ],
        classNames: ['cats', 'dogs'],
        wrongImages: wrong,
      },
      {
        name: 'Data augmentation + dropout',
        description: 'random rotations, shifts, shear, zoom and flips',
        testAccuracy: 0.79,
        valAccuracy: 0.81,
        bookAccuracy: [0.82, 0.82],
        epochs: 8,
        wallSeconds: 120,
        imagesPerSecond: 380,
        params: { trainable: 3453121, total: 3453121 },
        history: fakeHistory(8, 1),
        confusion: [
          [8, 2],
          [2, 8],
        ],
        classNames: ['cats', 'dogs'],
        augmentedSamples: augmented,
      },
    ],
    notes: ['Numbers are synthetic; this report only shows the layout.'],
  };
}
