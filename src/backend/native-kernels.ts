/**
 * TF.js kernels that run in the oneDNN addon. Each one handles the float32
 * NHWC cases the addon supports and hands everything else to the JS `cpu`
 * kernel of the same name, which stays the reference. The op codes passed to
 * the addon are the named ones of ./opcodes.ts.
 */
import { backend_util, getKernel, util } from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { outputPool } from './buffer-pool.js';
import type { NativeAddon } from './native-addon.js';
import { Activation, BatchNormKind, BinaryOp, ConvKind, OptimizerKind, PoolKind, UnaryOp } from './opcodes.js';

type Inputs = Record<string, TensorInfo | undefined>;
interface Args {
  inputs: Inputs;
  backend: MathBackendCPU;
  attrs?: NamedAttrMap;
}
/** A kernel of TF.js's cpu set run in the addon: its output, or undefined where the JS kernel must run instead. */
type NativeKernel = (args: Args, addon: NativeAddon) => TensorInfo | undefined;
/** A kernel of convkit's own (no JS version to fall back on): throws on inputs it does not take. */
type OwnKernel = (args: Args, addon: NativeAddon, backendName: string) => TensorInfo | TensorInfo[];

/** Elementwise work below this size stays in JS: the call would cost more than it saves. */
const MIN_ELEMENTWISE = 4096;

/** TF.js's fused activation names; others (prelu) run in JS. */
const ACTIVATIONS: Record<string, Activation> = {
  linear: Activation.Linear,
  relu: Activation.Relu,
  relu6: Activation.Relu6,
  leakyrelu: Activation.LeakyRelu,
  sigmoid: Activation.Sigmoid,
  elu: Activation.Elu,
};

function values(backend: MathBackendCPU, t: TensorInfo): Float32Array {
  return backend.data.get(t.dataId).values as Float32Array;
}

/** A tensor's data as a Float32Array, copied when the backend holds another array type. */
function f32(backend: MathBackendCPU, t: TensorInfo): Float32Array {
  const v = backend.data.get(t.dataId).values;
  return v instanceof Float32Array ? v : Float32Array.from(v as ArrayLike<number>);
}

/**
 * float32 tensors whose data is a Float32Array. (The cpu backend may keep a
 * cast bool tensor's Uint8Array as float32 data; those go to the JS kernels.)
 */
function allFloat(backend: MathBackendCPU, ...ts: (TensorInfo | undefined)[]): boolean {
  return ts.every(
    (t) => t === undefined || (t.dtype === 'float32' && util.sizeFromShape(t.shape) > 0 && backend.data.get(t.dataId).values instanceof Float32Array),
  );
}

/**
 * An output array for a kernel that writes every element: not zero-filled
 * first (for a 56 MB activation that memset costs as much as the kernel),
 * and a large one reuses a disposed tensor's memory (./buffer-pool.ts).
 */
function alloc(n: number): Float32Array {
  return outputPool.alloc(n);
}

function output(backend: MathBackendCPU, shape: number[], out: Float32Array): TensorInfo {
  return backend.makeTensorInfo(shape, 'float32', out);
}

/** leaky relu's slope, the addon's `alpha` for that activation (0 for the others). */
function leakyAlpha(act: Activation, attrs: NamedAttrMap): number {
  return act === Activation.LeakyRelu ? ((attrs.leakyreluAlpha as number | undefined) ?? 0.2) : 0;
}

// Convolution.

type Shape4 = [number, number, number, number];

function channelsLast(dataFormat: unknown): boolean {
  return dataFormat === undefined || dataFormat === 'NHWC' || dataFormat === 'channelsLast';
}

function dilations(attrs: NamedAttrMap): number | [number, number] {
  return (attrs.dilations as number | [number, number] | undefined) ?? 1;
}

