/**
 * Picks the fastest TensorFlow.js backend available in this process:
 * native (oneDNN addon) > wasm > cpu, or the one named by CONVKIT_BACKEND.
 * Each fallback prints one line saying why.
 */
import * as tf from '@tensorflow/tfjs';
import { ConvkitError } from '../util/errors.js';
import { installActivations } from './activations.js';
import { installBatchNormTraining } from './batch-norm-training.js';
import { installFusedConv } from './fused-conv.js';

export type { BackendName, BackendInfo } from './types.js';
import type { BackendName, BackendInfo } from './types.js';
export const BACKENDS: readonly BackendName[] = ['native', 'wasm', 'cpu'];

type Initializer = () => Promise<Omit<BackendInfo, 'notices'>>;

const initializers: Record<BackendName, Initializer> = {
  native: async () => (await import('./native.js')).initNative(),
  wasm: async () => (await import('./wasm.js')).initWasm(),
  cpu: async () => {
    await tf.setBackend('cpu');
    await tf.ready();
    return { name: 'cpu', tfName: 'cpu', threads: 1, details: {} };
  },
};

let current: BackendInfo | undefined;
let pending: Promise<BackendInfo> | undefined;

/**
 * Initializes the backend once per process. `preferred` (or the
 * CONVKIT_BACKEND variable) forces one backend and fails if it cannot start.
 */
export function initBackend(preferred?: BackendName, log: (line: string) => void = (l) => console.error(l)): Promise<BackendInfo> {
  if (current && (!preferred || preferred === current.name)) return Promise.resolve(current);
  if (pending && !preferred) return pending;
  pending = selectBackend(preferred, log).then((info) => (current = info));
  return pending;
}

async function selectBackend(preferred: BackendName | undefined, log: (line: string) => void): Promise<BackendInfo> {
  quietCpuBackend();
  installActivations();
  installFusedConv();
  installBatchNormTraining();
  const fromEnv = process.env.CONVKIT_BACKEND;
  if (!preferred && fromEnv) {
    if (!BACKENDS.includes(fromEnv as BackendName)) {
      throw new ConvkitError(`invalid CONVKIT_BACKEND: ${JSON.stringify(fromEnv)}`, `use one of ${BACKENDS.join(', ')}`);
    }
    preferred = fromEnv as BackendName;
  }
  if (preferred) {
    const info = await initializers[preferred]();
    return { ...info, notices: [] };
  }
  const notices: string[] = [];
  for (const name of BACKENDS) {
    try {
      const info = await initializers[name]();
      for (const n of notices) log(`convkit: ${n}`);
      return { ...info, notices };
    } catch (err) {
      // Where the native backend must run (CI), falling back would hide a broken build.
      if (name === 'native' && process.env.CONVKIT_REQUIRE_NATIVE === '1')
        throw new ConvkitError(
          `CONVKIT_REQUIRE_NATIVE=1 but the native backend cannot start: ${(err as Error).message.split('\n')[0]}`,
          'install libdnnl-dev and run node scripts/build-native.mjs',
        );
      notices.push(`${name} backend unavailable (${(err as Error).message.split('\n')[0]}); falling back`);
    }
  }
  throw new ConvkitError('no TensorFlow.js backend could start', notices.join('; '));
}

/**
 * The JS cpu backend (wasm's helper kernels run on it) prints, on its first
 * write, a suggestion to install tfjs-node, which convkit replaces: not shown.
 */
function quietCpuBackend(): void {
  const cpu = tf.findBackend('cpu') as { firstUse?: boolean } | null;
  if (cpu && 'firstUse' in cpu) cpu.firstUse = false;
}

/** The backend chosen so far, if any. */
export function backendInfo(): BackendInfo | undefined {
  return current;
}
