// Elementwise and reduction loops: plain C++ the compiler vectorises, split
// across cores with OpenMP when the array is large enough to pay for it.
#include "eltwise.h"
#include <omp.h>
#include <cmath>
#include <vector>

namespace ck {
namespace {
// Below this many elements one thread is faster: the loops are memory-bound
// and waking a second thread costs more than it saves.
constexpr size_t kParallelMin = 1 << 18;

template <typename F>
void each(size_t n, F f) {
  if (n < kParallelMin) {
    f(size_t(0), n);
    return;
  }
#pragma omp parallel
  {
    const size_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    size_t chunk = (n + nt - 1) / nt;
    chunk = (chunk + 15) & ~size_t(15);
    const size_t lo = t * chunk < n ? t * chunk : n, hi = lo + chunk < n ? lo + chunk : n;
    f(lo, hi);
  }
}

template <typename Op>
void bin(const float* a, size_t na, const float* b, size_t nb, float* o, size_t n, Op op) {
  if (na == n && nb == n) {
    each(n, [&](size_t lo, size_t hi) {
      for (size_t i = lo; i < hi; ++i) o[i] = op(a[i], b[i]);
    });
  } else if (nb == 1) {
    const float s = b[0];
    each(n, [&](size_t lo, size_t hi) {
      for (size_t i = lo; i < hi; ++i) o[i] = op(a[i], s);
    });
  } else if (na == 1) {
    const float s = a[0];
    each(n, [&](size_t lo, size_t hi) {
      for (size_t i = lo; i < hi; ++i) o[i] = op(s, b[i]);
    });
  } else if (na == n) {  // b repeats along a's leading dims
    const size_t rows = n / nb;
    each(rows, [&](size_t lo, size_t hi) {
      for (size_t r = lo; r < hi; ++r) {
        const float* ar = a + r * nb;
        float* orow = o + r * nb;
        for (size_t i = 0; i < nb; ++i) orow[i] = op(ar[i], b[i]);
      }
    });
  } else {  // a repeats
    const size_t rows = n / na;
    each(rows, [&](size_t lo, size_t hi) {
      for (size_t r = lo; r < hi; ++r) {
        const float* br = b + r * na;
        float* orow = o + r * na;
        for (size_t i = 0; i < na; ++i) orow[i] = op(a[i], br[i]);
      }
    });
  }
}

template <typename Op>
void un(const float* x, float* y, size_t n, Op op) {
  each(n, [&](size_t lo, size_t hi) {
    for (size_t i = lo; i < hi; ++i) y[i] = op(x[i]);
  });
}
}  // namespace

void unary(UnaryOp op, const float* x, float* y, size_t n, float alpha) {
  switch (op) {
    case UnaryOp::kRelu: un(x, y, n, [](float v) { return v > 0.f ? v : (v == v ? 0.f : v); }); break;
    case UnaryOp::kRelu6: un(x, y, n, [](float v) { return v != v ? v : (v < 0.f ? 0.f : (v > 6.f ? 6.f : v)); }); break;
    // Written as arithmetic on the comparison rather than branches: on mixed-sign data a branch per element mispredicts half the time (5× slower).
    case UnaryOp::kStep: un(x, y, n, [alpha](float v) { const float m = float(v > 0.f); const float s = m + (1.f - m) * alpha; return v == v ? s : v; }); break;
    case UnaryOp::kSquare: un(x, y, n, [](float v) { return v * v; }); break;
    case UnaryOp::kSqrt: un(x, y, n, [](float v) { return std::sqrt(v); }); break;
    case UnaryOp::kNeg: un(x, y, n, [](float v) { return -v; }); break;
    case UnaryOp::kReciprocal: un(x, y, n, [](float v) { return 1.f / v; }); break;
    default: break;
  }
}

// Calls run(f) with the scalar function of binary op `op`.
template <typename Run>
void with_op(BinaryOp op, Run run) {
  switch (op) {
    case BinaryOp::kAdd: run([](float x, float y) { return x + y; }); break;
    case BinaryOp::kSub: run([](float x, float y) { return x - y; }); break;
    case BinaryOp::kMul: run([](float x, float y) { return x * y; }); break;
    case BinaryOp::kDiv: run([](float x, float y) { return x / y; }); break;
    // in double, as JS does, so results are bit-identical
    case BinaryOp::kSquaredDifference: run([](float x, float y) { const double d = double(x) - double(y); return float(d * d); }); break;
    // Math.min / Math.max: NaN wins, and -0 is below 0
    case BinaryOp::kMinimum: run([](float x, float y) { return x != x || y != y ? NAN : x < y ? x : y < x ? y : std::signbit(x) ? x : y; }); break;
    case BinaryOp::kMaximum: run([](float x, float y) { return x != x || y != y ? NAN : x > y ? x : y > x ? y : std::signbit(x) ? y : x; }); break;
    // relu6's gradient, as TensorFlow's Relu6Grad (NaN where x is NaN, as the other backends): a = dy, b = x
    case BinaryOp::kRelu6Grad: run([](float g, float x) { const float s = float(x > 0.f) * float(x < 6.f); return g * (x == x ? s : x); }); break;
    // relu's gradient, as tfjs's dy · step(x) (NaN where x is NaN): a = dy, b = x
    case BinaryOp::kReluGrad: run([](float g, float x) { const float s = float(x > 0.f); return g * (x == x ? s : x); }); break;
    default: break;
  }
}

void binary(BinaryOp op, const float* a, size_t na, const float* b, size_t nb, float* o, size_t n) {
  with_op(op, [&](auto f) { bin(a, na, b, nb, o, n, f); });
}

void binary_mid(BinaryOp op, const float* big, const float* small, float* o, int64_t outer, int64_t mid, int64_t inner,
                bool small_first) {
  with_op(op, [&](auto f) {
#pragma omp parallel for schedule(static) if (size_t(outer) * mid * inner >= kParallelMin)
    for (int64_t r = 0; r < outer; ++r) {
      const float* s = small + r * inner;
      for (int64_t m = 0; m < mid; ++m) {
        const size_t base = (size_t(r) * mid + m) * inner;
        const float* g = big + base;
        float* out = o + base;
        if (small_first)
          for (int64_t i = 0; i < inner; ++i) out[i] = f(s[i], g[i]);
        else
          for (int64_t i = 0; i < inner; ++i) out[i] = f(g[i], s[i]);
      }
    }
  });
}

void sum(const float* x, float* out, int64_t outer, int64_t mid, int64_t inner, float scale) {
  const size_t total = size_t(outer) * mid * inner;
  if (inner == 1) {  // rows of x: one sum each
    each(outer, [&](size_t lo, size_t hi) {
      for (size_t r = lo; r < hi; ++r) {
        const float* xr = x + r * mid;
        float s = 0.f;
        for (int64_t i = 0; i < mid; ++i) s += xr[i];
        out[r] = s * scale;
      }
    });
    return;
  }
  if (outer == 1) {  // columns: each thread sums a band of rows, then the bands are added
    const int nt = total < kParallelMin ? 1 : omp_get_max_threads();
    std::vector<float> part(size_t(nt) * inner, 0.f);
#pragma omp parallel num_threads(nt)
    {
      const int t = omp_get_thread_num();
      const int64_t chunk = (mid + nt - 1) / nt;
      const int64_t lo = t * chunk, hi = lo + chunk < mid ? lo + chunk : mid;
      float* acc = part.data() + size_t(t) * inner;
      for (int64_t r = lo; r < hi; ++r) {
        const float* xr = x + r * inner;
        for (int64_t i = 0; i < inner; ++i) acc[i] += xr[i];
      }
    }
    for (int64_t i = 0; i < inner; ++i) {
      float s = 0.f;
      for (int t = 0; t < nt; ++t) s += part[size_t(t) * inner + i];
      out[i] = s * scale;
    }
    return;
  }
  // [outer, mid, inner] → [outer, inner], e.g. global average pooling of NHWC.
#pragma omp parallel for schedule(static) if (total >= kParallelMin)
  for (int64_t o = 0; o < outer; ++o) {
    float* acc = out + o * inner;
    for (int64_t i = 0; i < inner; ++i) acc[i] = 0.f;
    for (int64_t m = 0; m < mid; ++m) {
      const float* xr = x + (o * mid + m) * inner;
      for (int64_t i = 0; i < inner; ++i) acc[i] += xr[i];
    }
    if (scale != 1.f)
      for (int64_t i = 0; i < inner; ++i) acc[i] *= scale;
  }
}

}  // namespace ck
