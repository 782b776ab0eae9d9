/** The facts about the machine and backend that a report prints beside its timings. */
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';

export interface MachineInfo {
  /** TF.js backend convkit ran on (native, wasm, cpu). */
  backend?: string;
  threads?: number;
  cpu?: string;
  cores?: number;
  memoryGiB?: number;
  os?: string;
  node?: string;
  tfjs?: string;
  /** Anything else worth printing (library versions, ISA…). */
  details?: Record<string, string>;
}

/** Collects this machine's facts; `backend` is what initBackend() returned. */
export function machineInfo(backend?: { name: string; threads?: number; details?: Record<string, string> }): MachineInfo {
  const cpus = os.cpus();
  return {
    backend: backend?.name ?? tf.getBackend(),
    threads: backend?.threads,
    cpu: cpus[0]?.model?.trim(),
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    tfjs: tf.version.tfjs,
    details: backend?.details && Object.keys(backend.details).length ? { ...backend.details } : undefined,
  };
}
