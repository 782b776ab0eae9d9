/**
 * Walking a TF.js layers model as a graph: its leaf layers in order (nested
 * models opened up) and the nodes that belong to it, so a model whose layers
 * are also used elsewhere (a split, a stitched classifier) is still read right.
 */
import * as tf from '@tensorflow/tfjs';

type Layer = tf.layers.Layer;

/** The functional graph behind a model (a Sequential keeps one inside, built on first use). */
export function graphOf(model: tf.LayersModel): tf.LayersModel {
  if (!(model instanceof tf.Sequential)) return model;
  const seq = model as unknown as { model?: tf.LayersModel; build(): void };
  if (!seq.model && model.layers.length > 0) seq.build();
  return seq.model ?? model;
}

export function isContainer(layer: Layer): layer is tf.LayersModel {
  return layer instanceof tf.LayersModel;
}

/** Leaf layers in model order; nested models are opened up, input layers skipped. */
export function leafLayers(model: tf.LayersModel): Layer[] {
  const out: Layer[] = [];
  const walk = (m: tf.LayersModel): void => {
    for (const layer of m.layers) {
      if (isContainer(layer)) walk(layer);
      else if (layer.getClassName() !== 'InputLayer') out.push(layer);
    }
  };
  walk(model);
  return out;
}

/** Minimal view of a TF.js graph node (tfjs-layers' Node class is not exported). */
export interface GraphNode {
  outboundLayer: Layer;
  inputTensors: tf.SymbolicTensor[];
  outputTensors: tf.SymbolicTensor[];
  callArgs?: Record<string, unknown>;
}

/** The model's nodes from its inputs to its outputs (decreasing depth). */
export function nodesInOrder(model: tf.LayersModel): GraphNode[] {
  const g = graphOf(model) as unknown as { nodesByDepth: Record<string, GraphNode[]> };
  const depths = Object.keys(g.nodesByDepth)
    .map(Number)
    .sort((a, b) => b - a);
  return depths.flatMap((d) => g.nodesByDepth[String(d)]!);
}

/** The node of `layer` that belongs to `model` (a shared layer may have several). */
function nodeOf(model: tf.LayersModel, layer: Layer): GraphNode {
  const node = nodesInOrder(model).find((n) => n.outboundLayer === layer);
  if (!node) throw new Error(`layer ${layer.name} is not part of model ${model.name}`);
  return node;
}

/** The input tensors of the named layer inside `model`. */
export function layerInputs(model: tf.LayersModel, name: string): tf.SymbolicTensor[] {
  return nodeOf(model, graphOf(model).getLayer(name)).inputTensors;
}

/** The output tensor of the named layer inside `model`. */
export function layerOutput(model: tf.LayersModel, name: string): tf.SymbolicTensor {
  const layer = graphOf(model).getLayer(name);
  const outs = nodeOf(model, layer).outputTensors;
  if (outs.length !== 1) throw new Error(`layer ${name} has ${outs.length} outputs; pick a layer with one`);
  return outs[0]!;
}

/**
 * Re-applies the layers of `model` (shared, so weights are shared) to new
 * symbolic tensors: `mapped` maps tensor ids of `model` to their stand-ins.
 * Nodes none of whose inputs are mapped are skipped; a node with only some
 * of its inputs mapped is reported through `onPartial`. Returns the
 * stand-ins of the model's outputs (undefined where not reached).
 */
export function reapply(model: tf.LayersModel, mapped: Map<number, tf.SymbolicTensor>, onPartial: (layer: Layer) => never): (tf.SymbolicTensor | undefined)[] {
  for (const node of nodesInOrder(model)) {
    const layer = node.outboundLayer;
    if (layer.getClassName() === 'InputLayer' || node.inputTensors.length === 0) continue;
    const have = node.inputTensors.map((t) => mapped.get(t.id));
    const known = have.filter((t) => t !== undefined).length;
    if (known === 0) continue;
    if (known < have.length) onPartial(layer);
    const args = { ...(node.callArgs ?? {}) };
    delete args.mask;
    const out = layer.apply(have.length === 1 ? have[0]! : (have as tf.SymbolicTensor[]), args);
    const outs = Array.isArray(out) ? out : [out];
    node.outputTensors.forEach((t, i) => mapped.set(t.id, outs[i] as tf.SymbolicTensor));
  }
  return graphOf(model).outputs.map((t) => mapped.get(t.id));
}
