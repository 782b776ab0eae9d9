#pragma once
#include "common.h"
namespace ck {
// kind 0: max forward (a=x), 1: avg forward (a=x), 2: max backward (a=dy,
// b=x), 3: avg backward (a=dy), 4: max backward times step(x) (relu's
// gradient; non-overlapping windows only, else false). p: N IH IW C OH OW KH KW SH SW PT PL PB PR.
bool pool(int kind, const int32_t* p, size_t np, void* a, void* b, void* out);
}  // namespace ck
