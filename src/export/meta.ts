/**
 * What an exported file says about its model, whatever the format: the class
 * names in output order, the input size and pixel range, what the output
 * holds, and which convkit wrote it. Taken from convkit.json when the model
 * comes from a model folder, else from the model's own shapes.
 */
import type * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelMetaInput } from '../train/model-meta.js';
import { ConvkitError } from '../util/errors.js';
import { packageRoot } from '../util/paths.js';

/** The parts of convkit.json an export records (all optional for a model without a folder). */
export type ExportSourceMeta = Partial<Pick<ModelMetaInput, 'classNames' | 'inputSize' | 'colorMode' | 'classMode' | 'weightsSha256'>>;

export interface ExportMeta {
  modelName: string;
  inputSize: [number, number];
  channels: number;
  classNames?: string[];
  producerVersion: string;
  /** One paragraph for the file's documentation string. */
  description: string;
  inputDescription: string;
  outputDescription: string;
  /** Key/value metadata for the file (ONNX metadata_props). */
  properties: Record<string, string>;
}

let version: string | undefined;

function convkitVersion(): string {
  version ??= (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  return version;
}

/** The export metadata of `model`, with convkit.json's fields where given. */
export function exportMetaOf(model: tf.LayersModel, source: ExportSourceMeta = {}): ExportMeta {
  const [, h, w, c] = model.inputs[0]!.shape;
  const inputSize = source.inputSize ?? (h != null && w != null ? [h, w] : undefined);
  if (!inputSize)
    throw new ConvkitError(
      `${model.name} takes images of any size, so the export cannot record one`,
      "pass the model's convkit.json (inputSize) or build it for a fixed size",
    );
  const channels = c ?? (source.colorMode === 'grayscale' ? 1 : 3);
  const out = model.outputs[0]!;
  const units = out.shape[out.shape.length - 1] ?? 0;
  const names = source.classNames;
  if (names && units !== (source.classMode === 'binary' ? 1 : names.length))
    throw new ConvkitError(`${model.name} has ${units} output units but ${names.length} class names`, 'pass the convkit.json written with this model');
  const pixels = channels === 1 ? 'grayscale' : 'RGB';
  const inputDescription = `float32 [batch, ${inputSize[0]}, ${inputSize[1]}, ${channels}] (NHWC): ${pixels} pixels in [0, 255]; the scaling is inside the model`;
  const outputDescription =
    source.classMode === 'binary' && names
      ? `float32 [batch, 1]: sigmoid probability of class "${names[1]}" (the other class is "${names[0]}")`
      : names
        ? `float32 [batch, ${names.length}]: softmax probabilities of the classes in class_names order`
        : `float32 [batch, ${units}]: the model's output`;
  const properties: Record<string, string> = {
    model_name: model.name,
    input_size: JSON.stringify(inputSize),
    input: inputDescription,
    output: outputDescription,
  };
  if (names) properties.class_names = JSON.stringify(names);
  if (source.classMode) properties.class_mode = source.classMode;
  if (source.colorMode) properties.color_mode = source.colorMode;
  if (source.weightsSha256) properties.source_weights_sha256 = JSON.stringify(source.weightsSha256);
  return {
    modelName: model.name,
    inputSize: [inputSize[0], inputSize[1]],
    channels,
    classNames: names,
    producerVersion: convkitVersion(),
    description: `${model.name}, exported by convkit ${convkitVersion()}. Input: ${inputDescription}. Output: ${outputDescription}.`,
    inputDescription,
    outputDescription,
    properties,
  };
}