function convInfo(xShape: number[], filterShape: number[], attrs: NamedAttrMap, dil: number | [number, number], depthwise: boolean): backend_util.Conv2DInfo {
  return backend_util.computeConv2DInfo(
    xShape as Shape4,
    filterShape as Shape4,
    attrs.strides as [number, number],
    dil,
    attrs.pad as 'same',
    attrs.dimRoundingMode as 'floor',
    depthwise,
    'channelsLast',
  );
}

/** native/conv.h's params; depthwise convolutions have one group per input channel. */
function convParams(ci: backend_util.Conv2DInfo, depthwise: boolean, act: Activation): Int32Array {
  const p = ci.padInfo;
  // prettier-ignore
  return Int32Array.of(
    ci.batchSize, ci.inHeight, ci.inWidth, ci.inChannels, ci.outHeight, ci.outWidth, ci.outChannels,
    ci.filterHeight, ci.filterWidth, ci.strideHeight, ci.strideWidth, ci.dilationHeight - 1, ci.dilationWidth - 1,
    p.top, p.left, p.bottom, p.right, depthwise ? ci.inChannels : 1, act,
  );
}

/** Forward convolution, plain or depthwise, with optional bias and activation. */
function convForward(depthwise: boolean, fused: boolean): NativeKernel {
  return ({ inputs, backend, attrs = {} }, addon) => {
    const { x, filter, bias, preluActivationWeights } = inputs;
    const act = ACTIVATIONS[(attrs.activation as string | undefined) ?? 'linear'];
    if (!x || !filter || !allFloat(backend, x, filter, bias) || !channelsLast(attrs.dataFormat) || act === undefined || preluActivationWeights)
      return undefined;
    const ci = convInfo(x.shape, filter.shape, attrs, dilations(attrs), depthwise);
    if (bias && util.sizeFromShape(bias.shape) !== ci.outChannels) return undefined;
    const out = alloc(util.sizeFromShape(ci.outShape));
    const ok = addon.conv(
      ConvKind.Forward,
      convParams(ci, depthwise, fused ? act : Activation.Linear),
      leakyAlpha(act, attrs),
      values(backend, x),
      values(backend, filter),
      bias ? values(backend, bias) : null,
      out,
    );
    return ok ? output(backend, ci.outShape, out) : undefined;
  };
}

/**
 * The gradient of a convolution with respect to its input (dy and the
 * filter in, attrs.inputShape out) or to its filter (x and dy in,
 * attrs.filterShape out).
 */
function convBackprop(kind: typeof ConvKind.BackwardData | typeof ConvKind.BackwardWeights, depthwise: boolean): NativeKernel {
  const data = kind === ConvKind.BackwardData;
  return ({ inputs, backend, attrs = {} }, addon) => {
    const [a, b] = data ? [inputs.dy, inputs.filter] : [inputs.x, inputs.dy];
    if (!a || !b || !allFloat(backend, a, b) || !channelsLast(attrs.dataFormat)) return undefined;
    const outShape = (data ? attrs.inputShape : attrs.filterShape) as Shape4;
    const dil = depthwise ? dilations(attrs) : 1;
    const ci = data ? convInfo(outShape, b.shape, attrs, dil, depthwise) : convInfo(a.shape, outShape, attrs, dil, depthwise);
    const out = alloc(util.sizeFromShape(outShape));
    const ok = addon.conv(kind, convParams(ci, depthwise, Activation.Linear), 0, values(backend, a), values(backend, b), null, out);
    return ok ? output(backend, outShape, out) : undefined;
  };
}

function convolutionKernels() {
  return {
    Conv2D: convForward(false, false),
    FusedConv2D: convForward(false, true),
    DepthwiseConv2dNative: convForward(true, false),
    FusedDepthwiseConv2D: convForward(true, true),
    Conv2DBackpropInput: convBackprop(ConvKind.BackwardData, false),
    Conv2DBackpropFilter: convBackprop(ConvKind.BackwardWeights, false),
    DepthwiseConv2dNativeBackpropInput: convBackprop(ConvKind.BackwardData, true),
    DepthwiseConv2dNativeBackpropFilter: convBackprop(ConvKind.BackwardWeights, true),
  };
}

