/**
 * TF.js kernels that run in the oneDNN addon. Each one handles the float32
 * NHWC cases the addon supports and hands everything else to the JS `cpu`
 * kernel of the same name, which stays the reference.
 */
import { backend_util, getKernel, util } from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { NativeAddon } from './native-addon.js';

type Inputs = Record<string, TensorInfo | undefined>;
interface Args {
  inputs: Inputs;
  backend: MathBackendCPU;
  attrs?: NamedAttrMap;
}
type NativeKernel = (args: Args, fallback: KernelFunc) => TensorInfo | TensorInfo[];

/** Elementwise work below this size stays in JS: the call would cost more than it saves. */
const MIN_ELEMENTWISE = 4096;

const ACTIVATIONS: Record<string, number> = { linear: 0, relu: 1, relu6: 2, leakyrelu: 3, sigmoid: 4, elu: 5 };

function values(backend: MathBackendCPU, t: TensorInfo): Float32Array {
  return backend.data.get(t.dataId).values as Float32Array;
}

/**
 * float32 tensors whose data is a Float32Array. (The cpu backend may keep a
 * cast bool tensor's Uint8Array as float32 data; those go to the JS kernels.)
 */
function allFloat(backend: MathBackendCPU, ...ts: (TensorInfo | undefined)[]): boolean {
  return ts.every((t) => t === undefined ||
    (t.dtype === 'float32' && util.sizeFromShape(t.shape) > 0 && backend.data.get(t.dataId).values instanceof Float32Array));
}

/**
 * An output array for a kernel that writes every element: not zero-filled
 * first (for a 56 MB activation that memset costs as much as the kernel).
 */
function alloc(n: number): Float32Array {
  if (n < 1024) return new Float32Array(n);
  return new Float32Array(Buffer.allocUnsafeSlow(n * 4).buffer, 0, n);
}

function output(backend: MathBackendCPU, shape: number[], out: Float32Array): TensorInfo {
  return backend.makeTensorInfo(shape, 'float32', out);
}

function poolParams(ci: backend_util.Conv2DInfo): Int32Array {
  const p = ci.padInfo;
  return Int32Array.of(ci.batchSize, ci.inHeight, ci.inWidth, ci.inChannels, ci.outHeight, ci.outWidth,
    ci.filterHeight, ci.filterWidth, ci.strideHeight, ci.strideWidth, p.top, p.left, p.bottom, p.right);
}

function poolInfo(shape: number[], attrs: NamedAttrMap): backend_util.Conv2DInfo {
  return backend_util.computePool2DInfo(shape as [number, number, number, number], attrs.filterSize as [number, number],
    attrs.strides as [number, number], 1, attrs.pad as 'same', attrs.dimRoundingMode as 'floor');
}

function convParams(ci: backend_util.Conv2DInfo, groups: number, act: number): Int32Array {
  const p = ci.padInfo;
  return Int32Array.of(
    ci.batchSize, ci.inHeight, ci.inWidth, ci.inChannels,
    ci.outHeight, ci.outWidth, ci.outChannels,
    ci.filterHeight, ci.filterWidth, ci.strideHeight, ci.strideWidth,
    ci.dilationHeight - 1, ci.dilationWidth - 1,
    p.top, p.left, p.bottom, p.right, groups, act,
  );
}

function channelsLast(dataFormat: unknown): boolean {
  return dataFormat === undefined || dataFormat === 'NHWC' || dataFormat === 'channelsLast';
}

