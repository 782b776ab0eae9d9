// Batch normalization over the rows of channels-last data, forward and
// backward: one pass for the per-channel sums and one for the output, where
// TF.js's composed ops take a dozen full passes. The loops are memory-bound;
// they are compiled for AVX-512, AVX2 and plain x86-64 and the CPU picks one.
#include "bnorm.h"
#include <omp.h>
#include <algorithm>
#include <cmath>
#include <vector>

namespace ck {
namespace {

// Below this many elements one thread is faster (see eltwise.cc).
constexpr int64_t kParallelMin = 1 << 17;

#define CK_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

// s1 += Σ (x − shift), s2 += Σ (x − shift)² over rows [lo, hi). Summing
// around a value near the data (the first row) keeps the variance exact in
// double however large the mean.
CK_CLONES void shifted_sums(const float* __restrict x, int64_t lo, int64_t hi, int64_t C, const double* __restrict shift,
                            double* __restrict s1, double* __restrict s2) {
  for (int64_t r = lo; r < hi; ++r) {
    const float* xr = x + r * C;
    for (int64_t c = 0; c < C; ++c) {
      const double d = double(xr[c]) - shift[c];
      s1[c] += d;
      s2[c] += d * d;
    }
  }
}

// The forward output (x − mean)·a + b, rounded to float as it is stored.
inline float normalized(float x, double mean, double a, double b) { return float((double(x) - mean) * a + b); }

// dy through a following ReLU at the forward output y = (x − mean)·ya + yb, with ReluGrad's arithmetic
// (eltwise.cc: dy·[y > 0], NaN through), branch-free so that the loops vectorize; dy itself without one.
template <bool Relu>
inline float gated(float dy, float x, double mean, double ya, double yb) {
  if constexpr (Relu) {
    const float y = normalized(x, mean, ya, yb);
    const float s = float(y > 0.f);
    return dy * (y == y ? s : y);
  }
  return dy;
}

// sdy += Σ dy, sdyx += Σ dy·(x − mean) over rows [lo, hi) (dy gated by the ReLU when there is one).
template <bool Relu>
CK_CLONES void grad_sums(const float* __restrict dy, const float* __restrict x, int64_t lo, int64_t hi, int64_t C,
                         const double* __restrict mean, const double* __restrict ya, const double* __restrict yb,
                         double* __restrict sdy, double* __restrict sdyx) {
  for (int64_t r = lo; r < hi; ++r) {
    const float* g = dy + r * C;
    const float* xr = x + r * C;
    for (int64_t c = 0; c < C; ++c) {
      const double gd = gated<Relu>(g[c], xr[c], mean[c], ya[c], yb[c]);
      sdy[c] += gd;
      sdyx[c] += gd * (double(xr[c]) - mean[c]);
    }
  }
}

// y = (x − mean)·a + b over rows [lo, hi), then max(y, 0) with Relu.
template <bool Relu>
CK_CLONES void affine(const float* __restrict x, int64_t lo, int64_t hi, int64_t C, const double* __restrict mean,
                      const double* __restrict a, const double* __restrict b, float* __restrict y) {
  for (int64_t r = lo; r < hi; ++r) {
    const float* xr = x + r * C;
    float* yr = y + r * C;
    for (int64_t c = 0; c < C; ++c) {
      const float v = normalized(xr[c], mean[c], a[c], b[c]);
      yr[c] = Relu ? (v > 0.f ? v : (v == v ? 0.f : v)) : v;  // eltwise.cc's Relu, to the bit
    }
  }
}

// dx = dy·a − (x − mean)·k − b over rows [lo, hi) (dy gated by the ReLU when there is one).
template <bool Relu>
CK_CLONES void grad_input(const float* __restrict dy, const float* __restrict x, int64_t lo, int64_t hi, int64_t C,
                          const double* __restrict mean, const double* __restrict a, const double* __restrict k,
                          const double* __restrict b, const double* __restrict ya, const double* __restrict yb,
                          float* __restrict dx) {
  for (int64_t r = lo; r < hi; ++r) {
    const float* g = dy + r * C;
    const float* xr = x + r * C;
    float* o = dx + r * C;
    for (int64_t c = 0; c < C; ++c) {
      const double gd = gated<Relu>(g[c], xr[c], mean[c], ya[c], yb[c]);
      o[c] = float(gd * a[c] - (double(xr[c]) - mean[c]) * k[c] - b[c]);
    }
  }
}

int threads_for_size(int64_t n) { return n < kParallelMin ? 1 : omp_get_max_threads(); }

// Rows [lo, hi) of thread t of nt.
void row_range(int64_t rows, int t, int nt, int64_t& lo, int64_t& hi) {
  const int64_t chunk = (rows + nt - 1) / nt;
  lo = std::min(rows, t * chunk);
  hi = std::min(rows, lo + chunk);
}

// f(lo, hi, t) on every thread's rows; returns the thread count used.
template <typename F>
int over_rows(int64_t rows, int64_t C, F f) {
  const int nt = int(std::min<int64_t>(threads_for_size(rows * C), rows));
  if (nt <= 1) {
    f(int64_t(0), rows, 0);
    return 1;
  }
#pragma omp parallel num_threads(nt)
  {
    const int t = omp_get_thread_num();
    int64_t lo, hi;
    row_range(rows, t, omp_get_num_threads(), lo, hi);
    f(lo, hi, t);
  }
  return nt;
}

// Per-thread pairs of per-channel sums, added up in thread order.
struct Sums {
  int64_t C;
  std::vector<double> part;
  Sums(int64_t channels, int threads) : C(channels), part(size_t(threads) * 2 * channels, 0.0) {}
  double* first(int t) { return part.data() + size_t(t) * 2 * C; }
  double* second(int t) { return first(t) + C; }
  void total(int used, std::vector<double>& s1, std::vector<double>& s2) {
    s1.assign(C, 0.0);
    s2.assign(C, 0.0);
    for (int t = 0; t < used; ++t)
      for (int64_t c = 0; c < C; ++c) {
        s1[c] += first(t)[c];
        s2[c] += second(t)[c];
      }
  }
};

// A parameter of C values or 1 (broadcast), or null (`fallback`), as C doubles.
std::vector<double> per_channel(const float* p, int64_t len, int64_t C, double fallback) {
  std::vector<double> v(C, fallback);
  if (p)
    for (int64_t c = 0; c < C; ++c) v[c] = p[len == 1 ? 0 : c];
  return v;
}

void inference(int64_t rows, int64_t C, double eps, const float* const* in, const int64_t* lens, float* y) {
  auto mean = per_channel(in[1], lens[1], C, 0.0), var = per_channel(in[2], lens[2], C, 0.0),
       offset = per_channel(in[3], lens[3], C, 0.0), scale = per_channel(in[4], lens[4], C, 1.0);
  std::vector<double> a(C);
  for (int64_t c = 0; c < C; ++c) a[c] = scale[c] / std::sqrt(var[c] + eps);
  over_rows(rows, C, [&](int64_t lo, int64_t hi, int) { affine<false>(in[0], lo, hi, C, mean.data(), a.data(), offset.data(), y); });
}

template <bool Relu>
void train_forward(int64_t rows, int64_t C, double eps, const float* const* in, float* const* out) {
  const float* x = in[0];
  auto gamma = per_channel(in[1], C, C, 1.0), beta = per_channel(in[2], C, C, 0.0);
  std::vector<double> shift(x, x + C);
  const int nt = int(std::min<int64_t>(threads_for_size(rows * C), rows));
  Sums sums(C, nt);
  const int used = over_rows(rows, C, [&](int64_t lo, int64_t hi, int t) {
    shifted_sums(x, lo, hi, C, shift.data(), sums.first(t), sums.second(t));
  });
  std::vector<double> s1, s2, mean(C), a(C);
  sums.total(used, s1, s2);
  const double n = double(rows);
  for (int64_t c = 0; c < C; ++c) {
    const double d = s1[c] / n;
    // y from the float moments that train_backward receives, so that it can recompute y exactly (the ReLU's gate).
    out[1][c] = float(shift[c] + d);
    out[2][c] = float(std::max(0.0, s2[c] / n - d * d));
    mean[c] = out[1][c];
    a[c] = gamma[c] / std::sqrt(double(out[2][c]) + eps);
  }
  over_rows(rows, C, [&](int64_t lo, int64_t hi, int) { affine<Relu>(x, lo, hi, C, mean.data(), a.data(), beta.data(), out[0]); });
}

template <bool Relu>
void train_backward(int64_t rows, int64_t C, double eps, const float* const* in, float* const* out) {
  const float *dy = in[0], *x = in[1];
  auto mean = per_channel(in[2], C, C, 0.0), var = per_channel(in[3], C, C, 0.0), gamma = per_channel(in[4], C, C, 1.0);
  // The forward output's scale and shift, exactly as train_forward computed them, to recompute y for the ReLU's gate.
  auto yb = per_channel(Relu ? in[5] : nullptr, C, C, 0.0);
  std::vector<double> ya(C);
  for (int64_t c = 0; c < C; ++c) ya[c] = gamma[c] / std::sqrt(var[c] + eps);
  const int nt = int(std::min<int64_t>(threads_for_size(rows * C), rows));
  Sums sums(C, nt);
  const int used = over_rows(rows, C, [&](int64_t lo, int64_t hi, int t) {
    grad_sums<Relu>(dy, x, lo, hi, C, mean.data(), ya.data(), yb.data(), sums.first(t), sums.second(t));
  });
  std::vector<double> sdy, sdyx, a(C), k(C), b(C);
  sums.total(used, sdy, sdyx);
  const double n = double(rows);
  for (int64_t c = 0; c < C; ++c) {
    const double rstd = 1.0 / std::sqrt(var[c] + eps);
    const double dgamma = sdyx[c] * rstd;
    out[1][c] = float(dgamma);
    out[2][c] = float(sdy[c]);
    // dx = γ·rstd·(dy − dβ/N − x̂·dγ/N) with x̂ = (x − μ)·rstd
    a[c] = gamma[c] * rstd;
    k[c] = a[c] * dgamma * rstd / n;
    b[c] = a[c] * sdy[c] / n;
  }
  over_rows(rows, C, [&](int64_t lo, int64_t hi, int) {
    grad_input<Relu>(dy, x, lo, hi, C, mean.data(), a.data(), k.data(), b.data(), ya.data(), yb.data(), out[0]);
  });
}

}  // namespace

void batch_norm(BatchNormKind kind, int64_t rows, int64_t channels, double eps, const float* const* in,
                const int64_t* lens, float* const* out) {
  switch (kind) {
    case BatchNormKind::kInference: inference(rows, channels, eps, in, lens, out[0]); break;
    case BatchNormKind::kTrainForward: train_forward<false>(rows, channels, eps, in, out); break;
    case BatchNormKind::kTrainBackward: train_backward<false>(rows, channels, eps, in, out); break;
    case BatchNormKind::kTrainForwardRelu: train_forward<true>(rows, channels, eps, in, out); break;
    case BatchNormKind::kTrainBackwardRelu: train_backward<true>(rows, channels, eps, in, out); break;
  }
}

}  // namespace ck