// Pooling.

function poolInfo(shape: number[], attrs: NamedAttrMap): backend_util.Conv2DInfo {
  return backend_util.computePool2DInfo(
    shape as Shape4,
    attrs.filterSize as [number, number],
    attrs.strides as [number, number],
    1,
    attrs.pad as 'same',
    attrs.dimRoundingMode as 'floor',
  );
}

/** native/pool.h's params. */
function poolParams(ci: backend_util.Conv2DInfo): Int32Array {
  const p = ci.padInfo;
  // prettier-ignore
  return Int32Array.of(
    ci.batchSize, ci.inHeight, ci.inWidth, ci.inChannels, ci.outHeight, ci.outWidth,
    ci.filterHeight, ci.filterWidth, ci.strideHeight, ci.strideWidth, p.top, p.left, p.bottom, p.right,
  );
}

function poolForward(kind: typeof PoolKind.Max | typeof PoolKind.Avg): NativeKernel {
  return ({ inputs, backend, attrs = {} }, addon) => {
    const { x } = inputs;
    if (!x || !allFloat(backend, x) || x.shape.length !== 4) return undefined;
    const ci = poolInfo(x.shape, attrs);
    // A 1x1 window with stride 1 is the identity; TF.js returns the input.
    if (ci.filterHeight === 1 && ci.filterWidth === 1 && util.arraysEqual(ci.inShape, ci.outShape)) return undefined;
    const out = alloc(util.sizeFromShape(ci.outShape));
    return addon.pool(kind, poolParams(ci), values(backend, x), null, out) ? output(backend, ci.outShape, out) : undefined;
  };
}

function poolBackward(kind: typeof PoolKind.MaxGrad | typeof PoolKind.AvgGrad): NativeKernel {
  return ({ inputs, backend, attrs = {} }, addon) => {
    const { dy, input } = inputs;
    if (!dy || !input || !allFloat(backend, dy, input) || input.shape.length !== 4) return undefined;
    const out = alloc(util.sizeFromShape(input.shape));
    const x = kind === PoolKind.MaxGrad ? values(backend, input) : null;
    return addon.pool(kind, poolParams(poolInfo(input.shape, attrs)), values(backend, dy), x, out) ? output(backend, input.shape, out) : undefined;
  };
}

function poolingKernels() {
  return {
    MaxPool: poolForward(PoolKind.Max),
    AvgPool: poolForward(PoolKind.Avg),
    MaxPoolGrad: poolBackward(PoolKind.MaxGrad),
    AvgPoolGrad: poolBackward(PoolKind.AvgGrad),
  };
}

// Matrix products.

/**
 * M, K, N and the batch dims of op(a) · op(b): [batch..., M, N] out, where a
 * batch of 1 on either side broadcasts; undefined for other shapes.
 */
function matMulDims(a: number[], b: number[], ta: boolean, tb: boolean) {
  const M = ta ? a[a.length - 1]! : a[a.length - 2]!;
  const K = ta ? a[a.length - 2]! : a[a.length - 1]!;
  const K2 = tb ? b[b.length - 1]! : b[b.length - 2]!;
  const N = tb ? b[b.length - 2]! : b[b.length - 1]!;
  const batchA = a.slice(0, -2),
    batchB = b.slice(0, -2);
  const ba = util.sizeFromShape(batchA),
    bb = util.sizeFromShape(batchB);
  let batch: number[];
  if (ba === bb && util.arraysEqual(batchA, batchB)) batch = batchA;
  else if (ba === 1 && batchA.length <= batchB.length) batch = batchB;
  else if (bb === 1 && batchB.length <= batchA.length) batch = batchA;
  else return undefined;
  return K === K2 ? { M, K, N, ba, bb, batch } : undefined;
}