function makeKernels(addon: NativeAddon): Record<string, NativeKernel> {
  /** Forward convolution, plain or depthwise, with optional bias and activation. */
  const convForward = (depthwise: boolean, fused: boolean): NativeKernel => ({ inputs, backend, attrs = {} }, fallback) => {
    const { x, filter, bias, preluActivationWeights } = inputs;
    const activation = (attrs.activation as string | undefined) ?? 'linear';
    const act = ACTIVATIONS[activation];
    if (!x || !filter || !allFloat(backend, x, filter, bias) || !channelsLast(attrs.dataFormat) || act === undefined || preluActivationWeights) {
      return fallback({ inputs, backend, attrs } as never);
    }
    const dil = (attrs.dilations as number | [number, number] | undefined) ?? 1;
    const ci = backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number], filter.shape as [number, number, number, number],
      attrs.strides as [number, number], dil, attrs.pad as 'same', attrs.dimRoundingMode as 'floor', depthwise, 'channelsLast');
    if (bias && util.sizeFromShape(bias.shape) !== ci.outChannels) return fallback({ inputs, backend, attrs } as never);
    const out = alloc(util.sizeFromShape(ci.outShape));
    const alpha = act === 3 ? ((attrs.leakyreluAlpha as number | undefined) ?? 0.2) : 0;
    const ok = addon.conv(0, convParams(ci, depthwise ? ci.inChannels : 1, fused ? act : 0), alpha,
      values(backend, x), values(backend, filter), bias ? values(backend, bias) : null, out);
    if (!ok) return fallback({ inputs, backend, attrs } as never);
    return output(backend, ci.outShape, out);
  };

  const convBackpropInput = (depthwise: boolean): NativeKernel => ({ inputs, backend, attrs = {} }, fallback) => {
    const { dy, filter } = inputs;
    if (!dy || !filter || !allFloat(backend, dy, filter) || !channelsLast(attrs.dataFormat)) return fallback({ inputs, backend, attrs } as never);
    const inputShape = attrs.inputShape as [number, number, number, number];
    const dil = depthwise ? ((attrs.dilations as number | [number, number] | undefined) ?? 1) : 1;
    const ci = backend_util.computeConv2DInfo(inputShape, filter.shape as [number, number, number, number],
      attrs.strides as [number, number], dil, attrs.pad as 'same', attrs.dimRoundingMode as 'floor', depthwise, 'channelsLast');
    const out = alloc(util.sizeFromShape(inputShape));
    const ok = addon.conv(1, convParams(ci, depthwise ? ci.inChannels : 1, 0), 0, values(backend, dy), values(backend, filter), null, out);
    if (!ok) return fallback({ inputs, backend, attrs } as never);
    return output(backend, inputShape, out);
  };

  const convBackpropFilter = (depthwise: boolean): NativeKernel => ({ inputs, backend, attrs = {} }, fallback) => {
    const { x, dy } = inputs;
    if (!x || !dy || !allFloat(backend, x, dy) || !channelsLast(attrs.dataFormat)) return fallback({ inputs, backend, attrs } as never);
    const filterShape = attrs.filterShape as [number, number, number, number];
    const dil = depthwise ? ((attrs.dilations as number | [number, number] | undefined) ?? 1) : 1;
    const ci = backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape,
      attrs.strides as [number, number], dil, attrs.pad as 'same', attrs.dimRoundingMode as 'floor', depthwise, 'channelsLast');
    const out = alloc(util.sizeFromShape(filterShape));
    const ok = addon.conv(2, convParams(ci, depthwise ? ci.inChannels : 1, 0), 0, values(backend, x), values(backend, dy), null, out);
    if (!ok) return fallback({ inputs, backend, attrs } as never);
    return output(backend, filterShape, out);
  };

  const poolForward = (kind: 0 | 1): NativeKernel => ({ inputs, backend, attrs = {} }, fallback) => {
    const { x } = inputs;
    if (!x || !allFloat(backend, x) || x.shape.length !== 4) return fallback({ inputs, backend, attrs } as never);
    const ci = poolInfo(x.shape, attrs);
    // A 1x1 window with stride 1 is the identity; TF.js returns the input.
    if (ci.filterHeight === 1 && ci.filterWidth === 1 && util.arraysEqual(ci.inShape, ci.outShape)) {
      return fallback({ inputs, backend, attrs } as never);
    }
    const out = alloc(util.sizeFromShape(ci.outShape));
    if (!addon.pool(kind, poolParams(ci), values(backend, x), null, out)) return fallback({ inputs, backend, attrs } as never);
    return output(backend, ci.outShape, out);
  };

  const poolBackward = (kind: 2 | 3): NativeKernel => ({ inputs, backend, attrs = {} }, fallback) => {
    const { dy, input } = inputs;
    if (!dy || !input || !allFloat(backend, dy, input) || input.shape.length !== 4) return fallback({ inputs, backend, attrs } as never);
    const ci = poolInfo(input.shape, attrs);
    const out = alloc(util.sizeFromShape(input.shape));
    const ok = addon.pool(kind, poolParams(ci), values(backend, dy), kind === 2 ? values(backend, input) : null, out);
    if (!ok) return fallback({ inputs, backend, attrs } as never);
    return output(backend, input.shape, out);
  };

  const matMul = (fused: boolean): NativeKernel => ({ inputs, backend, attrs = {} }, fallback) => {
    const { a, b, bias, preluActivationWeights } = inputs;
    const act = fused ? ACTIVATIONS[(attrs.activation as string | undefined) ?? 'linear'] : 0;
    if (!a || !b || !allFloat(backend, a, b, bias) || act === undefined || preluActivationWeights || a.shape.length < 2 || b.shape.length < 2) {
      return fallback({ inputs, backend, attrs } as never);
    }
    const ta = Boolean(attrs.transposeA), tb = Boolean(attrs.transposeB);
    const ar = a.shape.length, br = b.shape.length;
    const M = ta ? a.shape[ar - 1] : a.shape[ar - 2];
    const K = ta ? a.shape[ar - 2] : a.shape[ar - 1];
    const K2 = tb ? b.shape[br - 1] : b.shape[br - 2];
    const N = tb ? b.shape[br - 2] : b.shape[br - 1];
    const batchA = a.shape.slice(0, -2), batchB = b.shape.slice(0, -2);
    const ba = util.sizeFromShape(batchA), bb = util.sizeFromShape(batchB);
    let batch: number[];
    if (ba === bb && util.arraysEqual(batchA, batchB)) batch = batchA;
    else if (ba === 1 && batchA.length <= batchB.length) batch = batchB;
    else if (bb === 1 && batchB.length <= batchA.length) batch = batchA;
    else return fallback({ inputs, backend, attrs } as never);
    if (K !== K2 || (bias && (util.sizeFromShape(bias.shape) !== N || bias.shape[bias.shape.length - 1] !== N))) {
      return fallback({ inputs, backend, attrs } as never);
    }
    const outShape = [...batch, M, N];
    const out = alloc(util.sizeFromShape(outShape));
    const alpha = act === 3 ? ((attrs.leakyreluAlpha as number | undefined) ?? 0.2) : 0;
    const ok = addon.matmul(Int32Array.of(ba, bb, M, K, N, ta ? 1 : 0, tb ? 1 : 0, act, bias ? 1 : 0), alpha,
      values(backend, a), values(backend, b), bias ? values(backend, bias) : null, out);
    if (!ok) return fallback({ inputs, backend, attrs } as never);
    return output(backend, outShape, out);
  };

  const unary = (op: number, alphaOf?: (attrs: NamedAttrMap) => number): NativeKernel => ({ inputs, backend, attrs = {} }, fallback) => {
    const { x } = inputs;
    if (!x || util.sizeFromShape(x.shape) < MIN_ELEMENTWISE || !allFloat(backend, x)) return fallback({ inputs, backend, attrs } as never);
    const out = alloc(util.sizeFromShape(x.shape));
    addon.unary(op, values(backend, x), out, alphaOf ? alphaOf(attrs) : 0);
    return output(backend, x.shape, out);
  };

  /** True when `shape` broadcasts into `outShape` by repeating along leading dims. */
  const trailing = (shape: number[], outShape: number[]) => {
    const s = shape.slice(shape.findIndex((d) => d !== 1));
    if (util.sizeFromShape(shape) === 1) return true;
    return s.length <= outShape.length && util.arraysEqual(s, outShape.slice(outShape.length - s.length));
  };

  /**
   * [outer, mid, inner] of `outShape` when `shape` is 1 exactly over one
   * contiguous run of its axes (e.g. [n,1,1,c] against [n,h,w,c], the
   * gradient of global average pooling), else undefined.
   */
  const middle = (shape: number[], outShape: number[]) => {
    const s = [...new Array(outShape.length - shape.length).fill(1), ...shape];
    const ones = outShape.map((d, i) => s[i] === 1 && d !== 1);
    const first = ones.indexOf(true), last = ones.lastIndexOf(true);
    if (first < 0 || ones.slice(first, last + 1).some((o, i) => !o && outShape[first + i] !== 1)) return undefined;
    if (s.some((d, i) => (i < first || i > last) && d !== outShape[i])) return undefined;
    return { outer: util.sizeFromShape(outShape.slice(0, first)), mid: util.sizeFromShape(outShape.slice(first, last + 1)), inner: util.sizeFromShape(outShape.slice(last + 1)) };
  };

  const binary = (op: number): NativeKernel => ({ inputs, backend, attrs = {} }, fallback) => {
    const { a, b } = inputs;
    if (!a || !b || !allFloat(backend, a, b)) return fallback({ inputs, backend, attrs } as never);
    const outShape = backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const n = util.sizeFromShape(outShape);
    const na = util.sizeFromShape(a.shape), nb = util.sizeFromShape(b.shape);
    if (n < MIN_ELEMENTWISE || (na !== n && nb !== n)) return fallback({ inputs, backend, attrs } as never);
    const smallIsA = na !== n;
    const small = smallIsA ? a : b;
    if (na === n && nb === n || trailing(small.shape, outShape)) {
      const out = alloc(n);
      addon.binary(op, values(backend, a), values(backend, b), out);
      return output(backend, outShape, out);
    }
    const m = middle(small.shape, outShape);
    if (!m) return fallback({ inputs, backend, attrs } as never);
    const out = alloc(n);
    addon.binaryMid(op, values(backend, smallIsA ? b : a), values(backend, small), out, m.outer, m.mid, m.inner, smallIsA);
    return output(backend, outShape, out);
  };

  /** Sum (or mean) over contiguous axes: x viewed as [outer, reduced, inner]. */
  const reduce = (mean: boolean): NativeKernel => ({ inputs, backend, attrs = {} }, fallback) => {
    const { x } = inputs;
    if (!x || util.sizeFromShape(x.shape) < MIN_ELEMENTWISE || !allFloat(backend, x)) return fallback({ inputs, backend, attrs } as never);
    const axes = [...new Set(util.parseAxisParam(attrs.axis as number | number[], x.shape))].sort((p, q) => p - q);
    if (axes.length === 0 || axes.some((ax, i) => ax !== axes[0]! + i)) return fallback({ inputs, backend, attrs } as never);
    const first = axes[0]!, last = axes[axes.length - 1]!;
    const outer = util.sizeFromShape(x.shape.slice(0, first));
    const reduced = util.sizeFromShape(x.shape.slice(first, last + 1));
    const inner = util.sizeFromShape(x.shape.slice(last + 1));
    const kept = x.shape.filter((_, i) => !axes.includes(i));
    const out = alloc(outer * inner);
    addon.sum(values(backend, x), out, outer, reduced, inner, mean ? 1 / reduced : 1);
    const shape = attrs.keepDims ? backend_util.expandShapeToKeepDim(kept, axes) : kept;
    return output(backend, shape, out);
  };

  /**
   * Rows of x picked along axis 0 (batches drawn from in-memory features):
   * one typed-array copy per row, where the JS kernel computes a
   * multi-dimensional index for every element.
   */
  const gatherRows: NativeKernel = ({ inputs, backend, attrs = {} }, fallback) => {
    const { x, indices } = inputs;
    const axis = x ? util.parseAxisParam(attrs.axis as number, x.shape)[0] : undefined;
    if (!x || !indices || axis !== 0 || (attrs.batchDims as number | undefined ?? 0) !== 0 || x.dtype === 'string' || x.dtype === 'complex64') {
      return fallback({ inputs, backend, attrs } as never);
    }
    const src = backend.data.get(x.dataId).values as Float32Array | Int32Array | Uint8Array;
    const idx = backend.data.get(indices.dataId).values as Int32Array | Float32Array;
    const rows = x.shape[0]!;
    const row = util.sizeFromShape(x.shape.slice(1));
    // Out-of-range indices: the JS kernel's own error.
    if (!ArrayBuffer.isView(src) || idx.some((i) => !(i >= 0 && i < rows && Number.isInteger(i)))) return fallback({ inputs, backend, attrs } as never);
    const out = new (src.constructor as Float32ArrayConstructor)(idx.length * row);
    for (let k = 0; k < idx.length; k++) out.set(src.subarray(idx[k]! * row, (idx[k]! + 1) * row), k * row);
    return backend.makeTensorInfo([...indices.shape, ...x.shape.slice(1)], x.dtype, out);
  };

  return {
    Conv2D: convForward(false, false),
    FusedConv2D: convForward(false, true),
    DepthwiseConv2dNative: convForward(true, false),
    FusedDepthwiseConv2D: convForward(true, true),
    Conv2DBackpropInput: convBackpropInput(false),
    Conv2DBackpropFilter: convBackpropFilter(false),
    DepthwiseConv2dNativeBackpropInput: convBackpropInput(true),
    DepthwiseConv2dNativeBackpropFilter: convBackpropFilter(true),
    MaxPool: poolForward(0),
    AvgPool: poolForward(1),
    MaxPoolGrad: poolBackward(2),
    AvgPoolGrad: poolBackward(3),
    BatchMatMul: matMul(false),
    _FusedMatMul: matMul(true),
    Relu: unary(0),
    Relu6: unary(1),
    Step: unary(2, (attrs) => (attrs.alpha as number | undefined) ?? 0),
    Square: unary(3),
    Sqrt: unary(4),
    Neg: unary(5),
    Reciprocal: unary(6),
    Add: binary(0),
    Sub: binary(1),
    Multiply: binary(2),
    RealDiv: binary(3),
    SquaredDifference: binary(4),
    Minimum: binary(5),
    Maximum: binary(6),
    Sum: reduce(false),
    Mean: reduce(true),
    GatherV2: gatherRows,
  };
}

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

