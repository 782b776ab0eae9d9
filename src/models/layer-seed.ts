/** Seeds for the kernel initializers of convkit's model builders. */
import type { Rng } from '../util/rng.js';

/** A nonzero 31-bit seed drawn from `rng`: TF.js treats a seed of 0 as "unseeded". */
export function layerSeed(rng: Rng): number {
  return 1 + rng.int(0x7ffffffe);
}
