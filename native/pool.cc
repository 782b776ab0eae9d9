// Max and average pooling on NHWC, forward and backward.
#include "pool.h"
#include <cmath>
#include <omp.h>

namespace ck {
namespace {

struct PoolDims {
  int N, IH, IW, C, OH, OW, KH, KW, SH, SW, PT, PL, PB, PR;
};

// kMax and kAvg run forward; the other kinds are gradients.
bool is_forward(PoolKind kind) { return kind == PoolKind::kMax || kind == PoolKind::kAvg; }

struct PoolEntry {
  dnnl::pooling_forward fwd;        // inference forward (kMax, kAvg) or training forward (kMaxGrad)
  dnnl::pooling_backward bwd;
  memory::desc src, dst, ws, pad_f, pad_b;
};

std::unordered_map<std::string, std::unique_ptr<PoolEntry>> cache;

dnnl::pooling_forward::desc fdesc(const PoolDims& d, dnnl::prop_kind pk, dnnl::algorithm alg,
                                  const memory::desc& src, const memory::desc& dst) {
  return dnnl::pooling_forward::desc(pk, alg, src, dst, {d.SH, d.SW}, {d.KH, d.KW}, {d.PT, d.PL}, {d.PB, d.PR});
}

PoolEntry* build(PoolKind kind, const PoolDims& d) {
  auto e = std::make_unique<PoolEntry>();
  e->src = memory::desc({d.N, d.C, d.IH, d.IW}, dt::f32, tag::nhwc);
  e->dst = memory::desc({d.N, d.C, d.OH, d.OW}, dt::f32, tag::nhwc);
  const bool is_max = kind == PoolKind::kMax || kind == PoolKind::kMaxGrad;
  // TF.js's forward average excludes padding but its gradient divides by the
  // full window size; both are kept so results match its other backends.
  auto alg = is_max ? dnnl::algorithm::pooling_max
                    : (kind == PoolKind::kAvgGrad ? dnnl::algorithm::pooling_avg_include_padding
                                 : dnnl::algorithm::pooling_avg_exclude_padding);
  auto attr = base_attr();
  if (is_forward(kind)) {
    dnnl::pooling_forward::primitive_desc pd(fdesc(d, dnnl::prop_kind::forward_inference, alg, e->src, e->dst), attr, eng());
    e->fwd = dnnl::pooling_forward(pd);
    e->pad_f = pd.scratchpad_desc();
  } else {
    dnnl::pooling_forward::primitive_desc fpd(fdesc(d, dnnl::prop_kind::forward_training, alg, e->src, e->dst), attr, eng());
    dnnl::pooling_backward::desc bd(alg, e->src, e->dst, {d.SH, d.SW}, {d.KH, d.KW}, {d.PT, d.PL}, {d.PB, d.PR});
    dnnl::pooling_backward::primitive_desc bpd(bd, attr, eng(), fpd);
    if (is_max) {
      e->fwd = dnnl::pooling_forward(fpd);
      e->ws = fpd.workspace_desc();
      e->pad_f = fpd.scratchpad_desc();
    }
    e->bwd = dnnl::pooling_backward(bpd);
    e->pad_b = bpd.scratchpad_desc();
  }
  return e.release();
}

// Max-pool gradient for windows that do not overlap and no padding (2×2
// stride 2, as in VGG and the book's convnet): one pass that writes every
// element of dx once (dy at each window's first maximum, as TF.js's kernel
// picks it, 0 elsewhere), where oneDNN reruns the forward pass for its
// workspace, zero-fills dx and scatters. With relu, the gradient is also
// multiplied by step(x), relu's gradient when x is a relu output: a window
// whose maximum is 0 passes nothing back.
void max_pool_grad_tiled(const PoolDims& d, const float* dy, const float* x, float* dx, bool relu) {
  const int64_t C = d.C, rowIn = int64_t(d.IW) * C, imgIn = int64_t(d.IH) * rowIn, imgOut = int64_t(d.OH) * d.OW * C;
  const int64_t bands = int64_t(d.N) * d.OH;
  // Band = the SH input rows of one output row (the first KH in its windows);
  // bands are disjoint, so threads never write the same row.
#pragma omp parallel for schedule(static) if (double(bands) * d.SH * rowIn > 4e5)
  for (int64_t band = 0; band < bands; ++band) {
    const int64_t n = band / d.OH, oh = band % d.OH;
    const int64_t top = oh * d.SH, height = oh + 1 < d.OH ? d.SH : d.IH - top;  // the last band takes the rows left over
    float* out = dx + n * imgIn + top * rowIn;
    std::memset(out, 0, sizeof(float) * rowIn * height);
    const float* xw = x + n * imgIn + top * rowIn;
    const float* g = dy + n * imgOut + oh * int64_t(d.OW) * C;
    for (int64_t ow = 0; ow < d.OW; ++ow) {
      const int64_t left = ow * d.SW * C;
      for (int64_t c = 0; c < C; ++c) {
        float best = -INFINITY;
        int64_t at = -1;
        for (int64_t i = 0; i < d.KH; ++i)
          for (int64_t j = 0; j < d.KW; ++j) {
            const int64_t k = i * rowIn + left + j * C + c;
            if (xw[k] > best) { best = xw[k]; at = k; }
          }
        if (at >= 0 && (!relu || best > 0.f)) out[at] = g[ow * C + c];
      }
    }
  }
}

// Max pool forward for the same windows: a max over each window, vectorised across channels.
// NaN is passed on as TF.js's kernel does (a NaN in a window gives NaN).
void max_pool_tiled(const PoolDims& d, const float* x, float* y) {
  const int64_t C = d.C, rowIn = int64_t(d.IW) * C, imgIn = int64_t(d.IH) * rowIn, rowOut = int64_t(d.OW) * C;
  const int64_t rows = int64_t(d.N) * d.OH;
#pragma omp parallel for schedule(static) if (double(rows) * d.KH * rowIn > 4e5)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t n = r / d.OH, oh = r % d.OH;
    const float* xw = x + n * imgIn + oh * d.SH * rowIn;
    float* out = y + r * rowOut;
    for (int64_t ow = 0; ow < d.OW; ++ow) {
      float* o = out + ow * C;
      const float* first = xw + ow * d.SW * C;
      for (int64_t c = 0; c < C; ++c) o[c] = first[c];
      for (int64_t i = 0; i < d.KH; ++i)
        for (int64_t j = 0; j < d.KW; ++j) {
          if (i == 0 && j == 0) continue;
          const float* v = first + i * rowIn + j * C;
          for (int64_t c = 0; c < C; ++c) o[c] = (v[c] > o[c] || v[c] != v[c]) ? v[c] : o[c];
        }
    }
  }
}

}  // namespace