function matMul(fused: boolean): NativeKernel {
  return ({ inputs, backend, attrs = {} }, addon) => {
    const { a, b, bias, preluActivationWeights } = inputs;
    const act = fused ? ACTIVATIONS[(attrs.activation as string | undefined) ?? 'linear'] : Activation.Linear;
    if (!a || !b || !allFloat(backend, a, b, bias) || act === undefined || preluActivationWeights || a.shape.length < 2 || b.shape.length < 2) return undefined;
    const ta = Boolean(attrs.transposeA),
      tb = Boolean(attrs.transposeB);
    const d = matMulDims(a.shape, b.shape, ta, tb);
    if (!d || (bias && (util.sizeFromShape(bias.shape) !== d.N || bias.shape[bias.shape.length - 1] !== d.N))) return undefined;
    const outShape = [...d.batch, d.M, d.N];
    const out = alloc(util.sizeFromShape(outShape));
    const ok = addon.matmul(
      Int32Array.of(d.ba, d.bb, d.M, d.K, d.N, ta ? 1 : 0, tb ? 1 : 0, act, bias ? 1 : 0),
      leakyAlpha(act, attrs),
      values(backend, a),
      values(backend, b),
      bias ? values(backend, bias) : null,
      out,
    );
    return ok ? output(backend, outShape, out) : undefined;
  };
}

function matMulKernels() {
  return { BatchMatMul: matMul(false), _FusedMatMul: matMul(true) };
}

// Element-wise.

function unary(op: UnaryOp, alphaOf?: (attrs: NamedAttrMap) => number): NativeKernel {
  return ({ inputs, backend, attrs = {} }, addon) => {
    const { x } = inputs;
    if (!x || util.sizeFromShape(x.shape) < MIN_ELEMENTWISE || !allFloat(backend, x)) return undefined;
    const out = alloc(util.sizeFromShape(x.shape));
    addon.unary(op, values(backend, x), out, alphaOf ? alphaOf(attrs) : 0);
    return output(backend, x.shape, out);
  };
}

/** True when `shape` broadcasts into `outShape` by repeating along leading dims. */
function trailing(shape: number[], outShape: number[]): boolean {
  const s = shape.slice(shape.findIndex((d) => d !== 1));
  if (util.sizeFromShape(shape) === 1) return true;
  return s.length <= outShape.length && util.arraysEqual(s, outShape.slice(outShape.length - s.length));
}

/**
 * [outer, mid, inner] of `outShape` when `shape` is 1 exactly over one
 * contiguous run of its axes (e.g. [n,1,1,c] against [n,h,w,c], the
 * gradient of global average pooling), else undefined.
 */
function middle(shape: number[], outShape: number[]) {
  const s = [...new Array(outShape.length - shape.length).fill(1), ...shape];
  const ones = outShape.map((d, i) => s[i] === 1 && d !== 1);
  const first = ones.indexOf(true),
    last = ones.lastIndexOf(true);
  if (first < 0 || ones.slice(first, last + 1).some((o, i) => !o && outShape[first + i] !== 1)) return undefined;
  if (s.some((d, i) => (i < first || i > last) && d !== outShape[i])) return undefined;
  return {
    outer: util.sizeFromShape(outShape.slice(0, first)),
    mid: util.sizeFromShape(outShape.slice(first, last + 1)),
    inner: util.sizeFromShape(outShape.slice(last + 1)),
  };
}

function binary(op: BinaryOp): NativeKernel {
  return ({ inputs, backend }, addon) => {
    const { a, b } = inputs;
    if (!a || !b || !allFloat(backend, a, b)) return undefined;
    const outShape = backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const n = util.sizeFromShape(outShape);
    const na = util.sizeFromShape(a.shape),
      nb = util.sizeFromShape(b.shape);
    if (n < MIN_ELEMENTWISE || (na !== n && nb !== n)) return undefined;
    const smallIsA = na !== n;
    const small = smallIsA ? a : b;
    if ((na === n && nb === n) || trailing(small.shape, outShape)) {
      const out = alloc(n);
      addon.binary(op, values(backend, a), values(backend, b), out);
      return output(backend, outShape, out);
    }
    const m = middle(small.shape, outShape);
    if (!m) return undefined;
    const out = alloc(n);
    addon.binaryMid(op, values(backend, smallIsA ? b : a), values(backend, small), out, m.outer, m.mid, m.inner, smallIsA);
    return output(backend, outShape, out);
  };
}

