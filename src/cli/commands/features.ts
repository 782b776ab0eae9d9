import { initBackend } from '../../backend/index.js';
import { BASE_NAMES, baseSpec } from '../../models/bases.js';
import { getBase } from '../../transfer/bases.js';
import { describeSplits, extractFeatureShard } from '../../transfer/shard-extract.js';
import { mergeFeatureShards } from '../../transfer/shard-merge.js';
import { JOB_INDEX_VARIABLE, parseShard, shardFromJobIndex, shardName, type ShardSpec } from '../../transfer/shard-spec.js';
import { ConvkitError } from '../../util/errors.js';
import { intFlag, MAX_IMAGE_SIZE, parseCommandArgs } from '../args.js';
import type { Command } from '../command.js';

const extractSpec = {
  name: 'features',
  usage: `convkit features --data DIR --out FEAT_DIR [--shard I/N | --shards N] [options]
convkit features merge FEAT_DIR [--shards N]
  Runs a frozen pretrained base over the images of DIR (train/, validation/ or val/,
  test/; one sub-folder per class) in shards that separate processes or machines
  extract into one FEAT_DIR; "merge" then joins them into the feature cache that
  "convkit train --recipe features --features FEAT_DIR" trains on without the base.
  Shard I of N holds the files whose position in the sorted list of paths below DIR
  is I modulo N (the same on every machine). A finished shard is skipped when run
  again with the same settings and files; an interrupted one is redone.

  --data DIR          the data folder
  --out FEAT_DIR      the feature folder every shard writes into (new, empty or a feature folder)
  --shard I/N         extract shard I (0 … N-1) of N (default 0/1: everything)
  --shards N          extract shard \$${JOB_INDEX_VARIABLE} of N: one command for every pod of a
                      Kubernetes Indexed Job (completionMode: Indexed, completions: N)
  --base NAME         ${BASE_NAMES.join(' | ')} (default mobilenet_v1)
  --image-size N      input size in pixels (default the base's, 224)
  --batch-size N      images per forward pass (default 32; the features do not depend on it)
  --quiet             no progress output
  --json              print the result as one JSON object

  merge FEAT_DIR      checks that every shard is there, intact and extracted with the same
                      base, image size, convkit version and data, then writes FEAT_DIR/features/
  --shards N          merge the N-way extraction (needed only when FEAT_DIR holds several)`,
  options: {
    data: { type: 'string' },
    out: { type: 'string' },
    shard: { type: 'string' },
    shards: { type: 'string' },
    base: { type: 'string' },
    'image-size': { type: 'string' },
    'batch-size': { type: 'string' },
    quiet: { type: 'boolean' },
    json: { type: 'boolean' },
  },
} as const;

const mergeSpec = {
  name: 'features merge',
  usage: extractSpec.usage,
  options: { shards: { type: 'string' }, quiet: { type: 'boolean' }, json: { type: 'boolean' } },
  allowPositionals: true,
} as const;

/** The shard this process extracts: --shard I/N, --shards N with the Job's index, or everything. */
function chosenShard(shard: string | undefined, shards: string | undefined, env: NodeJS.ProcessEnv): ShardSpec {
  if (shard !== undefined && shards !== undefined)
    throw new ConvkitError('--shard and --shards were both given', `give --shard I/N, or --shards N to take I from ${JOB_INDEX_VARIABLE}`);
  if (shard !== undefined) return parseShard(shard);
  if (shards !== undefined) return shardFromJobIndex(intFlag(shards, 'shards', 1, 1), env);
  if (env[JOB_INDEX_VARIABLE] !== undefined)
    throw new ConvkitError(
      `${JOB_INDEX_VARIABLE} is set (a Kubernetes Indexed Job) but neither --shards nor --shard is given`,
      'pass --shards N with N the Job’s completions, so that each pod extracts its own shard',
    );
  return { index: 0, count: 1 };
}

function required(value: string | undefined, flag: string): string {
  if (!value) throw new ConvkitError(`--${flag} is required`, `see "convkit features --help"`);
  return value;
}

async function extract(argv: string[]): Promise<number> {
  const { values: v } = parseCommandArgs(extractSpec, argv);
  if (v.help) {
    console.log(extractSpec.usage);
    return 0;
  }
  const data = required(v.data, 'data'),
    out = required(v.out, 'out');
  const shard = chosenShard(v.shard, v.shards, process.env);
  const base = getBase(baseSpec(v.base ?? 'mobilenet_v1').name);
  const size = v['image-size'] === undefined ? undefined : intFlag(v['image-size'], 'image-size', 224, 8, MAX_IMAGE_SIZE);
  const batchSize = intFlag(v['batch-size'], 'batch-size', 32, 1);
  await initBackend();
  const log = (line: string) => {
    if (!v.quiet) console.error(line);
  };
  const r = await extractFeatureShard({
    data,
    out,
    shard,
    base,
    inputSize: size === undefined ? undefined : [size, size],
    batchSize,
    silent: v.quiet,
    log,
  });
  if (v.json) console.log(JSON.stringify(r));
  else if (r.skipped) console.log(`${shardName(shard)}: already complete (${r.manifest}); nothing computed`);
  else console.log(`${shardName(shard)}: ${r.n} images (${describeSplits(r.splits)}) in ${r.seconds.toFixed(1)} s → ${r.manifest}`);
  return 0;
}

async function merge(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseCommandArgs(mergeSpec, argv);
  if (v.help) {
    console.log(mergeSpec.usage);
    return 0;
  }
  if (positionals.length !== 1)
    throw new ConvkitError(
      positionals.length ? `merge takes one feature folder, got ${positionals.length}` : 'merge needs the feature folder',
      'run "convkit features merge FEAT_DIR"',
    );
  const r = await mergeFeatureShards(positionals[0]!, {
    shards: v.shards === undefined ? undefined : intFlag(v.shards, 'shards', 1, 1),
    silent: v.quiet,
    log: (line) => {
      if (!v.quiet) console.error(line);
    },
  });
  if (v.json) {
    console.log(JSON.stringify(r));
    return 0;
  }
  const counts = Object.fromEntries(Object.entries(r.splits).map(([s, e]) => [s, e.n]));
  console.log(`merged ${r.shards} shard${r.shards > 1 ? 's' : ''} into ${r.manifest}: ${describeSplits(counts)} images`);
  console.log(`train on them: convkit train --recipe features --data ${r.data} --features ${r.dir} (with the --base and --image-size of the extraction)`);
  return 0;
}

const features: Command = {
  run: (argv) => (argv[0] === 'merge' ? merge(argv.slice(1)) : extract(argv)),
};

export default features;
