// The augmentation's affine step in C++: the JS resampler's arithmetic
// (double coordinates, per-tap fill as scipy's grid modes), rows spread over
// the cores.
#include "resample.h"
#include <cmath>

namespace ck {
namespace {

// Maps tap index i into 0..len-1 by the fill mode; -1 means "use cval".
inline int64_t map_index(int64_t i, int64_t len, ResampleFill fill) {
  if (i >= 0 && i < len) return i;
  switch (fill) {
    case ResampleFill::kConstant:
      return -1;
    case ResampleFill::kNearest:
      return i < 0 ? 0 : len - 1;
    case ResampleFill::kReflect: {
      const int64_t period = 2 * len;
      int64_t k = i % period;
      if (k < 0) k += period;
      return k < len ? k : period - 1 - k;
    }
    default: {  // kWrap
      int64_t k = i % len;
      return k < 0 ? k + len : k;
    }
  }
}

}  // namespace

void resample_affine(const float* src, int n, int h, int w, int c, const double* mats, ResampleFill fill, float cval,
                     ResampleOrder order, float* dst) {
  const int64_t row_stride = int64_t(w) * c, img_stride = int64_t(h) * w * c;
  const int64_t rows = int64_t(n) * h;
  // A 150×150 RGB row is ~1,350 taps: enough rows per thread to pay for the wake-up.
#pragma omp parallel for schedule(static) if (rows * row_stride > (1 << 16))
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t b = r / h, y = r % h;
    const double* m = mats + b * 8;
    const double a0 = m[0], a1 = m[1], a2 = m[2], b0 = m[3], b1 = m[4], b2 = m[5];
    const float* img = src + b * img_stride;
    float* o = dst + b * img_stride + y * row_stride;
    const double rx = a1 * double(y) + a2, ry = b1 * double(y) + b2;
    for (int64_t x = 0; x < w; ++x, o += c) {
      const double ix = a0 * double(x) + rx, iy = b0 * double(x) + ry;
      if (order == ResampleOrder::kNearest) {
        // Math.round: halves go up.
        const int64_t xi = map_index(int64_t(std::floor(ix + 0.5)), w, fill);
        const int64_t yi = map_index(int64_t(std::floor(iy + 0.5)), h, fill);
        if (xi < 0 || yi < 0) {
          for (int ch = 0; ch < c; ++ch) o[ch] = cval;
        } else {
          const float* p = img + yi * row_stride + xi * c;
          for (int ch = 0; ch < c; ++ch) o[ch] = p[ch];
        }
        continue;
      }
      const double fx0 = std::floor(ix), fy0 = std::floor(iy);
      const int64_t x0 = int64_t(fx0), y0 = int64_t(fy0);
      const double fx = ix - fx0, fy = iy - fy0;
      const double w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy, w11 = fx * fy;
      if (x0 >= 0 && y0 >= 0 && x0 < w - 1 && y0 < h - 1) {
        const float* p = img + y0 * row_stride + x0 * c;
        for (int ch = 0; ch < c; ++ch) {
          const float* q = p + ch;
          o[ch] = float(w00 * q[0] + w01 * q[c] + w10 * q[row_stride] + w11 * q[row_stride + c]);
        }
        continue;
      }
      const int64_t xa = map_index(x0, w, fill), xb = map_index(x0 + 1, w, fill);
      const int64_t ya = map_index(y0, h, fill), yb = map_index(y0 + 1, h, fill);
      const float* p00 = ya < 0 || xa < 0 ? nullptr : img + ya * row_stride + xa * c;
      const float* p01 = ya < 0 || xb < 0 ? nullptr : img + ya * row_stride + xb * c;
      const float* p10 = yb < 0 || xa < 0 ? nullptr : img + yb * row_stride + xa * c;
      const float* p11 = yb < 0 || xb < 0 ? nullptr : img + yb * row_stride + xb * c;
      for (int ch = 0; ch < c; ++ch) {
        // Taps with zero weight are skipped so an exact edge coordinate never mixes in cval.
        double v = 0;
        if (w00 != 0) v += w00 * (p00 ? p00[ch] : cval);
        if (w01 != 0) v += w01 * (p01 ? p01[ch] : cval);
        if (w10 != 0) v += w10 * (p10 ? p10[ch] : cval);
        if (w11 != 0) v += w11 * (p11 ? p11[ch] : cval);
        o[ch] = float(v);
      }
    }
  }
}

}  // namespace ck
