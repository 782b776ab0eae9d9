#pragma once
#include "common.h"
namespace ck {
// kMax, kAvg: forward (a=x); kMaxGrad: max backward (a=dy, b=x); kAvgGrad:
// avg backward (a=dy); kMaxReluGrad: max backward times step(x) (relu's
// gradient; non-overlapping windows only, else false). p: N IH IW C OH OW KH KW SH SW PT PL PB PR.
bool pool(PoolKind kind, const int32_t* p, size_t np, void* a, void* b, void* out);
}  // namespace ck