function elementwiseKernels() {
  return {
    Relu: unary(UnaryOp.Relu),
    Relu6: unary(UnaryOp.Relu6),
    Step: unary(UnaryOp.Step, (attrs) => (attrs.alpha as number | undefined) ?? 0),
    Square: unary(UnaryOp.Square),
    Sqrt: unary(UnaryOp.Sqrt),
    Neg: unary(UnaryOp.Neg),
    Reciprocal: unary(UnaryOp.Reciprocal),
    Add: binary(BinaryOp.Add),
    Sub: binary(BinaryOp.Sub),
    Multiply: binary(BinaryOp.Mul),
    RealDiv: binary(BinaryOp.Div),
    SquaredDifference: binary(BinaryOp.SquaredDifference),
    Minimum: binary(BinaryOp.Minimum),
    Maximum: binary(BinaryOp.Maximum),
  };
}

// Reductions and gathers.

/** Sum (or mean) over contiguous axes: x viewed as [outer, reduced, inner]. */
function reduce(mean: boolean): NativeKernel {
  return ({ inputs, backend, attrs = {} }, addon) => {
    const { x } = inputs;
    if (!x || util.sizeFromShape(x.shape) < MIN_ELEMENTWISE || !allFloat(backend, x)) return undefined;
    const axes = [...new Set(util.parseAxisParam(attrs.axis as number | number[], x.shape))].sort((p, q) => p - q);
    if (axes.length === 0 || axes.some((ax, i) => ax !== axes[0]! + i)) return undefined;
    const first = axes[0]!,
      last = axes[axes.length - 1]!;
    const outer = util.sizeFromShape(x.shape.slice(0, first));
    const reduced = util.sizeFromShape(x.shape.slice(first, last + 1));
    const inner = util.sizeFromShape(x.shape.slice(last + 1));
    const kept = x.shape.filter((_, i) => !axes.includes(i));
    const out = alloc(outer * inner);
    addon.sum(values(backend, x), out, outer, reduced, inner, mean ? 1 / reduced : 1);
    return output(backend, attrs.keepDims ? backend_util.expandShapeToKeepDim(kept, axes) : kept, out);
  };
}

/**
 * Rows of x picked along axis 0 (batches drawn from in-memory features):
 * one typed-array copy per row, where the JS kernel computes a
 * multi-dimensional index for every element. Runs in JS, any dtype.
 */
function gatherRows({ inputs, backend, attrs = {} }: Args): TensorInfo | undefined {
  const { x, indices } = inputs;
  const axis = x ? util.parseAxisParam(attrs.axis as number, x.shape)[0] : undefined;
  if (!x || !indices || axis !== 0 || ((attrs.batchDims as number | undefined) ?? 0) !== 0 || x.dtype === 'string' || x.dtype === 'complex64') return undefined;
  const src = backend.data.get(x.dataId).values as Float32Array | Int32Array | Uint8Array;
  const idx = backend.data.get(indices.dataId).values as Int32Array | Float32Array;
  const rows = x.shape[0]!;
  const row = util.sizeFromShape(x.shape.slice(1));
  // Out-of-range indices: the JS kernel's own error.
  if (!ArrayBuffer.isView(src) || idx.some((i) => !(i >= 0 && i < rows && Number.isInteger(i)))) return undefined;
  const out = new (src.constructor as Float32ArrayConstructor)(idx.length * row);
  for (let k = 0; k < idx.length; k++) out.set(src.subarray(idx[k]! * row, (idx[k]! + 1) * row), k * row);
  return backend.makeTensorInfo([...indices.shape, ...x.shape.slice(1)], x.dtype, out);
}

