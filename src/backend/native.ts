/**
 * The oneDNN-backed native backend: TF.js's `cpu` backend (tensors in plain
 * typed arrays) with its heavy kernels replaced by calls into the addon,
 * which reads and writes those arrays in place.
 */
import * as tf from '@tensorflow/tfjs';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { BackendInfo } from './types.js';
import { outputPool } from './buffer-pool.js';
import { loadAddon, type NativeAddon } from './native-addon.js';
import { installActivations } from './activations.js';
import { installBatchNormTraining } from './batch-norm-training.js';
import { installFusedConv } from './fused-conv.js';
import { extraNativeKernelConfigs, nativeKernelConfigs, NATIVE_KERNEL_NAMES } from './native-kernels.js';

export { addonPath, addonBuilt } from './native-addon.js';
export { NATIVE_KERNEL_NAMES, nativeCalls } from './native-kernels.js';

export const NATIVE_BACKEND = 'native';

type DataId = Parameters<MathBackendCPU['readSync']>[0];
type Values = Parameters<MathBackendCPU['write']>[0];

class NativeBackend extends MathBackendCPU {
  constructor() {
    super();
    // The cpu backend's first write suggests installing tfjs-node; not relevant here.
    (this as unknown as { firstUse: boolean }).firstUse = false;
  }

  // The output pool learns which tensors hold each of its buffers, and which buffers left the backend.
  override write(values: Values, shape: number[], dtype: tf.DataType): DataId {
    outputPool.hold(values);
    return super.write(values, shape, dtype);
  }

  override move(dataId: DataId, values: Values, shape: number[], dtype: tf.DataType, refCount: number): void {
    outputPool.hold(values);
    super.move(dataId, values, shape, dtype, refCount);
  }

  override readSync(dataId: DataId): tf.backend_util.BackendValues {
    if (this.data.has(dataId)) outputPool.expose(this.data.get(dataId).values);
    return super.readSync(dataId);
  }

  override disposeData(dataId: DataId, force = false): boolean {
    const values = this.data.has(dataId) ? this.data.get(dataId).values : undefined;
    const released = super.disposeData(dataId, force);
    if (values && !this.data.has(dataId)) outputPool.release(values);
    return released;
  }

  override dispose(): void {
    outputPool.clear();
    super.dispose();
  }
}

let registered: NativeAddon | undefined;

/** Registers the `native` backend and its kernels once; returns the addon. */
export function registerNative(): NativeAddon {
  if (registered) return registered;
  const addon = loadAddon();
  installActivations();
  installFusedConv();
  installBatchNormTraining();
  if (tf.getKernelsForBackend('cpu').length === 0) throw new Error('TF.js cpu kernels are not registered');
  if (!tf.findBackendFactory(NATIVE_BACKEND)) tf.registerBackend(NATIVE_BACKEND, () => new NativeBackend(), 0);
  const have = new Set(tf.getKernelsForBackend(NATIVE_BACKEND).map((k) => k.kernelName));
  for (const cfg of [...nativeKernelConfigs(addon, tf.getKernelsForBackend('cpu'), NATIVE_BACKEND), ...extraNativeKernelConfigs(addon, NATIVE_BACKEND)]) {
    if (!have.has(cfg.kernelName)) tf.registerKernel(cfg);
  }
  registered = addon;
  return addon;
}

/** The addon when the native backend is the one TF.js is using, else undefined. */
export function activeNativeAddon(): NativeAddon | undefined {
  return registered && tf.getBackend() === NATIVE_BACKEND ? registered : undefined;
}

export async function initNative(): Promise<Omit<BackendInfo, 'notices'>> {
  const addon = registerNative();
  if (!(await tf.setBackend(NATIVE_BACKEND))) throw new Error('tf.setBackend("native") failed');
  await tf.ready();
  const info = addon.info();
  return {
    name: 'native',
    tfName: NATIVE_BACKEND,
    threads: info.threads,
    details: {
      onednn: info.onednn,
      isa: info.isa,
      convImpl: info.convImpl,
      kernels: String(NATIVE_KERNEL_NAMES.length),
    },
  };
}
