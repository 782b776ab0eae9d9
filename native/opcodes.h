// The op codes and kinds that select what an entry point of the addon does.
// src/backend/opcodes.ts gives the same names the same numbers for the
// TypeScript side; test/backend-opcodes.test.ts reads this file and checks
// that both agree. Keep each enum on one line, every value written out.
#pragma once

namespace ck {

// conv(kind, ...): see conv.h.
enum class ConvKind : int { kForward = 0, kBackwardData = 1, kBackwardWeights = 2 };

// The activation fused into a convolution or a matmul (their `act` parameter).
enum class Activation : int { kLinear = 0, kRelu = 1, kRelu6 = 2, kLeakyRelu = 3, kSigmoid = 4, kElu = 5 };

// pool(kind, ...): see pool.h.
enum class PoolKind : int { kMax = 0, kAvg = 1, kMaxGrad = 2, kAvgGrad = 3, kMaxReluGrad = 4 };

// unary(op, ...): see eltwise.h.
enum class UnaryOp : int { kRelu = 0, kRelu6 = 1, kStep = 2, kSquare = 3, kSqrt = 4, kNeg = 5, kReciprocal = 6 };

// binary(op, ...) and binaryMid(op, ...): see eltwise.h.
enum class BinaryOp : int { kAdd = 0, kSub = 1, kMul = 2, kDiv = 3, kSquaredDifference = 4, kMinimum = 5, kMaximum = 6, kRelu6Grad = 7, kReluGrad = 8 };

// optimizerStep(kind, ...): see optimizer.h.
enum class OptimizerKind : int { kRMSProp = 0, kAdam = 1 };

// batchNorm(kind, ...): see bnorm.h.
enum class BatchNormKind : int { kInference = 0, kTrainForward = 1, kTrainBackward = 2, kTrainForwardRelu = 3, kTrainBackwardRelu = 4 };

// resample(params, ...): the fill mode and interpolation order in params; see resample.h.
enum class ResampleFill : int { kConstant = 0, kNearest = 1, kReflect = 2, kWrap = 3 };
enum class ResampleOrder : int { kNearest = 0, kBilinear = 1 };

}  // namespace ck
