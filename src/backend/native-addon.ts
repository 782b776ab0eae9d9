/**
 * Loads the compiled oneDNN addon (build/Release/convkit_native.node) and
 * describes its functions. Each kernel entry returns false when oneDNN has
 * no implementation for a case, so callers can run the JS kernel instead.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ConvkitError } from '../util/errors.js';
import { packageRoot } from '../util/paths.js';
import { elfShortfall } from './elf-check.js';
import type { BatchNormKind, BinaryOp, ConvKind, OptimizerKind, PoolKind, UnaryOp } from './opcodes.js';

/** The addon's entry points; the op codes and kinds are in ./opcodes.ts. */
export interface NativeAddon {
  /** params as native/conv.h lists them (act an Activation). */
  conv(kind: ConvKind, params: Int32Array, alpha: number, a: Float32Array, b: Float32Array, bias: Float32Array | null, out: Float32Array): boolean;
  /** See native/pool.h. */
  pool(kind: PoolKind, params: Int32Array, a: Float32Array, b: Float32Array | null, out: Float32Array): boolean;
  /** params: batchA batchB M K N transA transB act hasBias (act an Activation). */
  matmul(params: Int32Array, alpha: number, a: Float32Array, b: Float32Array, bias: Float32Array | null, out: Float32Array): boolean;
  unary(op: UnaryOp, x: Float32Array, out: Float32Array, alpha: number): void;
  binary(op: BinaryOp, a: Float32Array, b: Float32Array, out: Float32Array): void;
  /** `small` [outer, 1, inner] repeated along the middle axis of `big` [outer, mid, inner]; smallFirst: small is the left operand. */
  binaryMid(op: BinaryOp, big: Float32Array, small: Float32Array, out: Float32Array, outer: number, mid: number, inner: number, smallFirst: boolean): void;
  /** x viewed as [outer, mid, inner], summed over mid into [outer, inner], times scale. */
  sum(x: Float32Array, out: Float32Array, outer: number, mid: number, inner: number, scale: number): void;
  /** params [n, h, w, c, fill (a ResampleFill), order (a ResampleOrder)]; see native/resample.h. */
  resample(params: Int32Array, matrices: Float64Array, cval: number, src: Float32Array, out: Float32Array): void;
  /** One fused optimizer step over [value, slot a, slot b, gradient] into 3 new arrays; see native/optimizer.h. */
  optimizerStep(kind: OptimizerKind, inputs: Float32Array[], outputs: Float32Array[], scalars: Float32Array): void;
  /**
   * Batch normalization of x viewed as [rows, channels] (see native/bnorm.h for each kind's inputs and
   * outputs; null: an absent offset or scale of the inference kind).
   */
  batchNorm(kind: BatchNormKind, rows: number, channels: number, epsilon: number, inputs: (Float32Array | null)[], outputs: Float32Array[]): void;
  /** The measured FMA peak (GFLOPS) and core clock (GHz) on `threads` threads, best of `trials` runs of `seconds`; see native/peak.h. */
  calibrate(threads: number, seconds: number, trials: number): { gflops: number; isa: string; flopsPerInstruction: number; ghz: number };
  info(): { onednn: string; isa: string; threads: number; cached: number; convImpl: string };
  setThreads(n: number): number;
}

/** The addon file: CONVKIT_NATIVE_ADDON (another build of it) or the package's own build. */
export const addonPath = process.env.CONVKIT_NATIVE_ADDON || join(packageRoot(), 'build', 'Release', 'convkit_native.node');

let addon: NativeAddon | undefined;

/** A file cut short (an interrupted build or copy) would kill the process with SIGBUS when loaded. */
function checkWhole(path: string): void {
  const short = elfShortfall(path);
  if (short) throw new ConvkitError(`${path} is cut short (${short.size} of ${short.needed} bytes); rebuild it with "node scripts/build-native.mjs"`);
}

/** The addon, loaded once; throws with the reason when it is missing or broken. */
export function loadAddon(path = addonPath): NativeAddon {
  if (addon) return addon;
  if (!existsSync(path)) {
    throw new ConvkitError(`native addon not built (${path} missing; install libdnnl-dev and run "npm install")`);
  }
  checkWhole(path);
  const require = createRequire(import.meta.url);
  // OpenMP threads that spin between kernels take a core from the JS thread
  // (and from anything else on the machine); sleeping costs microseconds.
  // libgomp reads this once, when the addon loads it; the variable is then
  // restored so child processes see the caller's environment.
  const own = process.env.OMP_WAIT_POLICY === undefined && process.env.GOMP_SPINCOUNT === undefined;
  if (own) process.env.OMP_WAIT_POLICY = 'passive';
  try {
    addon = require(path) as NativeAddon;
  } finally {
    if (own) delete process.env.OMP_WAIT_POLICY;
  }
  return addon;
}

/** Whether the addon file exists (tests skip when it does not). */
export function addonBuilt(): boolean {
  return existsSync(addonPath);
}
