/**
 * Times the bench workloads on the TF.js backend of this process: builds each
 * network from its spec with random weights (tf.layers), warms up, then
 * reports the median of the timed repetitions.
 */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { fuseBatchNormRelu } from '../backend/batch-norm-training.js';
import { makeOptimizer } from '../train/optimizers.js';
import type { GraphWorkload } from './graph-workloads.js';
import type { InferenceReps, InferenceResult, InferenceWorkload } from './inference.js';
import { type LayerSpec, type Workload, workloadFlops } from './workloads.js';
import { median } from '../util/stats.js';

export interface RunOptions {
  /** Untimed repetitions first (weight packing, allocation). */
  warmup: number;
  /** Timed repetitions (batches or training steps); the median is reported. */
  reps: number;
}

export interface WorkloadResult {
  images_per_s: number;
  gflops: number;
  /** Median seconds of one batch (forward) or one training step. */
  seconds: number;
  reps: number;
  /** Epoch workload: seconds for the whole epoch, extrapolated from the timed steps. */
  epoch_seconds?: number;
}

/** What `convkit bench` sends a child process (./child.ts): the workloads and their repetitions. */
export interface ChildRequest {
  workloads: Workload[];
  forward: RunOptions;
  train: RunOptions;
  /** Inference workloads (./inference.ts), prepared by the parent; timed by the native and onnxruntime children. */
  inference?: InferenceWorkload[];
  inferenceReps?: InferenceReps;
  /** Whole-model training workloads (./graph-workloads.ts), prepared by the parent; timed like the training workloads. */
  graphs?: GraphWorkload[];
  /** Threads of every backend (the native backend's OpenMP threads, PyTorch's intra-op threads); default all cores. */
  threads?: number;
  /** Measure the FMA peak and the clock in the native child (see Calibration). */
  calibrate?: boolean;
  quiet?: boolean;
}

/** The native child's measurement of what the cores deliver (native/peak.h), on 1 thread and on the bench's threads. */
export interface Calibration {
  threads: number;
  /** Independent vector FMAs: GFLOPS on 1 thread and on `threads`. */
  fmaGflops1: number;
  fmaGflops: number;
  /** Core clock from a dependent add chain, GHz, on 1 thread and on `threads` at once. */
  ghz1: number;
  ghz: number;
  /** The vector ISA of the FMA loop and FLOPs per FMA instruction (2 × lanes). */
  isa: string;
  flopsPerInstruction: number;
}

/** A child's answer, its last line on stdout; the PyTorch script answers in the same shape. */
export interface ChildReply {
  backend: string;
  threads?: number;
  details?: Record<string, string>;
  unavailable?: string;
  results: Record<string, WorkloadResult | { error: string }>;
  inference?: Record<string, InferenceResult | { error: string }>;
  calibration?: Calibration;
}

function buildLayer(l: LayerSpec, inputShape?: number[]): tf.layers.Layer {
  const first = inputShape ? { inputShape } : {};
  switch (l.kind) {
    case 'conv':
      return tf.layers.conv2d({
        ...first,
        name: l.name,
        filters: l.filters,
        kernelSize: l.kernel,
        padding: l.padding,
        activation: l.activation,
        trainable: l.trainable,
      });
    case 'maxpool':
      return tf.layers.maxPooling2d({ ...first, name: l.name, poolSize: l.size });
    case 'flatten':
      return tf.layers.flatten({ ...first, name: l.name });
    case 'dense':
      return tf.layers.dense({ ...first, name: l.name, units: l.units, activation: l.activation, trainable: l.trainable });
  }
}

/** A tf.Sequential from the workload's layer list (random Glorot weights). */
function buildModel(w: Pick<Workload, 'input' | 'layers' | 'mode'>): tf.Sequential {
  const model = tf.sequential();
  w.layers.forEach((l, i) => model.add(buildLayer(l, i === 0 ? [...w.input] : undefined)));
  // convkit's RMSprop (fused on the native backend), as its training uses.
  if (w.mode === 'train') model.compile({ optimizer: makeOptimizer('rmsprop', { learningRate: 1e-4 }), loss: 'binaryCrossentropy' });
  return model;
}

/** Runs one workload: `warmup` + `reps` batches or steps; returns the median-based rates. */
export async function runWorkload(w: Workload, opts: RunOptions, onRep?: (done: number, total: number) => void): Promise<WorkloadResult> {
  return timeModel(buildModel(w), w, workloadFlops(w), opts, onRep);
}

/** Runs one graph workload's training steps on the model rebuilt from its topology file (random weights). */
export async function runGraphWorkload(w: GraphWorkload, opts: RunOptions, onRep?: (done: number, total: number) => void): Promise<WorkloadResult> {
  const model = await tf.models.modelFromJSON({ modelTopology: JSON.parse(readFileSync(w.topology, 'utf8')) as tf.io.ModelJSON['modelTopology'] });
  model.compile({ optimizer: makeOptimizer(w.optimizer.name, { learningRate: w.optimizer.learningRate }), loss: 'binaryCrossentropy' });
  return timeModel(model, { ...w, mode: 'train' }, w.flops, opts, onRep);
}

/** Times `warmup` + `reps` forward batches or training steps of `model` on seeded random data, then disposes it. */
async function timeModel(
  model: tf.LayersModel,
  w: Pick<Workload, 'input' | 'batch' | 'mode' | 'epochImages'>,
  flops: number,
  opts: RunOptions,
  onRep?: (done: number, total: number) => void,
): Promise<WorkloadResult> {
  const x = tf.randomUniform([w.batch, ...w.input], 0, 255, 'float32', 1);
  const y = tf.tidy(() => tf.randomUniform([w.batch, 1], 0, 1, 'float32', 2).round());
  const times: number[] = [];
  const total = opts.warmup + opts.reps;
  // Training steps as convkit's fit runs them: ReLUs after BatchNormalization inside its kernels.
  const unfuse = w.mode === 'train' ? fuseBatchNormRelu(model) : () => undefined;
  try {
    for (let r = 0; r < total; r++) {
      const start = performance.now();
      if (w.mode === 'forward') {
        const out = model.predict(x) as tf.Tensor;
        await out.data();
        out.dispose();
      } else {
        await model.trainOnBatch(x, y);
      }
      if (r >= opts.warmup) times.push((performance.now() - start) / 1000);
      onRep?.(r + 1, total);
    }
  } finally {
    unfuse();
    x.dispose();
    y.dispose();
    model.dispose();
  }
  const seconds = median(times);
  const result: WorkloadResult = {
    images_per_s: w.batch / seconds,
    gflops: flops / seconds / 1e9,
    seconds,
    reps: times.length,
  };
  if (w.epochImages) result.epoch_seconds = (w.epochImages / w.batch) * seconds;
  return result;
}
