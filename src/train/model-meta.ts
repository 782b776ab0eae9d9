/**
 * What convkit.json must say, and that it must describe the model beside it:
 * a folder whose model.json and convkit.json disagree (another model's
 * weights, classes edited by hand) would label images with wrong names.
 */
import type * as tf from '@tensorflow/tfjs';
import type { Interpolation } from '../data/decode.js';
import { ConvkitError } from '../util/errors.js';
import type { DirectoryIterator } from '../data/iterator.js';

export const META_FORMAT = 'convkit-model';
export const META_VERSION = 1;

/** What a model's saver describes in convkit.json (saveModel adds the format, version and date). */
export interface ModelMetaInput {
  /** Class names in output order (index i ↔ output unit i; binary: index 1 is the sigmoid's positive class). */
  classNames: string[];
  /** [height, width] the model expects. */
  inputSize: [number, number];
  colorMode: 'rgb' | 'grayscale';
  classMode: 'binary' | 'categorical' | 'sparse';
  /** How pixels are read and scaled (the scaling itself is inside the model). */
  preprocessing: {
    input: string;
    interpolation?: string;
    inModel?: string;
    [key: string]: unknown;
  };
  recipe?: { name: string; profile?: string; settings?: Record<string, unknown>; seed?: number; [key: string]: unknown };
  history?: { epoch: number[]; history: Record<string, number[]> };
  metrics?: Record<string, unknown>;
  /** sha256 (hex) of each weight file by its model.json path, written by saveModel and checked on load (absent in older folders). */
  weightsSha256?: Record<string, string>;
  createdAt?: string;
  [key: string]: unknown;
}

/** What convkit.json holds. */
export interface ConvkitModelMeta extends ModelMetaInput {
  format: typeof META_FORMAT;
  version: number;
  createdAt: string;
}

/** Largest input side convkit.json may name (far above any photo classifier's). */
const MAX_SIDE = 8192;
const COLOR_MODES = ['rgb', 'grayscale'];
const CLASS_MODES = ['binary', 'categorical', 'sparse'];
const INTERPOLATIONS: readonly Interpolation[] = ['nearest', 'bilinear', 'bicubic', 'area'];
const REDO = 'the file is damaged or was edited: save or train the model again';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Validates parsed convkit.json content; `path` names the file in errors. */
export function checkMeta(meta: unknown, path: string): ConvkitModelMeta {
  const m = (isObject(meta) ? meta : {}) as Partial<ConvkitModelMeta>;
  if (m.format !== META_FORMAT) {
    throw new ConvkitError(`${path} is not a convkit model description (format ${JSON.stringify(m.format)})`, `expected "format": "${META_FORMAT}"`);
  }
  if (typeof m.version !== 'number' || m.version > META_VERSION) {
    throw new ConvkitError(`${path} has version ${m.version}; this convkit reads up to ${META_VERSION}`, 'upgrade convkit');
  }
  const field = (name: string, ok: boolean, expected: string) => {
    if (!ok)
      throw new ConvkitError(
        m[name] === undefined ? `${path} lacks ${name}` : `${path} has an invalid ${name}: ${JSON.stringify(m[name])}`,
        `${name} must be ${expected}; ${REDO}`,
      );
  };
  const names = m.classNames;
  field(
    'classNames',
    Array.isArray(names) && names.length >= 2 && names.every((c) => typeof c === 'string' && c.length > 0),
    'a list of at least two class names',
  );
  const twice = names!.find((c, i) => names!.indexOf(c) !== i);
  if (twice !== undefined) throw new ConvkitError(`${path} names class ${JSON.stringify(twice)} twice`, `each output unit needs its own class name; ${REDO}`);
  const size = m.inputSize;
  field(
    'inputSize',
    Array.isArray(size) && size.length === 2 && size.every((s) => Number.isInteger(s) && s >= 1 && s <= MAX_SIDE),
    `[height, width] in whole pixels, 1..${MAX_SIDE}`,
  );
  field('colorMode', COLOR_MODES.includes(m.colorMode as string), COLOR_MODES.map((c) => `"${c}"`).join(' or '));
  field('classMode', CLASS_MODES.includes(m.classMode as string), CLASS_MODES.map((c) => `"${c}"`).join(', '));
  if (m.classMode === 'binary' && names!.length !== 2)
    throw new ConvkitError(`${path} has classMode "binary" with ${names!.length} classes`, `binary models have exactly two classes; ${REDO}`);
  const pre = m.preprocessing;
  field(
    'preprocessing',
    isObject(pre) && typeof pre.input === 'string' && (pre.interpolation === undefined || INTERPOLATIONS.includes(pre.interpolation as Interpolation)),
    `an object with "input" (how pixels are read) and an optional "interpolation" (${INTERPOLATIONS.join(', ')})`,
  );
  const hashes = m.weightsSha256;
  field(
    'weightsSha256',
    hashes === undefined || (isObject(hashes) && Object.values(hashes).every((h) => typeof h === 'string' && /^[0-9a-f]{64}$/.test(h))),
    'an object mapping each weight file to its sha256 in hex',
  );
  return m as ConvkitModelMeta;
}

