#pragma once
#include "common.h"
namespace ck {
// kForward: a=x, b=filter, bias optional, out=y, fused activation
// kBackwardData: a=dy, b=filter, out=dx
// kBackwardWeights: a=x, b=dy, out=dfilter
// p: N IH IW IC OH OW OC KH KW SH SW DH DW PT PL PB PR G act (dilations as
// oneDNN counts them: TF's minus one; act an Activation).
bool conv(ConvKind kind, const int32_t* p, size_t np, float alpha, void* a, void* b, void* bias, void* out);
size_t conv_cache_size();
// Implementation oneDNN picks for a typical 3x3 convolution, e.g. "jit:avx2".
std::string conv_impl_name();
}  // namespace ck
