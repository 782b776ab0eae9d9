/**
 * Training kernels for TF.js's wasm backend, composed from its own fast
 * kernels (XNNPACK Conv2D, Transpose, Reverse, PadV2, Slice):
 *
 * - Conv2DBackpropFilter is missing from tfjs-backend-wasm 4.22, so a conv
 *   layer cannot train. dW[a,b,ci,co] = Σ_{n,i,j} x[n, i·s+a-pt, j·s+b-pl, ci]
 *   · dy[n,i,j,co] is itself a convolution: take the input channels as the
 *   batch and the batch as the channels (x → [Ci,H,W,N]), use dy as the
 *   filter (dy → [Ho,Wo,N,Co]) with dilation = forward stride; the output
 *   [Ci,kh,kw,Co] transposed is dW.
 * - Conv2DBackpropInput ships, but its direct loop is ~20× slower than
 *   XNNPACK's Conv2D. dx is the full correlation of dy (zeros inserted
 *   between rows/columns when the stride is > 1) with the spatially flipped
 *   filter whose in/out channels are swapped.
 *
 * - MaxPoolGrad ships but routes the gradient to the wrong element of a
 *   window (e.g. the first one when the maximum is elsewhere), so training
 *   through max-pooling goes wrong. The composition compares each window
 *   tap of the input with the pooled output, keeps the first match (TF's
 *   rule), and puts dy back at the matching positions. (The shipped
 *   MaxPoolWithArgmax picks the same wrong elements, so it cannot serve.)
 *
 * - DepthwiseConv2dNativeBackpropInput and ...Filter are missing, so no
 *   depthwise or separable layer (MobileNet, Xception) can train. They run
 *   TF.js's JS cpu kernels on copies of the data: slow, but the training
 *   works where the native backend is not built.
 *
 * Kernels call other kernels directly on TensorInfos (no tf ops, so no tape
 * or engine bookkeeping) and free every intermediate.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

type Backend = tf.KernelBackend;
type Pair = [number, number];

/** Runs one registered wasm kernel on TensorInfos. */
function call(backend: Backend, name: string, inputs: Record<string, TensorInfo>, attrs: object = {}): TensorInfo {
  const kernel = tf.getKernel(name, 'wasm');
  if (!kernel) throw new Error(`wasm kernel ${name} is not registered`);
  const out = kernel.kernelFunc({ inputs, backend, attrs: attrs as NamedAttrMap });
  return Array.isArray(out) ? out[0] : out;
}

/** Collects intermediates so each kernel frees them in one place. */
class Scratch {
  private readonly made: TensorInfo[] = [];
  constructor(readonly backend: Backend) {}
  run(name: string, inputs: Record<string, TensorInfo>, attrs: object = {}): TensorInfo {
    const out = call(this.backend, name, inputs, attrs);
    this.made.push(out);
    return out;
  }
  /** Frees everything made except `keep` (the kernel's result). */
  finish(keep: TensorInfo): TensorInfo {
    for (const t of this.made) if (t !== keep) this.backend.disposeData(t.dataId);
    return keep;
  }
}

/**
 * Crops rows/columns where a padding is negative (slices) and returns the
 * remaining non-negative paddings, which the conv applies without a copy.
 */
function cropNegative(s: Scratch, x: TensorInfo, padH: Pair, padW: Pair): { x: TensorInfo; padH: Pair; padW: Pair } {
  const [n, h, w, c] = x.shape;
  const cut = (p: Pair): Pair => [Math.max(0, -p[0]), Math.max(0, -p[1])];
  const [ct, cb] = cut(padH),
    [cl, cr] = cut(padW);
  if (ct + cb + cl + cr > 0) {
    x = s.run('Slice', { x }, { begin: [0, ct, cl, 0], size: [n, h - ct - cb, w - cl - cr, c] });
  }
  const keep = (p: Pair): Pair => [Math.max(0, p[0]), Math.max(0, p[1])];
  return { x, padH: keep(padH), padW: keep(padW) };
}

function conv(s: Scratch, x: TensorInfo, filter: TensorInfo, padH: Pair, padW: Pair, dilations: Pair): TensorInfo {
  return s.run(
    'Conv2D',
    { x, filter },
    {
      strides: [1, 1],
      dilations,
      dataFormat: 'NHWC',
      dimRoundingMode: undefined,
      pad: [[0, 0], padH, padW, [0, 0]],
    },
  );
}

