#pragma once
#include <cstdint>
namespace ck {
// Affine resampling of a batch of NHWC float images, one 8-number matrix per
// image (tf.image.transform's layout, output → input pixel; c0 = c1 = 0).
// fill: 0 constant (cval), 1 nearest, 2 reflect, 3 wrap, applied to each
// interpolation tap; order: 0 nearest, 1 bilinear. Same results as
// src/augment/resample.ts, which is the reference.
void resample_affine(const float* src, int n, int h, int w, int c, const double* mats, int fill, float cval, int order,
                     float* dst);
}  // namespace ck
