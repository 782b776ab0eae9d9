// Max and average pooling on NHWC, forward and backward.
#include "pool.h"

namespace ck {
namespace {

struct PoolDims {
  int N, IH, IW, C, OH, OW, KH, KW, SH, SW, PT, PL, PB, PR;
};

struct PoolEntry {
  dnnl::pooling_forward fwd;        // inference forward (kinds 0, 1) or training forward (kind 2)
  dnnl::pooling_backward bwd;
  memory::desc src, dst, ws, pad_f, pad_b;
};

std::unordered_map<std::string, std::unique_ptr<PoolEntry>> cache;

dnnl::pooling_forward::desc fdesc(const PoolDims& d, dnnl::prop_kind pk, dnnl::algorithm alg,
                                  const memory::desc& src, const memory::desc& dst) {
  return dnnl::pooling_forward::desc(pk, alg, src, dst, {d.SH, d.SW}, {d.KH, d.KW}, {d.PT, d.PL}, {d.PB, d.PR});
}

PoolEntry* build(int kind, const PoolDims& d) {
  auto e = std::make_unique<PoolEntry>();
  e->src = memory::desc({d.N, d.C, d.IH, d.IW}, dt::f32, tag::nhwc);
  e->dst = memory::desc({d.N, d.C, d.OH, d.OW}, dt::f32, tag::nhwc);
  const bool is_max = kind == 0 || kind == 2;
  // TF.js's forward average excludes padding but its gradient divides by the
  // full window size; both are kept so results match its other backends.
  auto alg = is_max ? dnnl::algorithm::pooling_max
                    : (kind == 3 ? dnnl::algorithm::pooling_avg_include_padding
                                 : dnnl::algorithm::pooling_avg_exclude_padding);
  auto attr = base_attr();
  if (kind < 2) {
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

}  // namespace

bool pool(int kind, const int32_t* p, size_t np, void* a, void* b, void* out) {
  if (np < 14) return false;
  PoolDims d;
  std::memcpy(&d, p, sizeof(PoolDims));
  auto key = key_of(kind, p, 14);
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
  if (kind < 2) {
    e->fwd.execute(strm(), {{DNNL_ARG_SRC, memory(e->src, eng(), a)},
                            {DNNL_ARG_DST, memory(e->dst, eng(), out)},
                            {DNNL_ARG_SCRATCHPAD, scratchpad(e->pad_f)}});
  } else if (kind == 2) {
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