interface BackpropAttrs {
  strides: number | Pair;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function checkFormat(name: string, attrs: BackpropAttrs): void {
  if (attrs.dataFormat === 'NCHW') throw new Error(`wasm ${name} supports dataFormat NHWC only`);
}

function conv2DBackpropFilter(args: {
  inputs: { x: TensorInfo; dy: TensorInfo };
  backend: Backend;
  attrs: BackpropAttrs & { filterShape: [number, number, number, number] };
}): TensorInfo {
  const {
    inputs: { x, dy },
    backend,
    attrs,
  } = args;
  checkFormat('Conv2DBackpropFilter', attrs);
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, outHeight: ho, outWidth: wo, inHeight: h, inWidth: w } = info;
  const { top, left } = info.padInfo;
  // Pads that make the "conv" output exactly kh × kw; negative ones mean the
  // forward pass never read the last rows/columns.
  const bottom = kh - 1 + (ho - 1) * sh + 1 - h - top;
  const right = kw - 1 + (wo - 1) * sw + 1 - w - left;
  const s = new Scratch(backend);
  const c = cropNegative(s, x, [top, bottom], [left, right]);
  const xt = s.run('Transpose', { x: c.x }, { perm: [3, 1, 2, 0] }); // [Ci, H, W, N]
  const dyt = s.run('Transpose', { x: dy }, { perm: [1, 2, 0, 3] }); // [Ho, Wo, N, Co]
  const out = conv(s, xt, dyt, c.padH, c.padW, [sh, sw]); // [Ci, kh, kw, Co]
  return s.finish(s.run('Transpose', { x: out }, { perm: [1, 2, 0, 3] }));
}

/** [n, h, w, c] → [n, h·sh, w·sw, c]: sh-1 / sw-1 zeros after every row / column of t. */
function spreadStrides(s: Scratch, t: TensorInfo, sh: number, sw: number): TensorInfo {
  const [n, h, w, c] = t.shape;
  const r = s.run('Reshape', { x: t }, { shape: [n, h, 1, w, 1, c] });
  const p = s.run(
    'PadV2',
    { x: r },
    {
      paddings: [
        [0, 0],
        [0, 0],
        [0, sh - 1],
        [0, 0],
        [0, sw - 1],
        [0, 0],
      ],
      constantValue: 0,
    },
  );
  return s.run('Reshape', { x: p }, { shape: [n, h * sh, w * sw, c] });
}

function conv2DBackpropInput(args: {
  inputs: { dy: TensorInfo; filter: TensorInfo };
  backend: Backend;
  attrs: BackpropAttrs & { inputShape: [number, number, number, number] };
}): TensorInfo {
  const {
    inputs: { dy, filter },
    backend,
    attrs,
  } = args;
  checkFormat('Conv2DBackpropInput', attrs);
  const info = tf.backend_util.computeConv2DInfo(
    attrs.inputShape,
    filter.shape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, inHeight: h, inWidth: w } = info;
  const s = new Scratch(backend);
  const spread = sh > 1 || sw > 1 ? spreadStrides(s, dy, sh, sw) : dy;
  const top = kh - 1 - info.padInfo.top,
    left = kw - 1 - info.padInfo.left;
  const bottom = h + kh - 1 - spread.shape[1] - top;
  const right = w + kw - 1 - spread.shape[2] - left;
  const c = cropNegative(s, spread, [top, bottom], [left, right]);
  const flipped = s.run('Reverse', { x: filter }, { dims: [0, 1] });
  const swapped = s.run('Transpose', { x: flipped }, { perm: [0, 1, 3, 2] }); // [kh, kw, Co, Ci]
  return s.finish(conv(s, c.x, swapped, c.padH, c.padW, [1, 1]));
}

type PoolInfo = tf.backend_util.Conv2DInfo;

