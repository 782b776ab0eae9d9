import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { imagenetTopK, topK } from '../src/models/imagenet.js';
import classify from '../src/cli/commands/classify.js';
import { main } from '../src/cli/main.js';

const SHARED = new URL('../../shared/', import.meta.url).pathname;
const SAMPLES = join(SHARED, 'data', 'imagenet_samples');
const MODELS = join(SHARED, 'models');
const skip = existsSync(SAMPLES) && existsSync(MODELS) ? false : `ImageNet samples or models not found under ${SHARED}`;

test('topK returns the k largest, highest first, ties by lower index', () => {
  assert.deepEqual(topK([0.1, 0.5, 0.2, 0.5, 0.05], 3), [
    { index: 1, value: 0.5 },
    { index: 3, value: 0.5 },
    { index: 2, value: 0.2 },
  ]);
  assert.deepEqual(
    topK([3, 1, 2], 5).map((p) => p.index),
    [0, 2, 1],
  );
  assert.deepEqual(topK([1, 2], 0), []);
  const labels1001 = ['background', 'a', 'b'];
  assert.deepEqual(imagenetTopK([0.1, 0.2, 0.7], labels1001.concat(Array(998).fill('x')), 1), [{ index: 2, classIndex: 1, label: 'b', probability: 0.7 }]);
});

async function runJson(argv: string[]): Promise<{ file: string; predictions: { classIndex: number; label: string; probability: number }[] }[]> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (s: string) => lines.push(s);
  try {
    assert.equal(await classify.run(argv), 0);
  } finally {
    console.log = log;
  }
  return lines.map((l) => JSON.parse(l));
}

// ImageNet class indices: 281 tabby, 282 tiger cat, 285 Egyptian cat, 88 macaw, 934 hotdog.
const CATS = [281, 282, 285];

for (const base of ['mobilenet_v1', 'mobilenet_v2']) {
  test(`classify --base ${base}: cat, macaw, hotdog`, { skip }, async () => {
    const files = ['cat.jpg', 'parrot.jpg', 'hot_dog.jpg'].map((f) => join(SAMPLES, f));
    const out = await runJson(['--base', base, '--json', '--top', '3', '--models-dir', MODELS, ...files]);
    assert.equal(out.length, 3);
    assert.ok(out.every((o) => o.predictions.length === 3));
    assert.ok(CATS.includes(out[0].predictions[0].classIndex), JSON.stringify(out[0]));
    assert.equal(out[1].predictions[0].classIndex, 88);
    assert.match(out[1].predictions[0].label, /macaw/);
    assert.equal(out[2].predictions[0].classIndex, 934);
    assert.match(out[2].predictions[0].label, /hotdog/);
    assert.ok(out[1].predictions[0].probability > 0.9);
  });
}

test('classify: bad base and missing image are one-line errors (exit 2)', async () => {
  const err = console.error;
  const lines: string[] = [];
  console.error = (s: string) => lines.push(s);
  try {
    assert.equal(await main(['classify', '--base', 'resnet', 'x.jpg']), 2);
    assert.equal(await main(['classify']), 2);
  } finally {
    console.error = err;
  }
  assert.match(lines[0], /unknown base "resnet"/);
  assert.match(lines[1], /no image given/);
});
