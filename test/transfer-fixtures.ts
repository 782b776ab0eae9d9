/** Shared fixtures of the transfer tests: a tiny photo set and a tiny pretrained-like base. */
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { mkdtempSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PretrainedBase } from '../src/transfer/bases.js';

/** train/validation/test folders with two classes of 12×12 PNGs: reddish "cats", bluish "dogs". */
export async function makePhotoSet(perClass = 6, size = 12): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), 'convkit-transfer-'));
  let k = 0;
  for (const split of ['train', 'validation', 'test']) {
    for (const [cls, tint] of [
      ['cats', [1, 0.3, 0.3]],
      ['dogs', [0.3, 0.3, 1]],
    ] as const) {
      const dir = join(root, 'data', split, cls);
      mkdirSync(dir, { recursive: true });
      for (let i = 0; i < perClass; i++) {
        const px = Buffer.alloc(size * size * 3);
        for (let p = 0; p < size * size; p++) {
          const noise = ((p * 7919 + k * 104729) % 97) / 97;
          for (let c = 0; c < 3; c++) px[p * 3 + c] = Math.round(255 * Math.min(1, tint[c]! * (0.5 + 0.5 * noise)));
        }
        k++;
        await sharp(px, { raw: { width: size, height: size, channels: 3 } })
          .png()
          .toFile(join(dir, `${cls}.${i}.png`));
      }
    }
  }
  return root;
}

/**
 * A small conv base in the shape of the real ones: rescaling first, two
 * "blocks" named like VGG16's, BatchNormalization, a feature layer. Each
 * load() builds it afresh with the same seeded weights; `loads` keeps them.
 */
export function tinyBase(size = 12): PretrainedBase & { loads: tf.LayersModel[] } {
  const loads: tf.LayersModel[] = [];
  return {
    name: 'tiny',
    inputSize: [size, size],
    loads,
    async load(options = {}) {
      const [h, w] = options.inputSize ?? [size, size];
      const init = (s: number) => tf.initializers.glorotUniform({ seed: s });
      const input = tf.input({ shape: [h, w, 3] });
      let x = tf.layers.rescaling({ scale: 1 / 127.5, offset: -1, name: 'rescaling' }).apply(input) as tf.SymbolicTensor;
      x = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', kernelInitializer: init(11), name: 'block1_conv1' }).apply(x) as tf.SymbolicTensor;
      x = tf.layers.batchNormalization({ name: 'block1_bn', movingMeanInitializer: 'zeros' }).apply(x) as tf.SymbolicTensor;
      x = tf.layers.activation({ activation: 'relu', name: 'block1_relu' }).apply(x) as tf.SymbolicTensor;
      x = tf.layers.maxPooling2d({ poolSize: 2, name: 'block1_pool' }).apply(x) as tf.SymbolicTensor;
      x = tf.layers
        .conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(12), name: 'block2_conv1' })
        .apply(x) as tf.SymbolicTensor;
      x = tf.layers.maxPooling2d({ poolSize: 2, name: 'block2_pool' }).apply(x) as tf.SymbolicTensor;
      const model = tf.model({ inputs: input, outputs: x, name: 'tiny_base' });
      loads.push(model);
      return { model, featureLayer: 'block2_pool' };
    },
  };
}

/** Copies of a layer's weights. */
export function weightsOf(model: tf.LayersModel, layer: string): Float32Array[] {
  return model
    .getLayer(layer)
    .getWeights()
    .map((w) => (w.dataSync() as Float32Array).slice());
}

export function bitEqual(a: Float32Array[], b: Float32Array[]): boolean {
  return (
    a.length === b.length &&
    a.every((t, i) => Buffer.from(t.buffer, t.byteOffset, t.byteLength).equals(Buffer.from(b[i]!.buffer, b[i]!.byteOffset, b[i]!.byteLength)))
  );
}

/** Counts calls of a layer (the base's first conv): how often the base ran. */
export function countCalls(layer: tf.layers.Layer): { count: number } {
  const counter = { count: 0 };
  const call = layer.call.bind(layer);
  layer.call = (inputs, kwargs) => {
    counter.count++;
    return call(inputs, kwargs);
  };
  return counter;
}
