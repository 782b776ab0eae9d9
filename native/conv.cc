// Convolutions (plain and depthwise) forward and both backward passes.
// Activations are NHWC; filters are TF's HWIO (plain) or HWCM (depthwise).
// The primitives pick their own blocked layouts; reorders sit at the edges.
#include "conv.h"
#include <omp.h>
#include <cstdlib>

namespace ck {
namespace {

struct ConvDims {
  int N, IH, IW, IC, OH, OW, OC, KH, KW, SH, SW, DH, DW, PT, PL, PB, PR, G;
  Activation act;
};

memory::desc nhwc(int n, int c, int h, int w) {
  return memory::desc({n, c, h, w}, dt::f32, tag::nhwc);
}

// The caller's filter layout described with strides.
memory::desc user_weights(const ConvDims& d) {
  if (d.G == 1) {
    return memory::desc({d.OC, d.IC, d.KH, d.KW}, dt::f32,
                        {1, d.OC, (memory::dim)d.KW * d.IC * d.OC, (memory::dim)d.IC * d.OC});
  }
  const int M = d.OC / d.G;  // channel multiplier; one input channel per group
  return memory::desc({d.G, M, 1, d.KH, d.KW}, dt::f32,
                      {M, 1, (memory::dim)d.G * M, (memory::dim)d.KW * d.G * M, (memory::dim)d.G * M});
}

memory::desc any_weights(const ConvDims& d) {
  if (d.G == 1) return memory::desc({d.OC, d.IC, d.KH, d.KW}, dt::f32, tag::any);
  return memory::desc({d.G, d.OC / d.G, 1, d.KH, d.KW}, dt::f32, tag::any);
}

// Activation layout for the primitives. With AVX-512, oneDNN's NHWC
// kernels are as fast as its blocked ones (and need no reorders); with AVX2
// its blocked kernels win, the weight gradient by ~25%.
// CONVKIT_NATIVE_LAYOUT=plain|blocked overrides the choice.
bool plain_data() {
  static const bool plain = [] {
    const char* v = std::getenv("CONVKIT_NATIVE_LAYOUT");
    if (v && std::string(v) == "plain") return true;
    if (v && std::string(v) == "blocked") return false;
    return cpu_isa_name() == std::string("avx512_core");
  }();
  return plain;
}

memory::desc any_data(int n, int c, int h, int w) {
  return memory::desc({n, c, h, w}, dt::f32, plain_data() ? tag::nhwc : tag::any);
}

dnnl::convolution_forward::desc fwd_desc(const ConvDims& d, dnnl::prop_kind pk, bool bias) {
  memory::desc b({d.OC}, dt::f32, tag::x);
  auto src = any_data(d.N, d.IC, d.IH, d.IW), dst = any_data(d.N, d.OC, d.OH, d.OW);
  auto w = any_weights(d);
  if (bias)
    return dnnl::convolution_forward::desc(pk, dnnl::algorithm::convolution_direct, src, w, b, dst,
                                           {d.SH, d.SW}, {d.DH, d.DW}, {d.PT, d.PL}, {d.PB, d.PR});
  return dnnl::convolution_forward::desc(pk, dnnl::algorithm::convolution_direct, src, w, dst,
                                         {d.SH, d.SW}, {d.DH, d.DW}, {d.PT, d.PL}, {d.PB, d.PR});
}

struct ConvEntry {
  dnnl::primitive prim;
  Port a, b, out;  // fwd: src, weights, dst; bwd data: diff_dst, weights, diff_src; bwd weights: src, diff_dst, diff_weights
  memory::desc bias, pad;
  int a_arg, b_arg, out_arg;
  int threads;
};

std::unordered_map<std::string, std::unique_ptr<ConvEntry>> cache;

ConvEntry* build(ConvKind kind, const ConvDims& d, bool bias, float alpha) {
  auto e = std::make_unique<ConvEntry>();
  auto attr = base_attr();
  auto src_u = nhwc(d.N, d.IC, d.IH, d.IW), dst_u = nhwc(d.N, d.OC, d.OH, d.OW);
  auto w_u = user_weights(d);
  if (kind == ConvKind::kForward) {
    if (d.act != Activation::kLinear) attr.set_post_ops(act_post_ops(d.act, alpha));
    dnnl::convolution_forward::primitive_desc pd(fwd_desc(d, dnnl::prop_kind::forward_inference, bias), attr, eng());
    e->a.init(src_u, pd.src_desc(), true);
    e->b.init(w_u, pd.weights_desc(), true);
    e->out.init(dst_u, pd.dst_desc(), false);
    e->pad = pd.scratchpad_desc();
    e->bias = memory::desc({d.OC}, dt::f32, tag::x);
    e->prim = dnnl::convolution_forward(pd);
    e->a_arg = DNNL_ARG_SRC; e->b_arg = DNNL_ARG_WEIGHTS; e->out_arg = DNNL_ARG_DST;
  } else {
    dnnl::convolution_forward::primitive_desc hint(fwd_desc(d, dnnl::prop_kind::forward_training, false), eng());
    if (kind == ConvKind::kBackwardData) {
      dnnl::convolution_backward_data::desc bd(dnnl::algorithm::convolution_direct, any_data(d.N, d.IC, d.IH, d.IW),
                                               any_weights(d), any_data(d.N, d.OC, d.OH, d.OW), {d.SH, d.SW},
                                               {d.DH, d.DW}, {d.PT, d.PL}, {d.PB, d.PR});
      dnnl::convolution_backward_data::primitive_desc pd(bd, attr, eng(), hint);
      e->a.init(dst_u, pd.diff_dst_desc(), true);
      e->b.init(w_u, pd.weights_desc(), true);
      e->out.init(src_u, pd.diff_src_desc(), false);
      e->pad = pd.scratchpad_desc();
      e->prim = dnnl::convolution_backward_data(pd);
      e->a_arg = DNNL_ARG_DIFF_DST; e->b_arg = DNNL_ARG_WEIGHTS; e->out_arg = DNNL_ARG_DIFF_SRC;
    } else {
      dnnl::convolution_backward_weights::desc bd(dnnl::algorithm::convolution_direct, any_data(d.N, d.IC, d.IH, d.IW),
                                                  any_weights(d), any_data(d.N, d.OC, d.OH, d.OW), {d.SH, d.SW},
                                                  {d.DH, d.DW}, {d.PT, d.PL}, {d.PB, d.PR});
      dnnl::convolution_backward_weights::primitive_desc pd(bd, attr, eng(), hint);
      e->a.init(src_u, pd.src_desc(), true);
      e->b.init(dst_u, pd.diff_dst_desc(), true);
      e->out.init(w_u, pd.diff_weights_desc(), false);
      e->pad = pd.scratchpad_desc();
      e->prim = dnnl::convolution_backward_weights(pd);
      e->a_arg = DNNL_ARG_SRC; e->b_arg = DNNL_ARG_DIFF_DST; e->out_arg = DNNL_ARG_DIFF_WEIGHTS;
    }
  }
  return e.release();
}

}  // namespace

bool conv(ConvKind kind, const int32_t* p, size_t np, float alpha, void* a, void* b, void* bias, void* out) {
  if (np < 19) return false;
  ConvDims d;
  std::memcpy(&d, p, sizeof(ConvDims));
  const bool has_bias = kind == ConvKind::kForward && bias != nullptr;
  int32_t kp[20];
  std::memcpy(kp, p, 19 * sizeof(int32_t));
  kp[19] = has_bias;
  auto key = key_of(int(kind), kp, 20, alpha);
  auto it = cache.find(key);
  ConvEntry* e;
  const double macs = double(d.N) * d.OH * d.OW * d.OC * d.KH * d.KW * (d.IC / d.G);
  ThreadScope ts(threads_for(macs));
  if (it == cache.end()) {
    try {
      e = build(kind, d, has_bias, alpha);
    } catch (const dnnl::error&) {
      cache.emplace(key, nullptr);  // remembered: the JS kernel handles this case
      throw;
    }
    cache.emplace(key, std::unique_ptr<ConvEntry>(e));
  } else {
    e = it->second.get();
  }
  if (!e) return false;
  // Filters are small: their reorders run on one thread, since waking a second one (on a busy machine, waiting
  // for it to be scheduled) takes longer than the copy; the filter gradient is the output of kBackwardWeights.
  const bool weights_out = kind == ConvKind::kBackwardWeights;
  memory am = e->a.in(a, kSrc);
  memory bm;
  {
    ThreadScope one(weights_out ? omp_get_max_threads() : 1);
    bm = e->b.in(b, kWei);
  }
  memory om = e->out.out(out, kDst);
  std::unordered_map<int, memory> args{{e->a_arg, am}, {e->b_arg, bm}, {e->out_arg, om},
                                       {DNNL_ARG_SCRATCHPAD, scratchpad(e->pad)}};
  if (has_bias) args.emplace(DNNL_ARG_BIAS, memory(e->bias, eng(), bias));
  e->prim.execute(strm(), args);
  {
    ThreadScope one(weights_out ? 1 : omp_get_max_threads());
    e->out.out_done(om, out);
    strm().wait();
  }
  return true;
}

size_t conv_cache_size() { return cache.size(); }

std::string conv_impl_name() {
  try {
    ConvDims d{1, 16, 16, 64, 16, 16, 64, 3, 3, 1, 1, 0, 0, 1, 1, 1, 1, 1, Activation::kLinear};
    dnnl::convolution_forward::primitive_desc pd(fwd_desc(d, dnnl::prop_kind::forward_inference, false), eng());
    return pd.impl_info_str();
  } catch (const dnnl::error&) {
    return "none";
  }
}

}  // namespace ck
