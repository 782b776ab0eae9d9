/**
 * The bench workloads that are whole convkit models rather than layer
 * lists: the mini-Xception trained from scratch and MobileNet v2 fine-tuned
 * with its whole base trainable. The parent process builds each model once
 * and writes its Keras topology (model.toJSON) to a file; every backend
 * rebuilds the network from that one file (TF.js with
 * tf.models.modelFromJSON, PyTorch by interpreting the layer graph in
 * bench/pytorch_workloads.py), so all of them time the same architecture.
 * Weights are random on every side: the time of a step does not depend on
 * them (denormals are flushed everywhere).
 *
 * FLOPs count the multiply-adds of Conv2D, DepthwiseConv2D,
 * SeparableConv2D and Dense layers, 2 FLOPs each, with the rule of
 * ./workloads.ts for training: forward, plus the weight gradient of every
 * trainable layer, plus the input gradient of every layer with a trainable
 * layer upstream of it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tfjs from '@tensorflow/tfjs';
import type * as tf from '@tensorflow/tfjs';

export type GraphWorkloadName = 'mini_xception_epoch' | 'mobilenet_v2_finetune_step';

interface GraphOptimizer {
  name: 'rmsprop' | 'adam';
  learningRate: number;
}

interface GraphWorkloadSpec {
  title: string;
  /** [height, width, channels] of one image. */
  input: [number, number, number];
  batch: number;
  optimizer: GraphOptimizer;
  /** Images in the epoch (the time is extrapolated from the median step). */
  epochImages?: number;
  build(input: [number, number, number]): Promise<tf.LayersModel>;
}

const SPECS: Record<GraphWorkloadName, GraphWorkloadSpec> = {
  mini_xception_epoch: {
    title: "mini-Xception from scratch (the book's 32…512 filters, BatchNormalization in training mode), 180 px, batch 32, RMSprop 1e-3: epoch of 2,000 images",
    input: [180, 180, 3],
    batch: 32,
    optimizer: { name: 'rmsprop', learningRate: 1e-3 },
    epochImages: 2000,
    build: async (input) => (await import('../models/xception.js')).miniXception({ inputShape: input, numClasses: 2 }),
  },
  mobilenet_v2_finetune_step: {
    title:
      'MobileNet v2 1.0 fine-tuning step, whole base trainable (BatchNormalization folded into the convolutions, as convkit loads it) + convkit head, 224 px, batch 20, Adam 5e-5',
    input: [224, 224, 3],
    batch: 20,
    optimizer: { name: 'adam', learningRate: 5e-5 },
    build: async (input) => {
      const { loadBase } = await import('../models/bases.js');
      const { buildHead, stitch, truncate } = await import('../transfer/head.js');
      const { createRng } = await import('../util/rng.js');
      const loaded = await loadBase('mobilenet_v2', { inputSize: [input[0], input[1]] });
      const features = truncate(loaded.model, loaded.featureLayer);
      const head = buildHead(features.outputs[0]!.shape.slice(1) as number[], { numClasses: 2, rng: createRng(1) });
      return stitch(features, head, 'mobilenet_v2_classifier');
    },
  },
};

export const GRAPH_WORKLOAD_NAMES: readonly GraphWorkloadName[] = Object.keys(SPECS) as GraphWorkloadName[];

export function graphWorkloadTitle(name: GraphWorkloadName): string {
  return SPECS[name].title;
}

/** A prepared graph workload, as sent to every backend's child. */
export interface GraphWorkload {
  name: GraphWorkloadName;
  title: string;
  input: [number, number, number];
  batch: number;
  optimizer: GraphOptimizer;
  epochImages?: number;
  /** The model's Keras topology (JSON), written by the parent. */
  topology: string;
  /** FLOPs of one training step (see the file comment). */
  flops: number;
}

/** Forward multiply-adds of one image through a layer, from its config and input/output shapes. */
const COUNTED = ['Conv2D', 'DepthwiseConv2D', 'SeparableConv2D', 'Dense'];

function layerMacs(layer: tf.layers.Layer): number {
  const cls = layer.getClassName();
  if (!COUNTED.includes(cls)) return 0;
  const out = layer.outputShape as number[];
  const inShape = (layer.input as tf.SymbolicTensor).shape as number[];
  const config = layer.getConfig() as { kernelSize?: number | number[]; depthMultiplier?: number; filters?: number };
  const k = config.kernelSize === undefined ? [1, 1] : typeof config.kernelSize === 'number' ? [config.kernelSize, config.kernelSize] : config.kernelSize;
  const inChannels = inShape[inShape.length - 1]!;
  const [, h, w, outChannels] = out as [number, number, number, number];
  switch (cls) {
    case 'Conv2D':
      return h * w * outChannels * k[0]! * k[1]! * inChannels;
    case 'DepthwiseConv2D':
      return h * w * outChannels * k[0]! * k[1]!;
    case 'SeparableConv2D': {
      const mid = inChannels * (config.depthMultiplier ?? 1);
      return h * w * mid * k[0]! * k[1]! + h * w * mid * outChannels;
    }
    default: // Dense
      return inChannels * out[out.length - 1]!;
  }
}

/** FLOPs of one batch forward or one training step of `model` (see the file comment). */
export function graphFlops(model: tf.LayersModel, batch: number, mode: 'forward' | 'train'): number {
  // model.layers is in topological order; a layer's input gradient is needed when a trainable layer lies upstream.
  const gradFlowsOut = new Map<string, boolean>();
  let macs = 0;
  for (const layer of model.layers) {
    const inbound = layer.inboundNodes.flatMap((n) => n.inboundLayers);
    const gradFlowsIn = inbound.some((l) => gradFlowsOut.get(l.name));
    const trainable = layer.trainable && layer.trainableWeights.length > 0;
    gradFlowsOut.set(layer.name, gradFlowsIn || trainable);
    const m = layerMacs(layer);
    macs += m;
    if (mode === 'train') {
      if (trainable) macs += m;
      if (gradFlowsIn) macs += m;
    }
  }
  return 2 * macs * batch;
}

/**
 * Builds each named model and writes its topology into `dir`; a model that
 * cannot be built (e.g. MobileNet v2's file is missing) gives an error entry.
 */
export async function prepareGraphWorkloads(
  names: readonly GraphWorkloadName[],
  dir: string,
): Promise<{ ready: GraphWorkload[]; failed: Record<string, string> }> {
  const ready: GraphWorkload[] = [];
  const failed: Record<string, string> = {};
  for (const name of names) {
    const spec = SPECS[name];
    try {
      const model = await spec.build(spec.input);
      const json = model.toJSON(null, false) as tf.io.ModelJSON['modelTopology'];
      model.dispose();
      const topology = join(dir, `${name}.json`);
      writeFileSync(topology, JSON.stringify(json));
      // Counted on the network as the children rebuild it (a stitched model's layers have several inbound nodes).
      const rebuilt = await tfjs.models.modelFromJSON({ modelTopology: json });
      const { build: _build, ...rest } = spec;
      ready.push({ name, ...rest, topology, flops: graphFlops(rebuilt, spec.batch, 'train') });
      rebuilt.dispose();
    } catch (err) {
      failed[name] = (err as Error).message.split('\n')[0]!;
    }
  }
  return { ready, failed };
}
