import { ConvkitError } from '../../util/errors.js';
import { BENCH_BACKENDS, type BenchBackend, formatBenchReport, runBench } from '../../bench/index.js';
import { WORKLOAD_NAMES, type WorkloadName } from '../../bench/workloads.js';
import { GRAPH_WORKLOAD_NAMES, type GraphWorkloadName } from '../../bench/graph-workloads.js';
import { INFERENCE_WORKLOAD_NAMES, type InferenceWorkloadName } from '../../bench/inference.js';
import type { ResampleEngine } from '../../augment/apply.js';
import { intFlag, parseCommandArgs } from '../args.js';
import type { Command } from '../command.js';

const spec = {
  name: 'bench',
  usage: [
    'convkit bench [--json] [--quick] [--threads N] [--rounds N] [--backends native,wasm,pytorch,onnxruntime] [--workloads NAME,...]',
    '  Times convkit-native, convkit-wasm and PyTorch (each in its own process) on: a 3×3 conv,',
    '  VGG16 forward, a small-CNN training epoch, a VGG16 fine-tuning step, a mini-Xception training',
    '  epoch and a MobileNet v2 whole-base fine-tuning step; prints images/s, GFLOPS, % of the peak',
    '  measured with an FMA loop, and the speed-up of native over PyTorch. --threads: every',
    "  backend's threads (default all cores). --rounds N: run every backend's child N times in turn and",
    "  report medians, each ratio the median of the rounds' ratios (default 1; a shared machine's load",
    '  swings one round by up to a third). --json: the last line is one JSON object.',
    `  Workloads: ${[...WORKLOAD_NAMES, ...GRAPH_WORKLOAD_NAMES].join(', ')}. PyTorch runs with /usr/bin/python3 (--python to change).`,
    `  Inference workloads (${INFERENCE_WORKLOAD_NAMES.join(', ')}): a MobileNet v1/v2 classifier`,
    '  through convkit-native and, exported to ONNX, through onnxruntime-node (2 threads): batch-1',
    '  latency and batch-32 images/s side by side.',
    'convkit bench data [--dir DIR] [--json]',
    '  Input-pipeline throughput on a class-folder tree (default ../shared/data/cats_and_dogs_small/train),',
    "  150×150, batch 32: decode + resize, cached batches, and cached batches with the book's augmentation",
    '  for each resampling engine of the backend in use (native: C++ and JS; wasm: TF.js kernel and JS).',
  ].join('\n'),
  options: {
    json: { type: 'boolean' },
    quick: { type: 'boolean' },
    threads: { type: 'string' },
    rounds: { type: 'string' },
    backends: { type: 'string' },
    workloads: { type: 'string' },
    python: { type: 'string' },
    dir: { type: 'string' },
  },
  allowPositionals: true,
} as const;

function list<T extends string>(value: string | undefined, flag: string, allowed: readonly T[]): T[] | undefined {
  if (value === undefined) return undefined;
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = items.filter((s) => !allowed.includes(s as T));
  if (bad.length || !items.length) throw new ConvkitError(`invalid --${flag}: ${JSON.stringify(value)}`, `use a comma-separated list of ${allowed.join(', ')}`);
  return items as T[];
}

const bench: Command = {
  async run(argv) {
    const { values, positionals } = parseCommandArgs(spec, argv);
    if (values.help) {
      console.log(spec.usage);
      return 0;
    }
    const [sub, ...extra] = positionals;
    if (extra.length || (sub !== undefined && sub !== 'data')) {
      throw new ConvkitError(`unexpected argument ${JSON.stringify(sub === 'data' ? extra[0] : sub)}`, `see "convkit bench --help"\n\n${spec.usage}`);
    }
    if (sub === 'data') return benchDataCommand(values.dir, Boolean(values.json));
    const threads = values.threads === undefined ? undefined : intFlag(values.threads, 'threads', 0, 1);
    const rounds = intFlag(values.rounds, 'rounds', 1, 1);
    const report = await runBench({
      quick: values.quick,
      threads,
      rounds,
      python: values.python,
      backends: list<BenchBackend | 'onnxruntime'>(values.backends, 'backends', [...BENCH_BACKENDS, 'onnxruntime']),
      workloads: list<WorkloadName | GraphWorkloadName | InferenceWorkloadName>(values.workloads, 'workloads', [
        ...WORKLOAD_NAMES,
        ...GRAPH_WORKLOAD_NAMES,
        ...INFERENCE_WORKLOAD_NAMES,
      ]),
    });
    console.log(formatBenchReport(report));
    if (values.json) console.log(JSON.stringify(report));
    return 0;
  },
};

async function benchDataCommand(dirFlag: string | undefined, json: boolean): Promise<number> {
  const { existsSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { packageRoot } = await import('../../util/paths.js');
  const dir = dirFlag ?? join(packageRoot(), '..', 'shared', 'data', 'cats_and_dogs_small', 'train');
  if (!existsSync(dir)) throw new ConvkitError(`--dir not found: ${dir}`, 'pass a folder with one sub-folder of images per class');
  const { initBackend } = await import('../../backend/index.js');
  await initBackend();
  const { benchData } = await import('../../bench/data.js');
  const { ImageDataGenerator } = await import('../../augment/generator.js');
  const { BOOK_AUGMENTATION } = await import('../../augment/presets.js');
  const tf = await import('@tensorflow/tfjs');
  // The book's augmentation (fill 'nearest'), once per engine, so their speeds print side by side.
  const engines: ResampleEngine[] = tf.getBackend() === 'native' ? ['native', 'js'] : tf.getBackend() === 'wasm' ? ['tfjs', 'js'] : ['js'];
  const transforms = engines.map((engine) => {
    const gen = new ImageDataGenerator({ ...BOOK_AUGMENTATION });
    gen.engine = engine;
    return {
      label: `book augmentation (${engine === 'js' ? 'JS resampler' : engine === 'native' ? 'native resampler' : 'TF.js Transform kernel'})`,
      transform: gen.batchTransform(),
    };
  });
  const result = await benchData({ dir, print: true, transforms });
  if (json) console.log(JSON.stringify(result));
  return 0;
}

export default bench;
