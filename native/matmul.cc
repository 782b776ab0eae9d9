// Batched matrix product with optional transposes (as strides), bias and a
// fused activation. Batch dims of 1 broadcast.
#include "matmul.h"

namespace ck {
namespace {

struct MMEntry {
  dnnl::matmul prim;
  memory::desc a, b, bias, c, pad;
};
std::unordered_map<std::string, std::unique_ptr<MMEntry>> cache;

}  // namespace

// p: BA BB M K N transA transB act hasBias
bool matmul(const int32_t* p, size_t np, float alpha, void* a, void* b, void* bias, void* out) {
  if (np < 9) return false;
  auto key = key_of(0, p, 9, alpha);
  auto it = cache.find(key);
  MMEntry* e;
  ThreadScope ts(threads_for(double(p[0] > p[1] ? p[0] : p[1]) * p[2] * p[3] * p[4]));
  if (it == cache.end()) {
    const memory::dim BA = p[0], BB = p[1], M = p[2], K = p[3], N = p[4];
    const bool ta = p[5], tb = p[6];
    const auto act = static_cast<Activation>(p[7]);
    const bool has_bias = p[8];
    const memory::dim B = BA > BB ? BA : BB;
    auto ue = std::make_unique<MMEntry>();
    e = ue.get();
    e->a = ta ? memory::desc({BA, M, K}, dt::f32, {M * K, 1, M}) : memory::desc({BA, M, K}, dt::f32, {M * K, K, 1});
    e->b = tb ? memory::desc({BB, K, N}, dt::f32, {K * N, 1, K}) : memory::desc({BB, K, N}, dt::f32, {K * N, N, 1});
    e->c = memory::desc({B, M, N}, dt::f32, {M * N, N, 1});
    auto attr = base_attr();
    if (act != Activation::kLinear) attr.set_post_ops(act_post_ops(act, alpha));
    std::unique_ptr<dnnl::matmul::desc> md;
    if (has_bias) {
      e->bias = memory::desc({1, 1, N}, dt::f32, {N, N, 1});
      md.reset(new dnnl::matmul::desc(e->a, e->b, e->bias, e->c));
    } else {
      md.reset(new dnnl::matmul::desc(e->a, e->b, e->c));
    }
    try {
      dnnl::matmul::primitive_desc pd(*md, attr, eng());
      e->pad = pd.scratchpad_desc();
      e->prim = dnnl::matmul(pd);
    } catch (const dnnl::error&) {
      cache.emplace(key, nullptr);  // remembered: the JS kernel handles this case
      throw;
    }
    cache.emplace(key, std::move(ue));
  } else {
    e = it->second.get();
  }
  if (!e) return false;
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(e->a, eng(), a)},
                                       {DNNL_ARG_WEIGHTS, memory(e->b, eng(), b)},
                                       {DNNL_ARG_DST, memory(e->c, eng(), out)},
                                       {DNNL_ARG_SCRATCHPAD, scratchpad(e->pad)}};
  if (p[8]) args.emplace(DNNL_ARG_BIAS, memory(e->bias, eng(), bias));
  e->prim.execute(strm(), args);
  strm().wait();
  return true;
}

}  // namespace ck