bool pool(PoolKind kind, const int32_t* p, size_t np, void* a, void* b, void* out) {
  if (np < 14) return false;
  PoolDims d;
  std::memcpy(&d, p, sizeof(PoolDims));
  const bool tiled = d.SH >= d.KH && d.SW >= d.KW && d.PT == 0 && d.PL == 0 && d.PB == 0 && d.PR == 0;
  if (tiled && kind == PoolKind::kMax) {
    max_pool_tiled(d, static_cast<const float*>(a), static_cast<float*>(out));
    return true;
  }
  const bool relu_grad = kind == PoolKind::kMaxReluGrad;
  if (tiled && (kind == PoolKind::kMaxGrad || relu_grad)) {
    max_pool_grad_tiled(d, static_cast<const float*>(a), static_cast<const float*>(b), static_cast<float*>(out), relu_grad);
    return true;
  }
  if (relu_grad) return false;  // the caller composes MaxPoolGrad and the relu gradient
  auto key = key_of(int(kind), p, 14);
  auto it = cache.find(key);
  PoolEntry* e;
  ThreadScope ts(threads_for(double(d.N) * d.IH * d.IW * d.C * 4));
  if (it == cache.end()) {
    try {
      e = build(kind, d);
    } catch (const dnnl::error&) {
      cache.emplace(key, nullptr);  // remembered: the JS kernel handles this case
      throw;
    }
    cache.emplace(key, std::unique_ptr<PoolEntry>(e));
  } else {
    e = it->second.get();
  }
  if (!e) return false;
  if (is_forward(kind)) {
    e->fwd.execute(strm(), {{DNNL_ARG_SRC, memory(e->src, eng(), a)},
                            {DNNL_ARG_DST, memory(e->dst, eng(), out)},
                            {DNNL_ARG_SCRATCHPAD, scratchpad(e->pad_f)}});
  } else if (kind == PoolKind::kMaxGrad) {
    // Max pool backward needs the argmax workspace: recompute the forward.
    memory ws(e->ws, eng(), scratch(kWs, e->ws.get_size()));
    memory y(e->dst, eng(), scratch(kDst, e->dst.get_size()));
    e->fwd.execute(strm(), {{DNNL_ARG_SRC, memory(e->src, eng(), b)}, {DNNL_ARG_DST, y},
                            {DNNL_ARG_WORKSPACE, ws}, {DNNL_ARG_SCRATCHPAD, scratchpad(e->pad_f)}});
    e->bwd.execute(strm(), {{DNNL_ARG_DIFF_DST, memory(e->dst, eng(), a)},
                            {DNNL_ARG_DIFF_SRC, memory(e->src, eng(), out)},
                            {DNNL_ARG_WORKSPACE, ws}, {DNNL_ARG_SCRATCHPAD, scratchpad(e->pad_b)}});
  } else {
    e->bwd.execute(strm(), {{DNNL_ARG_DIFF_DST, memory(e->dst, eng(), a)},
                            {DNNL_ARG_DIFF_SRC, memory(e->src, eng(), out)},
                            {DNNL_ARG_SCRATCHPAD, scratchpad(e->pad_b)}});
  }
  strm().wait();
  return true;
}

}  // namespace ck