function reductionKernels() {
  return { Sum: reduce(false), Mean: reduce(true), GatherV2: gatherRows };
}

// Normalization.

/**
 * FusedBatchNorm (tf.batchNorm, BatchNormalization layers in inference
 * mode) over the last axis: x as [rows, C] with each parameter of C values
 * or 1. TF.js's kernel cycles each parameter over the flat x, which for
 * those sizes is the same thing; other sizes run in JS.
 */
function batchNormInference({ inputs, backend, attrs = {} }: Args, addon: NativeAddon): TensorInfo | undefined {
  const { x, mean, variance, offset, scale } = inputs;
  if (!x || !mean || !variance || typeof addon.batchNorm !== 'function' || x.shape.length < 1 || !allFloat(backend, x, mean, variance, offset, scale))
    return undefined;
  const n = util.sizeFromShape(x.shape);
  const channels = x.shape[x.shape.length - 1]!;
  const fits = (t: TensorInfo | undefined) => t === undefined || [channels, 1].includes(util.sizeFromShape(t.shape));
  if (n < MIN_ELEMENTWISE || ![mean, variance, offset, scale].every(fits)) return undefined;
  const out = alloc(n);
  const epsilon = (attrs.varianceEpsilon as number | null | undefined) ?? 0.001;
  const params = [x, mean, variance, offset, scale].map((t) => (t ? values(backend, t) : null));
  addon.batchNorm(BatchNormKind.Inference, n / channels, channels, epsilon, params, [out]);
  return output(backend, x.shape, out);
}

function normalizationKernels() {
  return { FusedBatchNorm: batchNormInference };
}

/** The kernels of TF.js's cpu set that the native backend runs in the addon, by family. */
const NATIVE_KERNELS = {
  ...convolutionKernels(),
  ...poolingKernels(),
  ...matMulKernels(),
  ...elementwiseKernels(),
  ...reductionKernels(),
  ...normalizationKernels(),
} satisfies Record<string, NativeKernel>;

/** Names of the kernels the addon runs (for reports and tests). */
export const NATIVE_KERNEL_NAMES = Object.freeze(Object.keys(NATIVE_KERNELS) as (keyof typeof NATIVE_KERNELS)[]);

// convkit's own kernels.

/**
 * relu's and relu6's gradients in one pass each, dy · step(x) and
 * dy · (0 < x < 6): kernels of convkit's own, registered for the native
 * backend only (see ./activations.ts).
 */
export const RELU_GRAD = 'ConvkitReluGrad';
export const RELU6_GRAD = 'ConvkitRelu6Grad';

/**
 * The max-pool gradient times step(x): MaxPoolGrad and relu's gradient in
 * one pass, for a pool whose input is a relu output (see ./fused-conv.ts).
 * Inputs and attributes are MaxPoolGrad's.
 */
export const MAX_POOL_RELU_GRAD = 'ConvkitMaxPoolReluGrad';

/**
 * Fused optimizer steps (see src/train/fused-optimizers.ts): inputs
 * {value, a, b, grad}, the two slot variables being RMSprop's mean square
 * and momentum or Adam's first and second moments; three new arrays out.
 */
export const RMSPROP_STEP = 'ConvkitRMSPropStep';
export const ADAM_STEP = 'ConvkitAdamStep';

/**
 * Batch normalization in training mode over every axis but the last (see
 * ./batch-norm-native.ts): inputs {x, gamma, beta}, attrs {epsilon};
 * outputs y, the batch's mean and its biased variance. Its gradient kernel
 * takes {dy, x, mean, variance, gamma} and gives dx, dγ and dβ.
 */
export const BATCH_NORM_TRAIN = 'ConvkitBatchNormTrain';
export const BATCH_NORM_TRAIN_GRAD = 'ConvkitBatchNormTrainGrad';

