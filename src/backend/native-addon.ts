/**
 * Loads the compiled oneDNN addon (build/Release/convkit_native.node) and
 * describes its functions. Each kernel entry returns false when oneDNN has
 * no implementation for a case, so callers can run the JS kernel instead.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { packageRoot } from '../util/paths.js';

export interface NativeAddon {
  /** kind 0 forward, 1 backward data, 2 backward filter; see native/conv.h for params. */
  conv(kind: number, params: Int32Array, alpha: number, a: Float32Array, b: Float32Array, bias: Float32Array | null, out: Float32Array): boolean;
  /** kind 0 max, 1 avg, 2 max backward, 3 avg backward; see native/pool.h. */
  pool(kind: number, params: Int32Array, a: Float32Array, b: Float32Array | null, out: Float32Array): boolean;
  /** params: batchA batchB M K N transA transB act hasBias. */
  matmul(params: Int32Array, alpha: number, a: Float32Array, b: Float32Array, bias: Float32Array | null, out: Float32Array): boolean;
  unary(op: number, x: Float32Array, out: Float32Array, alpha: number): void;
  binary(op: number, a: Float32Array, b: Float32Array, out: Float32Array): void;
  /** `small` [outer, 1, inner] repeated along the middle axis of `big` [outer, mid, inner]; smallFirst: small is the left operand. */
  binaryMid(op: number, big: Float32Array, small: Float32Array, out: Float32Array, outer: number, mid: number, inner: number, smallFirst: boolean): void;
  /** x viewed as [outer, mid, inner], summed over mid into [outer, inner], times scale. */
  sum(x: Float32Array, out: Float32Array, outer: number, mid: number, inner: number, scale: number): void;
  /** params [n, h, w, c, fill (0 constant, 1 nearest, 2 reflect, 3 wrap), order (0 nearest, 1 bilinear)]; see native/resample.h. */
  resample(params: Int32Array, matrices: Float64Array, cval: number, src: Float32Array, out: Float32Array): void;
  /** One fused optimizer step over [value, slot a, slot b, gradient] into 3 new arrays; see native/optimizer.h. kind 0 RMSprop, 1 Adam. */
  optimizerStep(kind: 0 | 1, inputs: Float32Array[], outputs: Float32Array[], scalars: Float32Array): void;
  info(): { onednn: string; isa: string; threads: number; cached: number; convImpl: string };
  setThreads(n: number): number;
}

export const addonPath = join(packageRoot(), 'build', 'Release', 'convkit_native.node');

let addon: NativeAddon | undefined;

/** The addon, loaded once; throws with the reason when it is missing or broken. */
export function loadAddon(): NativeAddon {
  if (addon) return addon;
  if (!existsSync(addonPath)) {
    throw new Error(`native addon not built (${addonPath} missing; install libdnnl-dev and run "npm install")`);
  }
  const require = createRequire(import.meta.url);
  // OpenMP threads that spin between kernels take a core from the JS thread
  // (and from anything else on the machine); sleeping costs microseconds.
  // libgomp reads this once, when the addon loads it; the variable is then
  // restored so child processes see the caller's environment.
  const own = process.env.OMP_WAIT_POLICY === undefined && process.env.GOMP_SPINCOUNT === undefined;
  if (own) process.env.OMP_WAIT_POLICY = 'passive';
  try {
    addon = require(addonPath) as NativeAddon;
  } finally {
    if (own) delete process.env.OMP_WAIT_POLICY;
  }
  return addon;
}

/** Whether the addon file exists (tests skip when it does not). */
export function addonBuilt(): boolean {
  return existsSync(addonPath);
}
