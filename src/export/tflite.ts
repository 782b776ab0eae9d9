/**
 * TFLite export of a convkit classifier: float32, or full-integer int8
 * calibrated on images like the ones it will see. The file takes what the
 * convkit model takes — RGB pixels 0..255, NHWC [1, h, w, 3] — as float32
 * (float export) or as the raw uint8 bytes (int8 export), and gives float32
 * probabilities, as the convkit model does. The class names travel inside
 * the file (metadata "labels": labels.txt, one class per line in output
 * order; "convkit": the input and output described in JSON) and beside it
 * as MODEL.labels.txt, the file Android and Coral examples load.
 */
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import { resolve } from 'node:path';
import { splitFolder } from '../data/splits.js';
import type { ResolvedDecodeOptions } from '../data/cache.js';
import type { Interpolation } from '../data/decode.js';
import { checkModelMatchesMeta, type ConvkitModelMeta } from '../train/model-meta.js';
import { writeFileAtomic } from '../util/atomic.js';
import { check, ConvkitError } from '../util/errors.js';
import { claimOutputFile } from '../util/output-guard.js';
import { errnoCode } from '../util/paths.js';
import { calibrate, calibrationFiles } from './calibration.js';
import { quantizeGraph } from './quantize.js';
import { readTfliteMetadata, writeTflite, type FlatModel, type FlatTensor } from './tflite-flatbuffer.js';
import type { Graph } from './tflite-graph.js';
import { lowerModel } from './tflite-lower.js';

/** What the export reads of convkit.json: the classes and the input, and for the int8 default calibration set the training data. */
export type TfliteSourceMeta = Pick<ConvkitModelMeta, 'classNames' | 'classMode' | 'inputSize' | 'colorMode'> & {
  preprocessing?: { interpolation?: string };
  /** convkit.json's record of the training data (`root`: the folder with train/). */
  data?: unknown;
};

export interface TfliteExportOptions {
  /** 'int8': post-training full-integer quantization (uint8 pixels in, float32 probabilities out). Default: float32. */
  quantize?: 'int8';
  /** int8: a folder of calibration images (class sub-folders, or images anywhere below it); default the training split named in convkit.json. */
  calibration?: string;
  /** int8: how many calibration images, drawn with `seed` (default 100; all when the folder holds fewer). */
  calibrationCount?: number;
  /** Which calibration images are drawn (default 1). */
  seed?: number;
  /** No progress output. */
  silent?: boolean;
}

export interface TfliteExportResult {
  file: string;
  labelsFile: string;
  bytes: number;
  type: 'float32' | 'int8';
  /** The distinct TFLite ops of the file. */
  ops: string[];
  /** int8: where the calibration images came from and how many were used. */
  calibration?: { dir: string; images: number };
}

/** What the "convkit" metadata buffer of an exported file holds. */
export interface TfliteDescription {
  format: 'convkit-tflite';
  version: 1;
  classNames: string[];
  classMode: ConvkitModelMeta['classMode'];
  inputSize: [number, number];
  colorMode: ConvkitModelMeta['colorMode'];
  interpolation: string;
  input: { type: 'float32' | 'uint8'; shape: number[]; values: string };
  output: { type: 'float32'; shape: number[]; values: string };
  quantization: null | { type: 'int8'; calibrationImages: number };
}

const FORMAT = 'convkit-tflite';
const DEFAULT_CALIBRATION_COUNT = 100;

/** MODEL.labels.txt beside MODEL.tflite (MODEL.labels.txt beside any other name MODEL). */
export function labelsPathFor(file: string): string {
  return file.replace(/\.tflite$/i, '') + '.labels.txt';
}

const labelsText = (classNames: readonly string[]) => classNames.join('\n') + '\n';

/** The description an exported file carries, or null for any other file. */
export function readTfliteDescription(bytes: Uint8Array): TfliteDescription | null {
  const raw = readTfliteMetadata(bytes).get('convkit');
  if (!raw) return null;
  try {
    const d = JSON.parse(new TextDecoder().decode(raw)) as TfliteDescription;
    return d.format === FORMAT ? d : null;
  } catch {
    return null;
  }
}

async function readOrNull(path: string): Promise<Uint8Array | null> {
  try {
    return new Uint8Array(await fs.readFile(path));
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'EISDIR') return null;
    throw err;
  }
}

/** A .tflite file convkit exported (it carries convkit's description). */
async function isExportedTflite(path: string): Promise<boolean> {
  const bytes = await readOrNull(path);
  return bytes !== null && readTfliteDescription(bytes) !== null;
}

/** A labels file written with the model beside it: that model is convkit's and embeds exactly these labels. */
async function isExportedLabels(path: string, model: string): Promise<boolean> {
  const [labels, bytes] = await Promise.all([readOrNull(path), readOrNull(model)]);
  if (!labels || !bytes || !readTfliteDescription(bytes)) return false;
  const embedded = readTfliteMetadata(bytes).get('labels');
  return embedded !== undefined && Buffer.from(embedded).equals(Buffer.from(labels));
}

/** How the model's images are read (convkit.json's size, colours, resize filter), as convkit's predict reads them. */
function readOptions(meta: TfliteSourceMeta): ResolvedDecodeOptions {
  return {
    targetSize: [meta.inputSize[0], meta.inputSize[1]],
    colorMode: meta.colorMode,
    interpolation: (meta.preprocessing?.interpolation ?? 'bilinear') as Interpolation,
  };
}