/** Kernels the native backend has beyond TF.js's cpu set. */
export function extraNativeKernelConfigs(addon: NativeAddon, backendName: string): KernelConfig[] {
  const activationGrad = (name: string, op: number) => ({ inputs, backend }: Args): TensorInfo => {
    const { dy, x } = inputs;
    if (!dy || !x || !allFloat(backend, dy, x) || !util.arraysEqual(dy.shape, x.shape)) {
      throw new Error(`${name} needs float32 dy and x of one shape`);
    }
    const out = alloc(util.sizeFromShape(x.shape));
    addon.binary(op, values(backend, dy), values(backend, x), out);
    return output(backend, x.shape, out);
  };
  const f32 = (backend: MathBackendCPU, t: TensorInfo): Float32Array => {
    const v = backend.data.get(t.dataId).values;
    return v instanceof Float32Array ? v : Float32Array.from(v as ArrayLike<number>);
  };
  const optimizerStep = (kind: 0 | 1) => ({ inputs, backend, attrs = {} }: Args): TensorInfo[] => {
    const { value, a, b, grad } = inputs;
    if (!value || !a || !b || !grad || ![a, b, grad].every((t) => util.arraysEqual(t.shape, value.shape))) {
      throw new Error(`${kind === 0 ? RMSPROP_STEP : ADAM_STEP} needs value, a, b and grad of one shape`);
    }
    const n = util.sizeFromShape(value.shape);
    const outs = [alloc(n), alloc(n), alloc(n)];
    const scalars = Float32Array.from(attrs.scalars as number[]);
    addon.optimizerStep(kind, [value, a, b, grad].map((t) => f32(backend, t)), outs, scalars);
    return outs.map((o) => output(backend, value.shape, o));
  };
  const maxPoolReluGrad = (args: Args): TensorInfo => {
    const { inputs, backend, attrs = {} } = args;
    const { dy, input } = inputs;
    if (!dy || !input || !allFloat(backend, dy, input) || input.shape.length !== 4) {
      throw new Error(`${MAX_POOL_RELU_GRAD} needs float32 4-D dy and input`);
    }
    const ci = poolInfo(input.shape, attrs);
    const out = alloc(util.sizeFromShape(input.shape));
    if (addon.pool(4, poolParams(ci), values(backend, dy), values(backend, input), out)) return output(backend, input.shape, out);
    // Overlapping or padded windows: this backend's MaxPoolGrad, then step(x) in place.
    const g = getKernel('MaxPoolGrad', backendName)!.kernelFunc(args as never) as TensorInfo;
    addon.binary(8, values(backend, g), values(backend, input), values(backend, g));
    return g;
  };
  return [
    { kernelName: MAX_POOL_RELU_GRAD, backendName, kernelFunc: maxPoolReluGrad as unknown as KernelFunc },
    { kernelName: RMSPROP_STEP, backendName, kernelFunc: optimizerStep(0) as unknown as KernelFunc },
    { kernelName: ADAM_STEP, backendName, kernelFunc: optimizerStep(1) as unknown as KernelFunc },
    { kernelName: RELU_GRAD, backendName, kernelFunc: activationGrad(RELU_GRAD, 8) as unknown as KernelFunc },
    { kernelName: RELU6_GRAD, backendName, kernelFunc: activationGrad(RELU6_GRAD, 7) as unknown as KernelFunc },
  ];
}

