/**
 * The bench's inference workloads: onnxruntime through the harness (a real
 * child process on the exported MobileNet v1 classifier), and what the report
 * says when onnxruntime-node cannot be imported. Structure only: the timings
 * themselves are the bench's to report, not a test's to judge.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { formatBenchReport, runBench } from '../src/bench/index.js';
import { loadOnnxRuntime } from '../src/bench/inference-run.js';
import { modelsDir } from '../src/models/bases.js';

const skip = existsSync(join(modelsDir(), 'mobilenet_v1_0.75_224')) ? false : `MobileNet v1 not found in ${modelsDir()}`;

test('a missing onnxruntime-node is named with how to install it, not a crash', async () => {
  const why = await loadOnnxRuntime('onnxruntime-node-that-is-not-installed');
  assert.equal(typeof why, 'string');
  assert.match(why as string, /onnxruntime-node-that-is-not-installed cannot be imported \(.+\); install it with npm install --save-dev onnxruntime-node/);
  assert.notEqual(typeof (await loadOnnxRuntime()), 'string');
});

test('mobilenet_v1_inference on onnxruntime: batch-1 latency and batch-32 images/s in the report and its table', { skip, timeout: 180_000 }, async () => {
  const report = await runBench({ workloads: ['mobilenet_v1_inference'], backends: ['onnxruntime'], quick: true, quiet: true });
  assert.deepEqual(Object.keys(report.workloads), []);
  const row = report.inference.mobilenet_v1_inference!;
  assert.ok(row.onnxruntime && row.onnxruntime.batch1_ms > 0 && row.onnxruntime.batch32_images_per_s > 0, JSON.stringify(report.details.inference));
  assert.equal(row.native, null);
  assert.equal(row.throughput_ratio, null);
  assert.equal(report.details.inference.runtimes.onnxruntime?.status, 'ok');
  assert.equal(report.details.inference.runtimes.onnxruntime?.threads, 2);
  assert.equal(report.details.backends.native.status, 'skipped');

  // The same report with onnxruntime unavailable: the table says so, and why.
  const missing = structuredClone(report);
  missing.details.inference.runtimes.onnxruntime = {
    status: 'unavailable: onnxruntime-node cannot be imported (not found); install it with npm install --save-dev onnxruntime-node',
  };
  missing.inference.mobilenet_v1_inference = { native: null, onnxruntime: null, throughput_ratio: null, latency_ratio: null };
  missing.details.inference.timings.mobilenet_v1_inference = {};
  const text = formatBenchReport(missing);
  assert.match(text, /onnxruntime: unavailable: onnxruntime-node cannot be imported/);
  assert.match(text, /mobilenet_v1_inference\s+-\s+unavailable\s+-/);
  assert.match(formatBenchReport(report), /mobilenet_v1_inference\s+-\s+[\d.]+ ms batch 1, [\d.]+ img\/s batch 32/);
});
