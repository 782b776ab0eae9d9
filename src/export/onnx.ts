/**
 * A TF.js layers model as an ONNX model (opset 13): the same input as the
 * convkit model (float32 RGB pixels 0..255, NHWC, any batch), the same
 * probabilities out, with the model's preprocessing layer (Rescaling, or
 * VGG16's caffe conv) inside the graph. Nested models are opened up; every
 * layer class goes through ./onnx-layers.ts, and a layer it does not know
 * stops the export before anything is written, naming the layer and class.
 */
import type * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from '../util/atomic.js';
import { ConvkitError } from '../util/errors.js';
import { graphOf, isContainer, leafLayers, nodesInOrder } from '../transfer/graph.js';
import { LAYER_CONVERTERS, SUPPORTED_LAYERS, unsupportedSetting } from './onnx-layers.js';
import { OnnxGraphBuilder, type Value } from './onnx-graph.js';
import { encodeOnnxModel, ONNX_FLOAT, readOnnxHeader, type OnnxDimension, type OnnxModel, type OnnxValueInfo } from './onnx-proto.js';
import type { ExportFormat } from './format.js';
import type { ExportMeta } from './meta.js';

export const ONNX_OPSET = 13;
/** IR version 7 is the first that holds opset 13. */
const IR_VERSION = 7;
/** Metadata key that marks a file as convkit's export (and so replaceable by the next one). */
const ONNX_EXPORT_MARK = 'convkit.export';
export const ONNX_INPUT_NAME = 'pixels';
export const ONNX_OUTPUT_NAME = 'probabilities';

/** Throws one ConvkitError listing every layer that cannot be exported. */
export function checkOnnxExportable(model: tf.LayersModel): void {
  const bad = leafLayers(model).flatMap((layer) => {
    const why = unsupportedSetting(layer);
    return why ? [`${layer.name} (${layer.getClassName()}): ${why}`] : [];
  });
  if (bad.length) {
    throw new ConvkitError(
      `${model.name} cannot be exported to ONNX: layer${bad.length > 1 ? 's' : ''} ${bad.join('; ')}`,
      `ONNX export supports the layers ${SUPPORTED_LAYERS.join(', ')}`,
    );
  }
}

function valueInfo(name: string, shape: readonly (number | null)[], doc: string): OnnxValueInfo {
  const dim: OnnxDimension[] = shape.map((d, i) => (d == null ? { dim_param: i === 0 ? 'batch' : `dim${i}` } : { dim_value: d }));
  return { name, type: { tensor_type: { elem_type: ONNX_FLOAT, shape: { dim } } }, doc_string: doc };
}

/** Converts the nodes of `model` whose inputs are in `values` (keyed by symbolic tensor id), adding their outputs. */
function convertGraph(g: OnnxGraphBuilder, model: tf.LayersModel, values: Map<number, Value>): void {
  for (const node of nodesInOrder(model)) {
    const layer = node.outboundLayer;
    if (layer.getClassName() === 'InputLayer' || node.inputTensors.length === 0) continue;
    const inputs = node.inputTensors.map((t) => {
      const v = values.get(t.id);
      if (!v)
        throw new ConvkitError(
          `layer ${layer.name} (${layer.getClassName()}) reads a tensor no earlier layer produced`,
          'export a single-input feed-forward model',
        );
      return v;
    });
    if (isContainer(layer)) {
      // A nested model: its inputs are this node's, its outputs this node's outputs.
      const inner = graphOf(layer);
      const innerValues = new Map<number, Value>(inner.inputs.map((t, i) => [t.id, inputs[i]!]));
      convertGraph(g, inner, innerValues);
      inner.outputs.forEach((t, i) => values.set(node.outputTensors[i]!.id, innerValues.get(t.id)!));
      continue;
    }
    if (node.outputTensors.length !== 1)
      throw new ConvkitError(`layer ${layer.name} (${layer.getClassName()}) has ${node.outputTensors.length} outputs`, 'export layers with one output');
    const convert = LAYER_CONVERTERS[layer.getClassName()]!;
    const out = node.outputTensors[0]!;
    values.set(out.id, convert({ g, layer, config: layer.getConfig() as Record<string, unknown>, inputs, outShape: out.shape }));
  }
}

/** The ONNX model for `model` (not yet encoded). */
export function onnxModelOf(model: tf.LayersModel, meta: ExportMeta): OnnxModel {
  checkOnnxExportable(model);
  const graph = graphOf(model);
  if (graph.inputs.length !== 1) throw new ConvkitError(`${model.name} has ${graph.inputs.length} inputs`, 'export a model with one image input');
  const g = new OnnxGraphBuilder();
  const input = graph.inputs[0]!;
  if (input.shape.length !== 4)
    throw new ConvkitError(`${model.name} takes a rank-${input.shape.length} input`, 'export an image model ([batch, height, width, channels] input)');
  const values = new Map<number, Value>([[input.id, { name: g.unique(ONNX_INPUT_NAME), layout: 'tfjs', shape: input.shape }]]);
  const outputNames = graph.outputs.map((t, i) => g.unique(graph.outputs.length === 1 ? ONNX_OUTPUT_NAME : `${ONNX_OUTPUT_NAME}_${i}`));
  convertGraph(g, graph, values);
  const outputs = graph.outputs.map((t, i) => {
    const v = values.get(t.id);
    if (!v) throw new ConvkitError(`${model.name}: output ${t.name} is not reached from the input`, 'export a single-input feed-forward model');
    g.nodes.push({ op_type: 'Identity', input: [g.toTfjs(v).name], output: [outputNames[i]!], name: outputNames[i]!, attribute: [] });
    return valueInfo(outputNames[i]!, t.shape, meta.outputDescription);
  });
  return {
    ir_version: IR_VERSION,
    opset_import: [{ domain: '', version: ONNX_OPSET }],
    producer_name: 'convkit',
    producer_version: meta.producerVersion,
    doc_string: meta.description,
    graph: {
      name: model.name,
      node: g.nodes,
      initializer: g.initializers,
      input: [valueInfo(ONNX_INPUT_NAME, input.shape, meta.inputDescription)],
      output: outputs,
    },
    metadata_props: Object.entries({ [ONNX_EXPORT_MARK]: `onnx opset ${ONNX_OPSET}`, ...meta.properties }).map(([key, value]) => ({ key, value })),
  };
}

/** True for an ONNX file convkit exported (producer "convkit" and the export mark in its metadata). */
export async function isConvkitOnnx(path: string): Promise<boolean> {
  const header = await readOnnxHeader(path);
  return header?.producerName === 'convkit' && Object.hasOwn(header.metadata, ONNX_EXPORT_MARK);
}

export const ONNX_FORMAT: ExportFormat = {
  name: 'onnx',
  description: `ONNX opset ${ONNX_OPSET}, float32; input "${ONNX_INPUT_NAME}" [batch, h, w, 3] RGB 0..255 (NHWC), output "${ONNX_OUTPUT_NAME}"`,
  what: 'an ONNX model',
  extension: '.onnx',
  owns: isConvkitOnnx,
  write: async ({ model, meta, out, reclaim }) => {
    const onnx = onnxModelOf(model, meta);
    const bytes = encodeOnnxModel(onnx);
    await reclaim();
    await writeFileAtomic(out, bytes);
    const details = { opset: ONNX_OPSET, nodes: onnx.graph.node.length, input: ONNX_INPUT_NAME, outputs: onnx.graph.output.map((o) => o.name) };
    return { bytes: bytes.byteLength, files: [out], details };
  },
};
