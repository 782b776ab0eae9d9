/**
 * convkit's command line: a table of commands, each a thin module in
 * ./commands that parses its flags and calls the library.
 */
import { takeVerbose } from './args.js';
import { reportError } from './report-error.js';

import type { Command } from './command.js';

export type { Command } from './command.js';

interface Entry {
  summary: string;
  load: () => Promise<Command>;
}

/** Each entry loads lazily so `convkit --help` starts instantly. */
const COMMANDS: Record<string, Entry> = {
  audit: {
    summary: 'find broken, duplicated, leaked, mislabeled and outlying images in a photo folder; apply or undo the fixes',
    load: async () => (await import('./commands/audit.js')).default,
  },
  classify: {
    summary: 'top ImageNet classes of images with a pretrained MobileNet v1/v2 or VGG16',
    load: async () => (await import('./commands/classify.js')).default,
  },
  bench: {
    summary: 'time convkit-native, convkit-wasm and PyTorch on conv, VGG16 and training workloads (bench data: input pipeline)',
    load: async () => (await import('./commands/bench.js')).default,
  },
  doctor: { summary: 'show the TensorFlow.js backend, threads and native library in use', load: async () => (await import('./commands/doctor.js')).default },
  export: {
    summary: 'write a trained model as an ONNX or TFLite file (same input and probabilities) for other runtimes',
    load: async () => (await import('./commands/export.js')).default,
  },
  train: {
    summary: 'train a classifier on class folders with a recipe (scratch, augment, ...); keeps the best epoch',
    load: async () => (await import('./commands/train.js')).default,
  },
  'lr-find': {
    summary: "learning-rate range test of a recipe on a folder (fastai's lr_find): the suggested rate and a loss-against-rate plot",
    load: async () => (await import('./commands/lr-find.js')).default,
  },
  features: {
    summary: "a frozen base's features of a data folder, in shards for separate processes or machines (features merge: join them)",
    load: async () => (await import('./commands/features.js')).default,
  },
  evaluate: {
    summary: 'accuracy, loss, confusion matrix, precision/recall/F1 and ROC AUC of a trained model on class folders',
    load: async () => (await import('./commands/evaluate.js')).default,
  },
  predict: {
    summary: 'classify image files with a trained model (one JSON line per image with --json)',
    load: async () => (await import('./commands/predict.js')).default,
  },
  prepare: {
    summary: 'build train/validation/test class folders from a photo folder (split by counts, fractions or ranges)',
    load: async () => (await import('./commands/prepare.js')).default,
  },
  preview: {
    summary: 'PNG grid of augmented images (ImageDataGenerator settings; --batch: one labelled batch)',
    load: async () => (await import('./commands/preview.js')).default,
  },
  study: {
    summary:
      'the lecture end to end (scratch → … → finetune), or `study auto`: the best classifier for your folder within a time budget; resumable, with an HTML report',
    load: async () => (await import('./commands/study.js')).default,
  },
};

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  const lines = Object.entries(COMMANDS).map(([name, e]) => `  ${name.padEnd(width)}  ${e.summary}`);
  return [
    'Usage: convkit <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Run "convkit <command> --help" for the options of one command.',
    'Any command takes --verbose (or CONVKIT_VERBOSE=1): errors then show their stack trace.',
  ].join('\n');
}

export async function main(args: string[]): Promise<number> {
  const { argv, verbose } = takeVerbose(args);
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : 1;
  }
  // Own keys only: "constructor" is not a command.
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!entry) {
    console.error(`convkit: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  try {
    const command = await entry.load();
    return await command.run(rest);
  } catch (err) {
    return reportError(name, err, verbose);
  }
}
