/**
 * The op codes and kinds that select what an entry point of the native addon
 * does: the numbers native/opcodes.h gives the same names (there with a `k`
 * prefix). test/backend-opcodes.test.ts reads the header and checks that the
 * two agree.
 */

/** The numbers of one table. */
type CodeOf<T> = T[keyof T];

/** conv(kind, ...): see native/conv.h. */
export const ConvKind = { Forward: 0, BackwardData: 1, BackwardWeights: 2 } as const;
export type ConvKind = CodeOf<typeof ConvKind>;

/** The activation fused into a convolution or a matmul (their `act` parameter). */
export const Activation = { Linear: 0, Relu: 1, Relu6: 2, LeakyRelu: 3, Sigmoid: 4, Elu: 5 } as const;
export type Activation = CodeOf<typeof Activation>;

/** pool(kind, ...): see native/pool.h. */
export const PoolKind = { Max: 0, Avg: 1, MaxGrad: 2, AvgGrad: 3, MaxReluGrad: 4 } as const;
export type PoolKind = CodeOf<typeof PoolKind>;

/** unary(op, ...): see native/eltwise.h. */
export const UnaryOp = { Relu: 0, Relu6: 1, Step: 2, Square: 3, Sqrt: 4, Neg: 5, Reciprocal: 6 } as const;
export type UnaryOp = CodeOf<typeof UnaryOp>;

/** binary(op, ...) and binaryMid(op, ...): see native/eltwise.h. */
export const BinaryOp = {
  Add: 0,
  Sub: 1,
  Mul: 2,
  Div: 3,
  SquaredDifference: 4,
  Minimum: 5,
  Maximum: 6,
  Relu6Grad: 7,
  ReluGrad: 8,
} as const;
export type BinaryOp = CodeOf<typeof BinaryOp>;

/** optimizerStep(kind, ...): see native/optimizer.h. */
export const OptimizerKind = { RMSProp: 0, Adam: 1 } as const;
export type OptimizerKind = CodeOf<typeof OptimizerKind>;

/** batchNorm(kind, ...): see native/bnorm.h. */
export const BatchNormKind = { Inference: 0, TrainForward: 1, TrainBackward: 2, TrainForwardRelu: 3, TrainBackwardRelu: 4 } as const;
export type BatchNormKind = CodeOf<typeof BatchNormKind>;

/** resample(params, ...): the fill mode and the interpolation order in params; see native/resample.h. */
export const ResampleFill = { Constant: 0, Nearest: 1, Reflect: 2, Wrap: 3 } as const;
export type ResampleFill = CodeOf<typeof ResampleFill>;
export const ResampleOrder = { Nearest: 0, Bilinear: 1 } as const;
export type ResampleOrder = CodeOf<typeof ResampleOrder>;
