#pragma once
#include <cstddef>
namespace ck {
// One RMSprop step (tfjs's non-centred RMSPropOptimizer, op for op in float32):
//   ms' = ms·rho + g²·(1 − rho); mom' = mom·momentum + g·lr / sqrt(ms' + eps); v' = v − mom'
void rmsprop_step(const float* v, const float* ms, const float* mom, const float* g, float* v_out, float* ms_out,
                  float* mom_out, size_t n, float lr, float rho, float one_minus_rho, float momentum, float eps);
// One Adam step (tfjs's AdamOptimizer, op for op in float32):
//   m' = m·b1 + g·(1 − b1); s' = s·b2 + g²·(1 − b2); v' = (m'/c1) / (sqrt(s'/c2) + eps) · (−lr) + v
// with c1 = 1 − b1^t, c2 = 1 − b2^t.
void adam_step(const float* v, const float* m, const float* s, const float* g, float* v_out, float* m_out, float* s_out,
               size_t n, float neg_lr, float b1, float one_minus_b1, float b2, float one_minus_b2, float c1, float c2,
               float eps);
}  // namespace ck
