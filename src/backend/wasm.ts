/**
 * TF.js's WebAssembly backend, set up for Node: the SIMD binary with one
 * XNNPACK thread per core, plus the composed training kernels of
 * ./wasm-kernels.js (Conv2DBackpropFilter is missing as shipped).
 *
 * As shipped, tfjs-backend-wasm never uses threads in Node: its
 * WASM_HAS_MULTITHREAD_SUPPORT flag is false there, and its pthread workers
 * would be started from blob: URLs, which Node's worker_threads cannot load.
 * ./wasm-threads.js instantiates the threaded-SIMD module itself with the
 * worker script written to a file; if that fails the single-threaded SIMD
 * module is used and a notice says why.
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths, getThreadsCount, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import os from 'node:os';
import { ConvkitError } from '../util/errors.js';
import type { BackendInfo } from './types.js';
import { registerWasmTrainingKernels } from './wasm-kernels.js';
import { MAX_THREADS, registerThreadedWasm, restoreShippedWasm } from './wasm-threads.js';

const require = createRequire(import.meta.url);

export interface WasmOptions {
  /** XNNPACK threads (default: CONVKIT_WASM_THREADS, else one per core). 1 = single-threaded module. */
  threads?: number;
}

/** Threads wanted: option, then CONVKIT_WASM_THREADS, then the core count. */
export function wantedThreads(opts: WasmOptions = {}): number {
  if (opts.threads !== undefined) return Math.max(1, Math.floor(opts.threads));
  const env = process.env.CONVKIT_WASM_THREADS;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) {
      throw new ConvkitError(`invalid CONVKIT_WASM_THREADS: ${JSON.stringify(env)}`, 'use a whole number ≥ 1 (1 = single-threaded)');
    }
    return n;
  }
  return Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
}

export async function initWasm(opts: WasmOptions = {}, log: (line: string) => void = (l) => console.error(l)): Promise<Omit<BackendInfo, 'notices'>> {
  const threads = Math.min(wantedThreads(opts), MAX_THREADS);
  const notices: string[] = [];
  let mode = 'simd';
  if (threads > 1) {
    try {
      await registerThreadedWasm(threads);
      mode = 'threaded-simd';
    } catch (err) {
      notices.push(`wasm threads unavailable (${(err as Error).message.split('\n')[0]}); running single-threaded`);
    }
  }
  if (mode === 'simd') {
    setWasmPaths(dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + '/');
    setThreadsCount(1);
  }
  let ok = await tf.setBackend('wasm');
  if (!ok && mode === 'threaded-simd') {
    notices.push('wasm threaded module failed to start; running single-threaded');
    restoreShippedWasm();
    setWasmPaths(dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + '/');
    setThreadsCount(1);
    mode = 'simd';
    ok = await tf.setBackend('wasm');
  }
  if (!ok) throw new Error('tf.setBackend("wasm") failed');
  await tf.ready();
  registerWasmTrainingKernels();
  for (const n of notices) log(`convkit: ${n}`);
  const details: Record<string, string> = {
    wasmModule: mode,
    wasmTrainingKernels: 'Conv2DBackpropFilter, Conv2DBackpropInput (composed on XNNPACK Conv2D)',
  };
  if (notices.length) details.wasmNotice = notices.join('; ');
  return { name: 'wasm', tfName: 'wasm', threads: getThreadsCount(), details };
}
