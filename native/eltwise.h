#pragma once
#include <cstddef>
#include <cstdint>
#include "opcodes.h"
namespace ck {
// kStep is x > 0 ? 1 : alpha; alpha is unused by the other ops.
void unary(UnaryOp op, const float* x, float* y, size_t n, float alpha);
// kRelu6Grad and kReluGrad take a = dy, b = x. b is broadcast over a's
// leading dims when nb < na (nb divides na); a likewise when na < nb.
void binary(BinaryOp op, const float* a, size_t na, const float* b, size_t nb, float* out, size_t n);
// The same ops where one operand, `small` [outer, 1, inner], repeats along the
// middle axis of the other, `big` [outer, mid, inner] (e.g. [n,1,1,c] with
// [n,h,w,c]); small_first: small is the op's left operand.
void binary_mid(BinaryOp op, const float* big, const float* small, float* out, int64_t outer, int64_t mid, int64_t inner,
                bool small_first);
// x viewed as [outer, mid, inner], summed over mid into [outer, inner], times scale.
void sum(const float* x, float* out, int64_t outer, int64_t mid, int64_t inner, float scale);
}  // namespace ck