/** The input padded with -∞ so every tap of every window is in range and padding never wins. */
function padForWindows(s: Scratch, x: TensorInfo, info: PoolInfo): TensorInfo {
  const { inHeight: h, inWidth: w, outHeight: ho, outWidth: wo, strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
  const { top, left } = info.padInfo;
  const hp = Math.max(h + top, (ho - 1) * sh + kh),
    wp = Math.max(w + left, (wo - 1) * sw + kw);
  const needsPad = top > 0 || left > 0 || hp > h || wp > w;
  return needsPad
    ? s.run(
        'PadV2',
        { x },
        {
          paddings: [
            [0, 0],
            [top, hp - h - top],
            [left, wp - w - left],
            [0, 0],
          ],
          constantValue: -Infinity,
        },
      )
    : x;
}

/**
 * taps[a][b]: dy where window tap (a, b) of the padded input `xp` is the
 * first in its window to equal the pooled output `y`, 0 elsewhere.
 */
function windowTaps(s: Scratch, xp: TensorInfo, y: TensorInfo, dy: TensorInfo, info: PoolInfo): TensorInfo[][] {
  const { batchSize: n, inChannels: c, outHeight: ho, outWidth: wo, strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
  const zeros = s.run('ZerosLike', { x: dy });
  const taps: TensorInfo[][] = [];
  let taken: TensorInfo | undefined;
  for (let a = 0; a < kh; a++) {
    taps.push([]);
    for (let b = 0; b < kw; b++) {
      const xs = s.run(
        'StridedSlice',
        { x: xp },
        {
          begin: [0, a, b, 0],
          end: [n, a + (ho - 1) * sh + 1, b + (wo - 1) * sw + 1, c],
          strides: [1, sh, sw, 1],
          beginMask: 0,
          endMask: 0,
          ellipsisMask: 0,
          newAxisMask: 0,
          shrinkAxisMask: 0,
        },
      );
      const eq = s.run('Equal', { a: xs, b: y });
      let first = eq;
      if (taken) {
        first = s.run('LogicalAnd', { a: eq, b: s.run('LogicalNot', { x: taken }) });
        taken = s.run('LogicalOr', { a: taken, b: eq });
      } else {
        taken = eq;
      }
      taps[a].push(s.run('Select', { condition: first, t: dy, e: zeros }));
    }
  }
  return taps;
}

/** Non-overlapping windows: the taps interleaved into the gradient of the padded input. */
function interleaveTaps(s: Scratch, taps: TensorInfo[][], info: PoolInfo): TensorInfo {
  const { batchSize: n, inChannels: c, outHeight: ho, outWidth: wo, filterHeight: kh, filterWidth: kw } = info;
  const rows = taps.map((row) => {
    const cols = row.map((t) => s.run('Reshape', { x: t }, { shape: [n, ho, wo, 1, c] }));
    const joined = cols.length > 1 ? s.run('Concat', cols as unknown as Record<string, TensorInfo>, { axis: 3 }) : cols[0];
    return s.run('Reshape', { x: joined }, { shape: [n, ho, 1, wo * kw, c] });
  });
  const joined = rows.length > 1 ? s.run('Concat', rows as unknown as Record<string, TensorInfo>, { axis: 2 }) : rows[0];
  return s.run('Reshape', { x: joined }, { shape: [n, ho * kh, wo * kw, c] });
}

/** Overlapping windows: each tap spread with stride zeros, shifted to its place in the padded input, and added. */
function addShiftedTaps(s: Scratch, taps: TensorInfo[][], info: PoolInfo): TensorInfo {
  const { batchSize: n, inChannels: c, outHeight: ho, outWidth: wo, strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
  const fh = (ho - 1) * sh + kh,
    fw = (wo - 1) * sw + kw;
  let acc: TensorInfo | undefined;
  for (let a = 0; a < kh; a++) {
    for (let b = 0; b < kw; b++) {
      const spread = spreadStrides(s, taps[a][b], sh, sw);
      const cut = s.run('Slice', { x: spread }, { begin: [0, 0, 0, 0], size: [n, (ho - 1) * sh + 1, (wo - 1) * sw + 1, c] });
      const placed = s.run(
        'PadV2',
        { x: cut },
        {
          paddings: [
            [0, 0],
            [a, fh - a - cut.shape[1]],
            [b, fw - b - cut.shape[2]],
            [0, 0],
          ],
          constantValue: 0,
        },
      );
      acc = acc ? s.run('Add', { a: acc, b: placed }) : placed;
    }
  }
  return acc!;
}

/** From the padded input's rows/columns back to the input's: drop the padding, add zero rows the windows never reached. */
function cropToInput(s: Scratch, full: TensorInfo, info: PoolInfo): TensorInfo {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c } = info;
  const { top, left } = info.padInfo;
  const keepH = Math.min(h, full.shape[1] - top),
    keepW = Math.min(w, full.shape[2] - left);
  const dx = s.run('Slice', { x: full }, { begin: [0, top, left, 0], size: [n, keepH, keepW, c] });
  if (keepH === h && keepW === w) return dx;
  return s.run(
    'PadV2',
    { x: dx },
    {
      paddings: [
        [0, 0],
        [0, h - keepH],
        [0, w - keepW],
        [0, 0],
      ],
      constantValue: 0,
    },
  );
}

function maxPoolGrad(args: {
  inputs: { dy: TensorInfo; input: TensorInfo; output: TensorInfo };
  backend: Backend;
  attrs: {
    filterSize: number | Pair;
    strides: number | Pair;
    pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
}): TensorInfo {
  const {
    inputs: { dy, input: x, output: y },
    backend,
    attrs,
  } = args;
  const info = tf.backend_util.computePool2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const s = new Scratch(backend);
  const taps = windowTaps(s, padForWindows(s, x, info), y, dy, info);
  const tiled = info.filterHeight === info.strideHeight && info.filterWidth === info.strideWidth;
  // The gradient w.r.t. the padded input, rows/cols from -top/-left.
  const full = tiled ? interleaveTaps(s, taps, info) : addShiftedTaps(s, taps, info);
  return s.finish(cropToInput(s, full, info));
}

/**
 * The JS cpu kernel `name` on copies of the wasm tensors: a private cpu
 * backend holds the inputs, runs the kernel, and its float32 output is
 * copied back into a wasm tensor.
 */
function jsKernel(name: string): KernelFunc {
  let cpu: MathBackendCPU | undefined;
  return (({ inputs, backend, attrs }: { inputs: Record<string, TensorInfo | undefined>; backend: Backend; attrs: NamedAttrMap }) => {
    const kernel = tf.getKernel(name, 'cpu');
    if (!kernel) throw new Error(`the JS cpu kernel ${name} is not registered`);
    cpu ??= tf.findBackendFactory('cpu')!() as MathBackendCPU;
    const copies: Record<string, TensorInfo> = {};
    for (const [key, t] of Object.entries(inputs)) {
      if (t) copies[key] = cpu.makeTensorInfo(t.shape, t.dtype, backend.readSync(t.dataId) as Float32Array);
    }
    const out = kernel.kernelFunc({ inputs: copies, backend: cpu, attrs }) as TensorInfo;
    const values = cpu.readSync(out.dataId) as Float32Array;
    for (const t of [...Object.values(copies), out]) cpu.disposeData(t.dataId);
    // The wasm backend's own way to make an output tensor from values.
    return (backend as unknown as { makeOutput(shape: number[], dtype: string, offset?: number, values?: Float32Array): TensorInfo }).makeOutput(
      out.shape,
      out.dtype,
      undefined,
      values,
    );
  }) as unknown as KernelFunc;
}

const wasmTrainingKernels: KernelConfig[] = [
  { kernelName: 'Conv2DBackpropFilter', backendName: 'wasm', kernelFunc: conv2DBackpropFilter as unknown as KernelFunc },
  { kernelName: 'Conv2DBackpropInput', backendName: 'wasm', kernelFunc: conv2DBackpropInput as unknown as KernelFunc },
  { kernelName: 'MaxPoolGrad', backendName: 'wasm', kernelFunc: maxPoolGrad as unknown as KernelFunc },
  { kernelName: 'DepthwiseConv2dNativeBackpropInput', backendName: 'wasm', kernelFunc: jsKernel('DepthwiseConv2dNativeBackpropInput') },
  { kernelName: 'DepthwiseConv2dNativeBackpropFilter', backendName: 'wasm', kernelFunc: jsKernel('DepthwiseConv2dNativeBackpropFilter') },
];

/** Registers (or replaces) the composed training kernels for backend 'wasm'. */
export function registerWasmTrainingKernels(): void {
  for (const k of wasmTrainingKernels) {
    if (tf.getKernel(k.kernelName, k.backendName)) tf.unregisterKernel(k.kernelName, k.backendName);
    tf.registerKernel(k);
  }
}
