/**
 * Beta-distributed draws from the seeded Rng, for the mixing weight of
 * MixUp and CutMix (λ ~ Beta(α, α)): two Gamma draws, X / (X + Y).
 */
import type { Rng } from '../util/rng.js';

/** Gamma(shape, 1) by Marsaglia and Tsang's method; shapes below 1 are boosted (Gamma(a + 1) · U^(1/a)). */
function sampleGamma(shape: number, rng: Rng): number {
  if (shape < 1) {
    const boosted = sampleGamma(shape + 1, rng);
    // 1 - next() is in (0, 1]: never a zero power of a zero.
    return boosted * Math.pow(1 - rng.next(), 1 / shape);
  }
  const d = shape - 1 / 3,
    c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number, v: number;
    do {
      x = rng.normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - rng.next();
    if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** One draw from Beta(a, b) (a, b > 0). */
export function sampleBeta(a: number, b: number, rng: Rng): number {
  const x = sampleGamma(a, rng),
    y = sampleGamma(b, rng);
  // Tiny shapes can underflow both draws to 0: the limit puts all mass on 0 or 1, about evenly.
  if (x + y === 0) return rng.next() < a / (a + b) ? 1 : 0;
  return x / (x + y);
}
