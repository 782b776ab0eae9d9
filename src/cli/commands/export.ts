import { initBackend } from '../../backend/index.js';
import { exportFormat, exportFormatNames, exportModel } from '../../export/index.js';
import { ConvkitError } from '../../util/errors.js';
import { intFlag, parseCommandArgs } from '../args.js';
import type { Command } from '../command.js';

const formats = () => exportFormatNames().map((name) => `    ${name.padEnd(12)} ${exportFormat(name).description}`);

const spec = {
  name: 'export',
  usage: [
    'convkit export --model MODEL_DIR --format FORMAT --out FILE [--json]',
    '               [--calibration DIR] [--calibration-count N] [--seed N]   (tflite-int8)',
    '  Writes a trained model as a file for another runtime. The file takes what the convkit model',
    '  takes (RGB pixels 0..255, NHWC) and gives the same probabilities: the preprocessing is',
    '  inside it; class names and input size are in its metadata.',
    '  --out may be a new file or one convkit exported before; any other file is left alone.',
    '  --json   one JSON line: {"format", "out", "files", "bytes", "classNames", "inputSize", "details"}',
    '  --calibration DIR      tflite-int8: images to calibrate on (default: the training split in convkit.json)',
    '  --calibration-count N  tflite-int8: how many of them, drawn with --seed (default 100)',
    '  Formats:',
    ...formats(),
  ].join('\n'),
  options: {
    model: { type: 'string' },
    format: { type: 'string' },
    out: { type: 'string' },
    json: { type: 'boolean' },
    calibration: { type: 'string' },
    'calibration-count': { type: 'string' },
    seed: { type: 'string' },
  },
} as const;

const exportCommand: Command = {
  async run(argv) {
    const { values: v } = parseCommandArgs(spec, argv);
    if (v.help) {
      console.log(spec.usage);
      return 0;
    }
    if (!v.model) throw new ConvkitError('--model is required', 'pass the folder written by "convkit train --out"');
    if (!v.format) throw new ConvkitError('--format is required', `pass one of: ${exportFormatNames().join(', ')}`);
    if (!v.out) throw new ConvkitError('--out is required', `pass the file to write, e.g. --out model${exportFormat(v.format).extension}`);
    const formatOptions = {
      calibration: v.calibration,
      calibrationCount: v['calibration-count'] === undefined ? undefined : intFlag(v['calibration-count'], 'calibration-count', 100, 1),
      seed: v.seed === undefined ? undefined : intFlag(v.seed, 'seed', 1, 0),
    };
    await initBackend();
    const result = await exportModel(v.model, {
      format: v.format,
      out: v.out,
      formatOptions,
      silent: Boolean(v.json),
      flags: { out: '--out', model: '--model' },
    });
    if (v.json) {
      const { classNames, inputSize } = result.meta;
      console.log(
        JSON.stringify({ format: result.format, out: result.out, files: result.files, bytes: result.bytes, classNames, inputSize, details: result.details }),
      );
    } else {
      const [h, w] = result.meta.inputSize;
      console.log(`wrote ${result.files.join(' and ')} (${result.format}, ${(result.bytes / 1e6).toFixed(1)} MB)`);
      console.log(`  input:  ${result.input}`);
      console.log(`  output: ${result.meta.outputDescription}`);
      if (result.meta.classNames) console.log(`  classes: ${result.meta.classNames.join(', ')}; ${h}×${w} px`);
    }
    return 0;
  },
};
export default exportCommand;
