#pragma once
#include "common.h"
namespace ck {
// p: BA BB M K N transA transB act hasBias; C[b] = act(op(A[b]) op(B[b]) + bias).
bool matmul(const int32_t* p, size_t np, float alpha, void* a, void* b, void* bias, void* out);
}  // namespace ck
