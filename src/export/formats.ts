/**
 * The export formats by name. A format is one object implementing
 * ExportFormat (./format.ts); adding one is adding its entry here.
 */
import { promises as fs } from 'node:fs';
import { ConvkitError } from '../util/errors.js';
import type { ExportFormat } from './format.js';
import { ONNX_FORMAT } from './onnx.js';
import { exportTflite, readTfliteDescription } from './tflite.js';

/** A TFLite file with convkit's description in its metadata; never throws. */
async function isConvkitTflite(path: string): Promise<boolean> {
  try {
    return readTfliteDescription(new Uint8Array(await fs.readFile(path))) !== null;
  } catch {
    return false;
  }
}

/** TFLite through ./tflite.ts, which also writes MODEL.labels.txt beside the file. */
function tfliteFormat(quantize: 'int8' | undefined): ExportFormat {
  return {
    name: quantize ? 'tflite-int8' : 'tflite',
    description: quantize
      ? 'TFLite full-integer int8 (uint8 pixels in, float32 probabilities out), calibrated on images (calibration, calibrationCount, seed)'
      : 'TFLite float32; input [1, h, w, 3] RGB 0..255 (NHWC), float32 probabilities out',
    what: 'a TFLite model',
    extension: '.tflite',
    options: quantize ? ['calibration', 'calibrationCount', 'seed'] : [],
    owns: isConvkitTflite,
    write: async ({ model, modelMeta, out, formatOptions, silent }) => {
      if (!modelMeta)
        throw new ConvkitError(
          `the ${quantize ? 'tflite-int8' : 'tflite'} export needs the model's convkit.json (class names, class mode, training data)`,
          'export a model folder, or the result of loadModel()',
        );
      const r = await exportTflite(model, modelMeta, out, { ...formatOptions, quantize, silent });
      const [h, w] = modelMeta.inputSize;
      return {
        bytes: r.bytes,
        files: [r.file, r.labelsFile],
        details: { type: r.type, ops: r.ops, labelsFile: r.labelsFile, calibration: r.calibration },
        input: `${r.type === 'int8' ? 'uint8' : 'float32'} [1, ${h}, ${w}, 3] (NHWC): RGB pixels 0..255; the scaling is inside the model`,
      };
    },
  };
}

const FORMATS: Readonly<Record<string, ExportFormat>> = {
  onnx: ONNX_FORMAT,
  tflite: tfliteFormat(undefined),
  'tflite-int8': tfliteFormat('int8'),
};

/** The names of the formats exportModel writes. */
export function exportFormatNames(): string[] {
  return Object.keys(FORMATS);
}

/** The format named `name`; a ConvkitError listing the formats when there is none. */
export function exportFormat(name: string): ExportFormat {
  const format = Object.hasOwn(FORMATS, name) ? FORMATS[name] : undefined;
  if (!format) {
    const list = Object.values(FORMATS).map((f) => `${f.name} (${f.description})`);
    throw new ConvkitError(`unknown export format ${JSON.stringify(name)}`, `use one of: ${list.join('; ')}`);
  }
  return format;
}
