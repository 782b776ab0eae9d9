// Calibration loops for the bench's "% of peak": enough independent FMA
// chains to fill every FMA pipe (latency 4–5 cycles × 2 pipes), each
// converging to 1 so no value overflows or turns denormal.
#include "peak.h"
#include <immintrin.h>
#include <omp.h>
#include <algorithm>
#include <chrono>
#include <vector>

namespace ck {
namespace {

__attribute__((target("avx512f"))) float fma_avx512(int64_t iters) {
  const __m512 b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-6f);
  __m512 a[16];
  for (int k = 0; k < 16; ++k) a[k] = _mm512_set1_ps(1.f + k * 1e-3f);
  for (int64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 16
    for (int k = 0; k < 16; ++k) a[k] = _mm512_fmadd_ps(a[k], b, c);
  }
  __m512 s = a[0];
  for (int k = 1; k < 16; ++k) s = _mm512_add_ps(s, a[k]);
  float out[16];  // (_mm512_reduce_add_ps trips a false -Wuninitialized in GCC 12's header)
  _mm512_storeu_ps(out, s);
  float total = 0.f;
  for (float v : out) total += v;
  return total;
}
constexpr int kAvx512Flops = 16 * 16 * 2;  // per iteration

__attribute__((target("avx2,fma"))) float fma_avx2(int64_t iters) {
  const __m256 b = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-6f);
  __m256 a[12];
  for (int k = 0; k < 12; ++k) a[k] = _mm256_set1_ps(1.f + k * 1e-3f);
  for (int64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 12
    for (int k = 0; k < 12; ++k) a[k] = _mm256_fmadd_ps(a[k], b, c);
  }
  __m256 s = a[0];
  for (int k = 1; k < 12; ++k) s = _mm256_add_ps(s, a[k]);
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0] + out[1] + out[2] + out[3] + out[4] + out[5] + out[6] + out[7];
}
constexpr int kAvx2Flops = 12 * 8 * 2;

float mul_add_sse(int64_t iters) {
  const __m128 b = _mm_set1_ps(0.999999f), c = _mm_set1_ps(1e-6f);
  __m128 a[8];
  for (int k = 0; k < 8; ++k) a[k] = _mm_set1_ps(1.f + k * 1e-3f);
  for (int64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 8
    for (int k = 0; k < 8; ++k) a[k] = _mm_add_ps(_mm_mul_ps(a[k], b), c);
  }
  __m128 s = a[0];
  for (int k = 1; k < 8; ++k) s = _mm_add_ps(s, a[k]);
  float out[4];
  _mm_storeu_ps(out, s);
  return out[0] + out[1] + out[2] + out[3];
}
constexpr int kSseFlops = 8 * 4 * 2;

uint64_t add_chain(int64_t iters) {
  uint64_t x = 0;
  for (int64_t i = 0; i < iters; ++i) asm volatile(".rept 64\n\tadd $1, %0\n\t.endr" : "+r"(x));
  return x;
}
constexpr int kAddsPerIteration = 64;

volatile float g_sink;

// Seconds each of `threads` threads takes for `iters` iterations of f, all running at once. Each thread
// times itself: on a shared machine the threads are not always descheduled together.
template <typename F>
std::vector<double> timed(int threads, int64_t iters, F f) {
  std::vector<double> seconds(threads, 0.0);
#pragma omp parallel num_threads(threads)
  {
    const auto t0 = std::chrono::steady_clock::now();
    g_sink = float(f(iters));
    seconds[omp_get_thread_num()] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  return seconds;
}

// Iterations per second of all threads together: each thread's best rate over `trials` runs of about
// `seconds`, summed.
template <typename F>
double best_rate(int threads, double seconds, int trials, F f) {
  int64_t iters = 1 << 12;
  double t = 0;
  while ((t = timed(1, iters, f)[0]) < 0.01) iters *= 4;
  iters = std::max<int64_t>(1, int64_t(double(iters) * seconds / t));
  std::vector<double> best(threads, 0.0);
  for (int k = 0; k < std::max(1, trials); ++k) {
    const auto s = timed(threads, iters, f);
    for (int i = 0; i < threads; ++i)
      if (s[i] > 0) best[i] = std::max(best[i], double(iters) / s[i]);
  }
  double total = 0;
  for (double b : best) total += b;
  return total;
}

}  // namespace

FmaPeak fma_gflops(int threads, double seconds, int trials) {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f"))
    return {best_rate(threads, seconds, trials, fma_avx512) * kAvx512Flops / 1e9, "avx512", 32};
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return {best_rate(threads, seconds, trials, fma_avx2) * kAvx2Flops / 1e9, "avx2", 16};
  return {best_rate(threads, seconds, trials, mul_add_sse) * kSseFlops / 1e9, "sse", 8};
}

double clock_ghz(int threads, double seconds, int trials) {
  return best_rate(threads, seconds, trials, add_chain) / threads * kAddsPerIteration / 1e9;
}

}  // namespace ck
