/**
 * Memory over a long run: the book's small convnet (Dropout 0.5, book
 * augmentation) trained for N epochs on cats_and_dogs_small/train at 150 px,
 * with a validation pass each epoch; after every epoch it prints the process
 * RSS, the live tensor count and bytes TF.js holds. Flat numbers after the
 * first epoch (decoded images cached beforehand, primitives built in epoch
 * 1) mean nothing leaks.
 *
 * Run: node --import tsx bench/memory-epochs.ts [epochs=10] [stepsPerEpoch=25]
 * (CONVKIT_BACKEND picks the backend.)
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../src/backend/index.js';
import { ImageDataGenerator } from '../src/augment/generator.js';
import { flowFromDirectory } from '../src/data/index.js';
import { smallCnn } from '../src/models/small-cnn.js';
import { fit } from '../src/train/fit.js';
import { BOOK_AUGMENTATION } from '../src/augment/presets.js';
import { packageRoot } from '../src/util/paths.js';

const [epochs = 10, steps = 25] = process.argv.slice(2, 4).map(Number);
const data = join(packageRoot(), '..', 'shared', 'data', 'cats_and_dogs_small');
if (!existsSync(data)) {
  console.log(`skipped: ${data} not found`);
  process.exit(0);
}
const info = await initBackend();
console.log(`backend ${info.name}, ${epochs} epochs of ${steps} batches of 20 at 150 px (+ 10 validation batches each)`);
const augment = new ImageDataGenerator({ ...BOOK_AUGMENTATION });
const train = await flowFromDirectory(join(data, 'train'), {
  targetSize: [150, 150],
  batchSize: 20,
  classMode: 'binary',
  seed: 1,
  transform: augment.batchTransform(),
});
const validation = await flowFromDirectory(join(data, 'validation'), { targetSize: [150, 150], batchSize: 20, classMode: 'binary', shuffle: false });
// Decode every image once first, so the image cache is full before the first epoch is measured.
for (const it of [train, validation]) {
  for await (const b of it.epoch()) tf.dispose([b.x, b.y]);
  it.reset();
}
const model = smallCnn({ inputShape: [150, 150, 3], dropout: 0.5, seed: 1 });

const mib = (b: number) => b / 2 ** 20;
const rows: { epoch: number; rss: number; tensors: number; tfMiB: number }[] = [];
await fit(model, train, {
  epochs,
  stepsPerEpoch: steps,
  validationData: validation,
  validationSteps: 10,
  optimizer: 'rmsprop',
  learningRate: 1e-4,
  seed: 1,
  verbose: false,
  callbacks: [
    {
      onEpochEnd(epoch) {
        const m = tf.memory();
        rows.push({ epoch: epoch + 1, rss: mib(process.memoryUsage().rss), tensors: m.numTensors, tfMiB: mib(m.numBytes) });
        const r = rows[rows.length - 1]!;
        console.log(
          `epoch ${String(r.epoch).padStart(2)}  RSS ${r.rss.toFixed(0).padStart(5)} MiB  tensors ${String(r.tensors).padStart(4)}  TF.js ${r.tfMiB.toFixed(1)} MiB`,
        );
      },
    },
  ],
});
const [first, last] = [rows[0]!, rows[rows.length - 1]!];
console.log(
  `after epoch ${first.epoch} → after epoch ${last.epoch}: RSS ×${(last.rss / first.rss).toFixed(3)} (${(last.rss - first.rss).toFixed(0)} MiB), tensors ${first.tensors} → ${last.tensors}`,
);
model.dispose();
