/**
 * A DCT perceptual hash (pHash): the 8×8 lowest frequencies of a 32×32
 * grayscale image, each bit saying whether a coefficient lies above their
 * median. Re-encoding, resizing and small crops change few bits. A mirror
 * image negates the odd horizontal frequencies, so its hash comes from the
 * same transform.
 */

const N = 32;
const LOW = 8;

/** cos((2x + 1) u π / 2N), the DCT-II basis, computed once. */
const BASIS: Float64Array = (() => {
  const b = new Float64Array(LOW * N);
  for (let u = 0; u < LOW; u++) for (let x = 0; x < N; x++) b[u * N + x] = Math.cos(((2 * x + 1) * u * Math.PI) / (2 * N));
  return b;
})();

/** The 8×8 low-frequency DCT coefficients [v][u] of a 32×32 grayscale image (row-major). */
function lowDct(gray: ArrayLike<number>): Float64Array {
  const rows = new Float64Array(N * LOW); // per image row y, horizontal frequency u
  for (let y = 0; y < N; y++) {
    for (let u = 0; u < LOW; u++) {
      let s = 0;
      for (let x = 0; x < N; x++) s += gray[y * N + x]! * BASIS[u * N + x]!;
      rows[y * LOW + u] = s;
    }
  }
  const out = new Float64Array(LOW * LOW);
  for (let v = 0; v < LOW; v++) {
    for (let u = 0; u < LOW; u++) {
      let s = 0;
      for (let y = 0; y < N; y++) s += rows[y * LOW + u]! * BASIS[v * N + y]!;
      out[v * LOW + u] = s;
    }
  }
  return out;
}

/** 64 bits as 16 hex digits: coefficient > median of the 63 AC ones (the DC term carries brightness only). */
function bits(coeffs: Float64Array): string {
  const ac = Array.from(coeffs.subarray(1)).sort((a, b) => a - b);
  const median = (ac[31]! + ac[32]!) / 2;
  let hex = '';
  for (let nibble = 0; nibble < 16; nibble++) {
    let v = 0;
    for (let k = 0; k < 4; k++) v = (v << 1) | (coeffs[nibble * 4 + k]! > median ? 1 : 0);
    hex += v.toString(16);
  }
  return hex;
}

/** The hash of a 32×32 grayscale image and of its mirror image. */
export function perceptualHashes(gray: ArrayLike<number>): { hash: string; mirror: string } {
  if (gray.length !== N * N) throw new Error(`perceptualHashes needs ${N}×${N} pixels, got ${gray.length}`);
  const c = lowDct(gray);
  const flipped = c.map((value, i) => ((i % LOW) % 2 === 1 ? -value : value));
  return { hash: bits(c), mirror: bits(flipped) };
}

/** Size of the image a hash is computed from. */
export const HASH_SIDE = N;

const POPCOUNT = new Uint8Array(256).map((_, i) => {
  let n = 0;
  for (let v = i; v; v >>= 1) n += v & 1;
  return n;
});

/** A hex hash as 8 bytes, for fast comparison. */
export function hashBytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g)!.map((h) => parseInt(h, 16)));
}

/** Bits that differ between two 8-byte hashes. */
export function hammingDistance(a: Uint8Array, b: Uint8Array, aOffset = 0, bOffset = 0): number {
  let d = 0;
  for (let i = 0; i < 8; i++) d += POPCOUNT[a[aOffset + i]! ^ b[bOffset + i]!]!;
  return d;
}
