/**
 * The `convkit bench` workloads as plain layer lists, and their FLOP counts
 * from layer shapes. The same JSON specs drive the TF.js runner
 * (./run.js) and the PyTorch script (bench/pytorch_workloads.py), so
 * every backend times the same network.
 *
 * FLOPs count multiply-adds of Conv2D and Dense layers as 2 FLOPs each
 * (bias, activations, pooling and the optimizer update are left out: they
 * are < 1 % here). A training step counts
 *   forward:  every layer once;
 *   dW:       each trainable layer once more (weight gradient);
 *   dX:       each layer once more if any trainable layer lies before it
 *             (its input gradient is needed); the first trainable layer and
 *             everything before it need no input gradient.
 * So a fully trainable net costs ≈ 3× forward minus the first layer's dX,
 * and VGG16 with blocks 1–4 frozen costs forward + 2× block 5 (− conv5_1's
 * dX) + 2× the head.
 */

export type LayerSpec =
  | { kind: 'conv'; filters: number; kernel: number; padding: 'same' | 'valid'; activation: 'relu' | 'linear'; trainable: boolean; name: string }
  | { kind: 'maxpool'; size: number; name: string }
  | { kind: 'flatten'; name: string }
  | { kind: 'dense'; units: number; activation: 'relu' | 'sigmoid'; trainable: boolean; name: string };

export type WorkloadName = 'conv3x3' | 'vgg16_forward' | 'small_cnn_epoch' | 'vgg16_finetune_step';
export const WORKLOAD_NAMES: readonly WorkloadName[] = ['conv3x3', 'vgg16_forward', 'small_cnn_epoch', 'vgg16_finetune_step'];

export interface Workload {
  name: WorkloadName;
  title: string;
  /** [height, width, channels] of one image. */
  input: [number, number, number];
  batch: number;
  layers: LayerSpec[];
  /** forward: time one batch through the net; train: one RMSprop(1e-4) step on binary cross-entropy. */
  mode: 'forward' | 'train';
  /** For the epoch workload: images in the epoch (the time is extrapolated from the timed steps). */
  epochImages?: number;
}

const conv = (name: string, filters: number, padding: 'same' | 'valid' = 'same', trainable = true, activation: 'relu' | 'linear' = 'relu'): LayerSpec => ({
  kind: 'conv',
  name,
  filters,
  kernel: 3,
  padding,
  activation,
  trainable,
});
const pool = (name: string): LayerSpec => ({ kind: 'maxpool', name, size: 2 });

/** VGG16's 13 convs (3×3, same padding, ReLU) and 5 max-pools; blocks up to `frozenBlocks` not trainable. */
export function vgg16ConvBase(frozenBlocks = 0): LayerSpec[] {
  const blocks = [
    [64, 2],
    [128, 2],
    [256, 3],
    [512, 3],
    [512, 3],
  ];
  const layers: LayerSpec[] = [];
  blocks.forEach(([filters, n], b) => {
    for (let i = 1; i <= n; i++) layers.push(conv(`block${b + 1}_conv${i}`, filters, 'same', b + 1 > frozenBlocks));
    layers.push(pool(`block${b + 1}_pool`));
  });
  return layers;
}

/** The book's small convnet: Conv 32-64-128-128 (3×3 valid, ReLU) each with max-pool 2, Dense 512 ReLU, Dense 1 sigmoid. */
function smallCnnLayers(): LayerSpec[] {
  const layers: LayerSpec[] = [];
  [32, 64, 128, 128].forEach((f, i) => layers.push(conv(`conv2d_${i + 1}`, f, 'valid'), pool(`max_pooling2d_${i + 1}`)));
  layers.push(
    { kind: 'flatten', name: 'flatten' },
    { kind: 'dense', name: 'dense_1', units: 512, activation: 'relu', trainable: true },
    { kind: 'dense', name: 'dense_2', units: 1, activation: 'sigmoid', trainable: true },
  );
  return layers;
}

export function workloads(): Workload[] {
  return [
    {
      name: 'conv3x3',
      title: '3×3 conv 128→128, batch 4×75×75 (forward)',
      input: [75, 75, 128],
      batch: 4,
      mode: 'forward',
      layers: [conv('conv', 128, 'same', true, 'linear')],
    },
    {
      name: 'vgg16_forward',
      title: 'VGG16 conv base forward, 150 px, batch 20',
      input: [150, 150, 3],
      batch: 20,
      mode: 'forward',
      layers: vgg16ConvBase(),
    },
    {
      name: 'small_cnn_epoch',
      title: 'small CNN training epoch, 2,000 images 150 px, batch 20',
      input: [150, 150, 3],
      batch: 20,
      mode: 'train',
      layers: smallCnnLayers(),
      epochImages: 2000,
    },
    {
      name: 'vgg16_finetune_step',
      title: 'VGG16 fine-tuning step (blocks 1–4 frozen), 150 px, batch 20',
      input: [150, 150, 3],
      batch: 20,
      mode: 'train',
      layers: [
        ...vgg16ConvBase(4),
        { kind: 'flatten', name: 'flatten' },
        { kind: 'dense', name: 'dense_1', units: 256, activation: 'relu', trainable: true },
        { kind: 'dense', name: 'dense_2', units: 1, activation: 'sigmoid', trainable: true },
      ],
    },
  ];
}

export interface LayerCost {
  name: string;
  /** Output shape of one image. */
  outShape: number[];
  /** Multiply-adds for one image, forward. */
  macs: number;
  trainable: boolean;
}

/** Walks the layer list, giving each layer's output shape and forward multiply-adds per image. */
export function layerCosts(input: readonly [number, number, number], layers: readonly LayerSpec[]): LayerCost[] {
  let shape: number[] = [...input];
  const out: LayerCost[] = [];
  for (const l of layers) {
    let macs = 0,
      trainable = false;
    if (l.kind === 'conv') {
      const [h, w, c] = shape;
      const lose = l.padding === 'valid' ? l.kernel - 1 : 0;
      shape = [h - lose, w - lose, l.filters];
      macs = shape[0] * shape[1] * l.kernel * l.kernel * c * l.filters;
      trainable = l.trainable;
    } else if (l.kind === 'maxpool') {
      shape = [Math.floor(shape[0] / l.size), Math.floor(shape[1] / l.size), shape[2]];
    } else if (l.kind === 'flatten') {
      shape = [shape.reduce((a, b) => a * b, 1)];
    } else {
      macs = shape[0] * l.units;
      shape = [l.units];
      trainable = l.trainable;
    }
    if (shape.some((d) => d < 1)) throw new Error(`layer ${l.name}: input too small (output shape ${shape.join('×')})`);
    out.push({ name: l.name, outShape: shape, macs, trainable });
  }
  return out;
}

/** FLOPs of one timed unit (one batch forward, or one training step) of a workload; see the file comment. */
export function workloadFlops(w: Pick<Workload, 'input' | 'layers' | 'mode' | 'batch'>): number {
  const costs = layerCosts(w.input, w.layers);
  let macs = 0;
  let gradFlows = false; // a trainable layer lies before the current one
  for (const c of costs) {
    macs += c.macs;
    if (w.mode === 'train') {
      if (c.trainable) macs += c.macs;
      if (gradFlows) macs += c.macs;
      if (c.trainable) gradFlows = true;
    }
  }
  return 2 * macs * w.batch;
}
