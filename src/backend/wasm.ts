/**
 * TF.js's WebAssembly backend, set up for Node: wasm files resolved from the
 * installed package.
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths, getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

const require = createRequire(import.meta.url);

export async function initWasm() {
  const distDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + '/';
  setWasmPaths(distDir);
  const ok = await tf.setBackend('wasm');
  if (!ok) throw new Error('tf.setBackend("wasm") failed');
  await tf.ready();
  return { name: 'wasm' as const, tfName: 'wasm', threads: getThreadsCount(), details: {} };
}
