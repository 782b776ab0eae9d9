/** Shared helpers of the native backend tests: run the same computation on
 * `native` and on the JS `cpu` backend and compare. */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { addonBuilt, registerNative, nativeCalls } from '../src/backend/native.js';
import { createRng, type Rng } from '../src/util/rng.js';

export const skipReason = addonBuilt() ? false : 'native addon not built (install libdnnl-dev, then node scripts/build-native.mjs)';
// CI sets CONVKIT_REQUIRE_NATIVE=1: there a missing addon is a failure, not a skip.
if (skipReason && process.env.CONVKIT_REQUIRE_NATIVE === '1') throw new Error(`CONVKIT_REQUIRE_NATIVE=1 but the ${skipReason}`);
if (skipReason) console.log(`# skipping native backend tests: ${skipReason}`);

export async function setup(): Promise<void> {
  registerNative();
  await tf.setBackend('cpu');
}

export interface Input {
  shape: number[];
  data: Float32Array;
}

export function randomInput(rng: Rng, shape: number[], scale = 1, positive = false): Input {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = positive ? 0.1 + rng.next() * scale : rng.normal() * scale;
  return { shape, data };
}

/** Runs `f` on the named backend with fresh tensors made from `inputs`; returns copies of the outputs. */
export async function runOn(backend: string, inputs: Input[], f: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  let out: Float32Array[] = [];
  tf.tidy(() => {
    const xs = inputs.map((i) => tf.tensor(i.data, i.shape));
    const r = f(...xs);
    out = (Array.isArray(r) ? r : [r]).map((t) => new Float32Array(t.dataSync()));
  });
  await tf.setBackend('cpu');
  return out;
}

/** |actual - expected| <= rtol * (|expected| + rms(expected)) everywhere. */
export function assertClose(actual: Float32Array, expected: Float32Array, rtol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let ss = 0;
  for (const v of expected) ss += v * v;
  const rms = Math.sqrt(ss / Math.max(1, expected.length)) || 1;
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] === expected[i]) continue;
    const tol = rtol * (Math.abs(expected[i]) + rms);
    if (!(Math.abs(actual[i] - expected[i]) <= tol) && !(Number.isNaN(actual[i]) && Number.isNaN(expected[i]))) {
      assert.fail(`${what}: element ${i} is ${actual[i]}, JS cpu gives ${expected[i]} (tolerance ${tol.toExponential(2)})`);
    }
  }
}

/**
 * Compares native with cpu on `f` and checks that each listed kernel ran in
 * the addon at least once.
 */
export async function parity(what: string, inputs: Input[], f: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[], kernels: string[], rtol = 1e-4): Promise<void> {
  const before = kernels.map((k) => nativeCalls[k] ?? 0);
  const got = await runOn('native', inputs, f);
  kernels.forEach((k, i) => assert.ok((nativeCalls[k] ?? 0) > before[i], `${what}: ${k} did not run natively`));
  const want = await runOn('cpu', inputs, f);
  assert.equal(got.length, want.length);
  got.forEach((g, i) => assertClose(g, want[i], rtol, `${what} output ${i}`));
}

export { createRng };