/** How many times each kernel ran in the addon (not its JS fallback). */
export const nativeCalls: Record<string, number> = {};

/** Names of the kernels the addon runs (for reports and tests). */
export const NATIVE_KERNEL_NAMES = [
  'Conv2D', 'FusedConv2D', 'DepthwiseConv2dNative', 'FusedDepthwiseConv2D', 'Conv2DBackpropInput',
  'Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter',
  'MaxPool', 'AvgPool', 'MaxPoolGrad', 'AvgPoolGrad', 'BatchMatMul', '_FusedMatMul', 'Relu', 'Relu6', 'Step',
  'Square', 'Sqrt', 'Neg', 'Reciprocal', 'Add', 'Sub', 'Multiply', 'RealDiv', 'SquaredDifference',
  'Minimum', 'Maximum', 'Sum', 'Mean', 'GatherV2',
] as const;

/**
 * Kernel configs for `backendName`: every kernel of `cpu`, with the native
 * ones in place of their JS versions (which remain their fallback).
 */
export function nativeKernelConfigs(addon: NativeAddon, cpuConfigs: KernelConfig[], backendName: string): KernelConfig[] {
  const natives = makeKernels(addon);
  return cpuConfigs.map((cfg) => {
    const native = natives[cfg.kernelName];
    if (!native) return { ...cfg, backendName };
    const fallback = cfg.kernelFunc;
    const name = cfg.kernelName;
    nativeCalls[name] = 0;
    // A result that is not the fallback's came from the addon.
    const counted: NativeKernel = (args, fb) => {
      let fellBack = false;
      const out = native(args, ((a: never) => {
        fellBack = true;
        return fb(a);
      }) as KernelFunc);
      if (!fellBack) nativeCalls[name]++;
      return out;
    };
    return {
      ...cfg,
      backendName,
      kernelFunc: ((args: Args) => counted(args, fallback)) as unknown as KernelFunc,
    };
  });
}
