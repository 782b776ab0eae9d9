/**
 * The affine matrix of a TransformParams, composed as Keras's
 * `apply_affine_transform` (rotation · shift · shear · zoom, about the image
 * centre), in the form `tf.image.transform` takes: [a0, a1, a2, b0, b1, b2,
 * c0, c1] mapping an OUTPUT pixel (x = column, y = row) to the INPUT point
 * (a0·x + a1·y + a2, b0·x + b1·y + b2). Flips are folded in, since Keras
 * flips the output of the affine step.
 *
 * Two deliberate departures from Keras's code, both bugs there: the centre
 * is ((w-1)/2, (h-1)/2) for non-square images too (Keras swaps h and w), and
 * tx/ty are the horizontal/vertical shifts their names promise (Keras draws
 * tx from height_shift_range and then applies it horizontally).
 */
import type { TransformParams } from './sample.js';

type Mat3 = [number, number, number, number, number, number, number, number, number];

function mul(a: Mat3, b: Mat3): Mat3 {
  const r = new Array(9).fill(0) as Mat3;
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      r[i * 3 + j] = a[i * 3]! * b[j]! + a[i * 3 + 1]! * b[3 + j]! + a[i * 3 + 2]! * b[6 + j]!;
    }
  }
  return r;
}

const deg = (d: number): number => (d * Math.PI) / 180;

/** The 8 projective coefficients (c0 = c1 = 0) for an image of `[height, width]`. */
export function transformMatrix(t: TransformParams, [h, w]: readonly [number, number]): number[] {
  let m: Mat3 = [1, 0, 0, 0, 1, 0, 0, 0, 1];
  if (t.theta !== 0) {
    const c = Math.cos(deg(t.theta)),
      s = Math.sin(deg(t.theta));
    m = mul(m, [c, -s, 0, s, c, 0, 0, 0, 1]);
  }
  if (t.tx !== 0 || t.ty !== 0) m = mul(m, [1, 0, t.tx, 0, 1, t.ty, 0, 0, 1]);
  if (t.shear !== 0) {
    const s = deg(t.shear);
    m = mul(m, [1, -Math.sin(s), 0, 0, Math.cos(s), 0, 0, 0, 1]);
  }
  if (t.zx !== 1 || t.zy !== 1) m = mul(m, [t.zx, 0, 0, 0, t.zy, 0, 0, 0, 1]);
  const cx = (w - 1) / 2,
    cy = (h - 1) / 2;
  m = mul(mul([1, 0, cx, 0, 1, cy, 0, 0, 1], m), [1, 0, -cx, 0, 1, -cy, 0, 0, 1]);
  if (t.flipHorizontal) m = mul(m, [-1, 0, w - 1, 0, 1, 0, 0, 0, 1]);
  if (t.flipVertical) m = mul(m, [1, 0, 0, 0, -1, h - 1, 0, 0, 1]);
  return [m[0], m[1], m[2], m[3], m[4], m[5], 0, 0];
}

/** True when the matrix leaves every pixel where it is (so resampling can be skipped). */
export function isIdentityMatrix(m: readonly number[]): boolean {
  const eps = 1e-9;
  return (
    Math.abs(m[0]! - 1) < eps && Math.abs(m[1]!) < eps && Math.abs(m[2]!) < eps && Math.abs(m[3]!) < eps && Math.abs(m[4]! - 1) < eps && Math.abs(m[5]!) < eps
  );
}