/**
 * Throws unless `model` fits `meta`: 1 sigmoid unit ↔ two classes, "binary";
 * N softmax units ↔ N classes, "categorical" or "sparse"; and the input size
 * and channels convkit.json names, where the model fixes them.
 */
export function checkModelMatchesMeta(model: tf.LayersModel, meta: ConvkitModelMeta, modelPath: string, metaPath: string): void {
  const mismatch = (what: string) =>
    new ConvkitError(`${modelPath} ${what}`, 'the folder mixes two models: copy the model folder again, or train the model again');
  const out = model.outputs[0]!;
  const units = out.shape[out.shape.length - 1] ?? 1;
  const activation = (out.sourceLayer.getConfig() as { activation?: unknown }).activation;
  const expected = meta.classMode === 'binary' ? { units: 1, activation: 'sigmoid' } : { units: meta.classNames.length, activation: 'softmax' };
  const described = `${meta.classNames.length} classes, classMode "${meta.classMode}" in ${metaPath}, which needs ${expected.units} ${expected.activation} unit${expected.units > 1 ? 's' : ''}`;
  if (units !== expected.units) throw mismatch(`has ${units} output unit${units > 1 ? 's' : ''} but ${described}`);
  if (typeof activation === 'string' && activation !== expected.activation) throw mismatch(`ends in a ${activation} activation but ${described}`);
  const [, h, w, c] = model.inputs[0]!.shape;
  const [mh, mw] = meta.inputSize;
  if ((h != null && h !== mh) || (w != null && w !== mw)) throw mismatch(`takes ${h}×${w} images but ${metaPath} says inputSize [${mh}, ${mw}]`);
  const channels = meta.colorMode === 'grayscale' ? 1 : 3;
  if (c != null && c !== channels) throw mismatch(`takes ${c}-channel images but ${metaPath} says colorMode "${meta.colorMode}" (${channels})`);
}

/** What convkit.json says of a model's input and output, from the iterator it was trained on (its classes, size, colours, resize filter). */
export function inputMetaOf(train: DirectoryIterator): Pick<ModelMetaInput, 'classNames' | 'inputSize' | 'colorMode' | 'classMode' | 'preprocessing'> {
  const d = train.decodeOptions;
  const classNames = [...train.classNames];
  return {
    classNames,
    inputSize: [d.targetSize[0], d.targetSize[1]],
    colorMode: d.colorMode,
    classMode: classNames.length === 2 ? 'binary' : 'categorical',
    preprocessing: {
      input: 'RGB pixels as floats in [0, 255], shape [batch, height, width, 3]',
      interpolation: d.interpolation,
      inModel: "scaling is done by the model's first layer(s)",
    },
  };
}