/** The training split convkit.json names, the default calibration set. */
function recordedTrainSplit(meta: TfliteSourceMeta): string {
  const root = (meta.data as { root?: unknown } | undefined)?.root;
  if (typeof root !== 'string')
    throw new ConvkitError(
      'convkit.json of the model does not record its training data',
      'pass --calibration DIR: a folder of images like those the model will classify (e.g. the training split)',
    );
  return splitFolder(root, 'train');
}

const bytesOf = (a: Float32Array | Int32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** The float32 form of `g`: constants as stored, every activation float32. */
function floatTensors(g: Graph): FlatTensor[] {
  return g.tensors.map((t) =>
    t.data
      ? { name: t.name, shape: t.shape, type: t.data instanceof Int32Array ? 'INT32' : 'FLOAT32', data: bytesOf(t.data) }
      : { name: t.name, shape: t.shape, type: 'FLOAT32' },
  );
}

function describe(meta: TfliteSourceMeta, inputShape: number[], outputShape: number[], calibrationImages?: number): TfliteDescription {
  const int8 = calibrationImages !== undefined;
  const color = meta.colorMode === 'grayscale' ? 'grayscale' : 'RGB';
  return {
    format: FORMAT,
    version: 1,
    classNames: [...meta.classNames],
    classMode: meta.classMode,
    inputSize: [meta.inputSize[0], meta.inputSize[1]],
    colorMode: meta.colorMode,
    interpolation: String(meta.preprocessing?.interpolation ?? 'bilinear'),
    input: {
      type: int8 ? 'uint8' : 'float32',
      shape: inputShape,
      values: `${color} pixels 0..255, NHWC, resized to ${meta.inputSize[0]}×${meta.inputSize[1]}${int8 ? ' (the raw bytes: scale 1, zero point 0)' : ''}`,
    },
    output: {
      type: 'float32',
      shape: outputShape,
      values: meta.classMode === 'binary' ? `probability of class "${meta.classNames[1]}" (sigmoid)` : 'probability of each class, in labels order (softmax)',
    },
    quantization: int8 ? { type: 'int8', calibrationImages } : null,
  };
}

/**
 * Writes `model` (described by `meta`, its convkit.json) as a TFLite file at
 * `file` and its class names at labelsPathFor(file). Neither may be a file
 * convkit did not write; both are written whole or not at all.
 */
export async function exportTflite(
  model: tf.LayersModel,
  meta: TfliteSourceMeta,
  file: string,
  options: TfliteExportOptions = {},
): Promise<TfliteExportResult> {
  const { quantize, seed = 1, silent = false } = options;
  check(quantize === undefined || quantize === 'int8', 'quantize', quantize, '"int8" or left out (float32)');
  if (!quantize && (options.calibration !== undefined || options.calibrationCount !== undefined)) {
    const flag = options.calibration !== undefined ? '--calibration' : '--calibration-count';
    throw new ConvkitError(`${flag} applies to the int8 export only`, `export with --format tflite-int8, or leave ${flag} out`);
  }
  const count = options.calibrationCount ?? DEFAULT_CALIBRATION_COUNT;
  check(Number.isInteger(count) && count >= 1, 'calibrationCount', count, 'a whole number of images ≥ 1');
  checkModelMatchesMeta(model, meta as ConvkitModelMeta, `model ${model.name}`, 'its convkit.json');

  const out = resolve(file);
  const labelsFile = labelsPathFor(out);
  const calibrationDir = quantize ? resolve(options.calibration ?? recordedTrainSplit(meta)) : undefined;
  const inputs = calibrationDir ? [{ path: calibrationDir, flag: '--calibration' }] : [];
  const claim = async () => {
    await claimOutputFile({ path: out, flag: '--out', what: 'a TFLite model', owns: isExportedTflite, inputs });
    await claimOutputFile({ path: labelsFile, flag: '--out', what: 'a labels file', owns: (p) => isExportedLabels(p, out), inputs });
  };
  await claim();

  // Lowered first: an unsupported layer is named before any image is read.
  const graph = lowerModel(model);
  let flat: Pick<FlatModel, 'tensors' | 'ops' | 'inputs' | 'outputs'>;
  let calibration: TfliteExportResult['calibration'];
  if (calibrationDir) {
    const files = await calibrationFiles(calibrationDir, count, seed);
    const q = quantizeGraph(graph, await calibrate(graph, files, readOptions(meta), silent));
    flat = { tensors: q.tensors, ops: q.ops, inputs: [q.input], outputs: [q.output] };
    calibration = { dir: calibrationDir, images: files.length };
  } else {
    flat = { tensors: floatTensors(graph), ops: graph.ops, inputs: [graph.input], outputs: [graph.output] };
  }
  const shapeOf = (i: number) => flat.tensors[i]!.shape;
  const description = describe(meta, shapeOf(flat.inputs[0]!), shapeOf(flat.outputs[0]!), calibration?.images);
  const labels = new TextEncoder().encode(labelsText(meta.classNames));
  const bytes = writeTflite({
    ...flat,
    description: `convkit ${quantize ?? 'float32'} classifier: ${meta.classNames.length} classes, ${description.input.values}`,
    metadata: [
      { name: 'convkit', data: new TextEncoder().encode(JSON.stringify(description)) },
      { name: 'labels', data: labels },
    ],
  });
  // Again: either file may have appeared while the model was converted.
  await claim();
  await writeFileAtomic(out, bytes);
  await writeFileAtomic(labelsFile, labels);
  return {
    file: out,
    labelsFile,
    bytes: bytes.byteLength,
    type: quantize ?? 'float32',
    ops: [...new Set(flat.ops.map((o) => o.op))],
    calibration,
  };
}
