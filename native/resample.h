#pragma once
#include <cstdint>
#include "opcodes.h"
namespace ck {
// Affine resampling of a batch of NHWC float images, one 8-number matrix per
// image (tf.image.transform's layout, output → input pixel; c0 = c1 = 0).
// fill (kConstant fills with cval) applies to each interpolation tap. Same
// results as src/augment/resample.ts, which is the reference.
void resample_affine(const float* src, int n, int h, int w, int c, const double* mats, ResampleFill fill, float cval,
                     ResampleOrder order, float* dst);
}  // namespace ck
