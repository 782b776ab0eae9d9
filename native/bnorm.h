#pragma once
#include <cstddef>
#include <cstdint>
#include "opcodes.h"
namespace ck {
// Batch normalization of channels-last data: x is [rows, C] (every axis but
// the last flattened into rows). Per-channel sums are taken in double, so the
// moments do not depend on the row count or on the thread split beyond the
// last float rounding.
//
// kInference (TF.js's FusedBatchNorm): in = {x, mean, variance, offset, scale},
//   out = {y}; y = offset + (x − mean)·scale/√(variance + eps). A parameter
//   has C values or 1 (broadcast); offset and scale may be null (0 and 1).
// kTrainForward: in = {x, gamma, beta}, out = {y, mean, variance}; the batch's
//   mean and biased variance per channel, y = (x − mean)·γ/√(variance + eps) + β.
// kTrainBackward: in = {dy, x, mean, variance, gamma}, out = {dx, dgamma, dbeta}:
//   dβ = Σ dy, dγ = Σ dy·x̂, dx = γ/√(variance + eps)·(dy − dβ/N − x̂·dγ/N), N = rows.
// kTrainForwardRelu: as kTrainForward, then y = max(y, 0).
// kTrainBackwardRelu: in = {dy, x, mean, variance, gamma, beta}; as kTrainBackward
//   with dy zeroed where the forward output y (recomputed from x) is not above 0.
// lens[i]: the element count of in[i] (0 for null), checked by the caller.
void batch_norm(BatchNormKind kind, int64_t rows, int64_t channels, double eps, const float* const* in,
                const int64_t* lens, float* const* out);
}  // namespace ck
