#pragma once
#include <cstddef>
#include <cstdint>
namespace ck {
// op: 0 relu, 1 relu6, 2 step (x > 0 ? 1 : alpha), 3 square, 4 sqrt, 5 neg, 6 reciprocal
void unary(int op, const float* x, float* y, size_t n, float alpha);
// op: 0 add, 1 sub, 2 mul, 3 div, 4 squared difference, 5 minimum, 6 maximum, 7 relu6 gradient (a = dy, b = x); b is broadcast over
// a's leading dims when nb < na (nb divides na); a likewise when na < nb.
void binary(int op, const float* a, size_t na, const float* b, size_t nb, float* out, size_t n);
// x viewed as [outer, mid, inner], summed over mid into [outer, inner], times scale.
void sum(const float* x, float* out, int64_t outer, int64_t mid, int64_t inner, float scale);
}  // namespace ck