/** x's [rows, channels], after checking that each per-channel input has C values. */
function channelRows(name: string, backend: MathBackendCPU, full: (TensorInfo | undefined)[], perChannel: (TensorInfo | undefined)[]): [number, number] {
  const x = full[0];
  const channels = x?.shape[x.shape.length - 1];
  const ok =
    x !== undefined &&
    channels !== undefined &&
    x.shape.length >= 2 &&
    allFloat(backend, ...full, ...perChannel) &&
    full.every((t) => t !== undefined && util.arraysEqual(t.shape, x.shape)) &&
    perChannel.every((t) => t !== undefined && util.sizeFromShape(t.shape) === channels);
  if (!ok) throw new Error(`${name} needs float32 inputs of rank ≥ 2 with C-sized per-channel parameters`);
  return [util.sizeFromShape(x.shape) / channels, channels];
}

function batchNormTrain({ inputs, backend, attrs = {} }: Args, addon: NativeAddon): TensorInfo[] {
  const { x, gamma, beta } = inputs;
  const [rows, channels] = channelRows(BATCH_NORM_TRAIN, backend, [x], [gamma, beta]);
  const y = alloc(rows * channels),
    mean = alloc(channels),
    variance = alloc(channels);
  addon.batchNorm(
    attrs.relu ? BatchNormKind.TrainForwardRelu : BatchNormKind.TrainForward,
    rows,
    channels,
    attrs.epsilon as number,
    [x!, gamma!, beta!].map((t) => values(backend, t)),
    [y, mean, variance],
  );
  return [output(backend, x!.shape, y), output(backend, [channels], mean), output(backend, [channels], variance)];
}

function batchNormTrainGrad({ inputs, backend, attrs = {} }: Args, addon: NativeAddon): TensorInfo[] {
  const { dy, x, mean, variance, gamma, beta } = inputs;
  const relu = Boolean(attrs.relu);
  // With a ReLU, β too: the kernel recomputes the forward output for the ReLU's gate.
  const perChannel = relu ? [mean, variance, gamma, beta] : [mean, variance, gamma];
  const [rows, channels] = channelRows(BATCH_NORM_TRAIN_GRAD, backend, [x, dy], perChannel);
  const dx = alloc(rows * channels),
    dGamma = alloc(channels),
    dBeta = alloc(channels);
  const ins = [dy!, x!, ...perChannel.map((t) => t!)].map((t) => values(backend, t));
  const kind = relu ? BatchNormKind.TrainBackwardRelu : BatchNormKind.TrainBackward;
  addon.batchNorm(kind, rows, channels, attrs.epsilon as number, ins, [dx, dGamma, dBeta]);
  return [output(backend, x!.shape, dx), output(backend, [channels], dGamma), output(backend, [channels], dBeta)];
}

function batchNormKernels(addon: NativeAddon): Record<string, OwnKernel> {
  // An addon built before these kernels: the layers keep their composed path.
  if (typeof addon.batchNorm !== 'function') return {};
  return { [BATCH_NORM_TRAIN]: batchNormTrain, [BATCH_NORM_TRAIN_GRAD]: batchNormTrainGrad };
}

function activationGrad(name: string, op: typeof BinaryOp.ReluGrad | typeof BinaryOp.Relu6Grad): OwnKernel {
  return ({ inputs, backend }, addon) => {
    const { dy, x } = inputs;
    if (!dy || !x || !allFloat(backend, dy, x) || !util.arraysEqual(dy.shape, x.shape)) {
      throw new Error(`${name} needs float32 dy and x of one shape`);
    }
    const out = alloc(util.sizeFromShape(x.shape));
    addon.binary(op, values(backend, dy), values(backend, x), out);
    return output(backend, x.shape, out);
  };
}

