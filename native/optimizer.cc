// Fused optimizer updates: one pass over each weight array instead of a dozen
// eager TF.js ops (each a full read and write, and a new array). Every
// product, sum and quotient is a float32 operation in tfjs's order, so the
// results are the same bits.
#include "optimizer.h"
#include <cmath>

namespace ck {
namespace {
constexpr size_t kParallelMin = 1 << 16;
}

void rmsprop_step(const float* v, const float* ms, const float* mom, const float* g, float* v_out, float* ms_out,
                  float* mom_out, size_t n, float lr, float rho, float one_minus_rho, float momentum, float eps) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (size_t i = 0; i < n; ++i) {
    const float gi = g[i];
    const float a = ms[i] * rho;
    const float b = (gi * gi) * one_minus_rho;
    const float msi = a + b;
    const float root = std::sqrt(msi + eps);
    const float step = (gi * lr) / root;
    const float momi = mom[i] * momentum + step;
    ms_out[i] = msi;
    mom_out[i] = momi;
    v_out[i] = v[i] - momi;
  }
}

void adam_step(const float* v, const float* m, const float* s, const float* g, float* v_out, float* m_out, float* s_out,
               size_t n, float neg_lr, float b1, float one_minus_b1, float b2, float one_minus_b2, float c1, float c2,
               float eps) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (size_t i = 0; i < n; ++i) {
    const float gi = g[i];
    const float mi = m[i] * b1 + gi * one_minus_b1;
    const float si = s[i] * b2 + (gi * gi) * one_minus_b2;
    const float mhat = mi / c1;
    const float shat = si / c2;
    const float update = mhat / (std::sqrt(shat) + eps);
    m_out[i] = mi;
    s_out[i] = si;
    v_out[i] = update * neg_lr + v[i];
  }
}

}  // namespace ck