function maxPoolReluGrad(args: Args, addon: NativeAddon, backendName: string): TensorInfo {
  const { inputs, backend, attrs = {} } = args;
  const { dy, input } = inputs;
  if (!dy || !input || !allFloat(backend, dy, input) || input.shape.length !== 4) {
    throw new Error(`${MAX_POOL_RELU_GRAD} needs float32 4-D dy and input`);
  }
  const out = alloc(util.sizeFromShape(input.shape));
  if (addon.pool(PoolKind.MaxReluGrad, poolParams(poolInfo(input.shape, attrs)), values(backend, dy), values(backend, input), out)) {
    return output(backend, input.shape, out);
  }
  // Overlapping or padded windows: this backend's MaxPoolGrad, then step(x) in place.
  const g = getKernel('MaxPoolGrad', backendName)!.kernelFunc(args as never) as TensorInfo;
  addon.binary(BinaryOp.ReluGrad, values(backend, g), values(backend, input), values(backend, g));
  return g;
}

function fusedGradientKernels(): Record<string, OwnKernel> {
  return {
    [MAX_POOL_RELU_GRAD]: maxPoolReluGrad,
    [RELU_GRAD]: activationGrad(RELU_GRAD, BinaryOp.ReluGrad),
    [RELU6_GRAD]: activationGrad(RELU6_GRAD, BinaryOp.Relu6Grad),
  };
}

function optimizerStep(name: string, kind: OptimizerKind): OwnKernel {
  return ({ inputs, backend, attrs = {} }, addon) => {
    const { value, a, b, grad } = inputs;
    if (!value || !a || !b || !grad || ![a, b, grad].every((t) => util.arraysEqual(t.shape, value.shape))) {
      throw new Error(`${name} needs value, a, b and grad of one shape`);
    }
    const n = util.sizeFromShape(value.shape);
    const outs = [alloc(n), alloc(n), alloc(n)];
    addon.optimizerStep(
      kind,
      [value, a, b, grad].map((t) => f32(backend, t)),
      outs,
      Float32Array.from(attrs.scalars as number[]),
    );
    return outs.map((o) => output(backend, value.shape, o));
  };
}

function optimizerKernels(): Record<string, OwnKernel> {
  return {
    [RMSPROP_STEP]: optimizerStep(RMSPROP_STEP, OptimizerKind.RMSProp),
    [ADAM_STEP]: optimizerStep(ADAM_STEP, OptimizerKind.Adam),
  };
}

/** Kernels the native backend has beyond TF.js's cpu set. */
export function extraNativeKernelConfigs(addon: NativeAddon, backendName: string): KernelConfig[] {
  const own = { ...fusedGradientKernels(), ...optimizerKernels(), ...batchNormKernels(addon) };
  return Object.entries(own).map(([kernelName, kernel]) => ({
    kernelName,
    backendName,
    kernelFunc: ((args: Args) => kernel(args, addon, backendName)) as unknown as KernelFunc,
  }));
}

/** How many times each kernel ran in the addon (not its JS fallback). */
export const nativeCalls: Record<string, number> = {};

/**
 * Kernel configs for `backendName`: every kernel of `cpu`, with the native
 * ones in place of their JS versions (which remain their fallback).
 */
export function nativeKernelConfigs(addon: NativeAddon, cpuConfigs: KernelConfig[], backendName: string): KernelConfig[] {
  return cpuConfigs.map((cfg) => {
    const native = (NATIVE_KERNELS as Record<string, NativeKernel>)[cfg.kernelName];
    if (!native) return { ...cfg, backendName };
    const { kernelName, kernelFunc: fallback } = cfg;
    nativeCalls[kernelName] = 0;
    const kernelFunc = (args: Args) => {
      const out = native(args, addon);
      if (out === undefined) return fallback({ inputs: args.inputs, backend: args.backend, attrs: args.attrs ?? {} } as never);
      nativeCalls[kernelName]++;
      return out;
    };
    return { ...cfg, backendName, kernelFunc: kernelFunc as unknown as KernelFunc };
  });
}
