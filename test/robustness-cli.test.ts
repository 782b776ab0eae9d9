/**
 * The robustness suite: every command run on a corpus of bad input built
 * here (damaged images, odd folder entries and layouts, damaged model
 * folders, bad flags and output paths, a full disk, interrupted and
 * concurrent runs). Each case must end with the right exit code, one line
 * naming the problem (and a "  fix:" hint), no stack trace, nothing touched
 * outside the command's outputs and no half-written output.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { snapshot } from './cli-harness.js';
import { writeSyntheticSet, type SyntheticSet } from './train-synthetic.js';
import {
  BAD_ENTRIES,
  MODEL_DAMAGE,
  countImages,
  escapeRe,
  named,
  nestHalf,
  renameClass,
  symlinkClass,
  tempLeftovers,
  type BadEntry,
} from './robustness-corpus.js';
import { createTally, runCaptured, runCase, type Case, type CommandName, type Env, type Expect } from './robustness-harness.js';
import { trainRecipe } from '../src/recipes/train-recipe.js';
import { loadModel } from '../src/train/saved-model.js';
import { ImageCache } from '../src/data/cache.js';
import { scanImageFolder } from '../src/data/scan.js';

process.env.CONVKIT_BACKEND = 'cpu';
delete process.env.CONVKIT_VERBOSE;

const MODELS = join(import.meta.dirname, '..', '..', 'shared', 'models');
const MODEL_FOR_CLASSIFY = join(MODELS, 'mobilenet_v1_0.75_224');

let suiteRoot = '';
let good: SyntheticSet | undefined;
let goodModel = '';
let caseCount = 0;
const tally = createTally();

// ---- inputs ----

const tinyFlags: Record<string, string | true> = {
  '--epochs': '1',
  '--image-size': '16',
  '--filters': '4,4',
  '--dense-units': '8',
  '--batch-size': '4',
  '--no-plots': true,
  '--quiet': true,
};

/** The tiny training flags with `changes` applied (null drops a flag). */
function tiny(changes: Record<string, string | true | null> = {}): string[] {
  const all = { ...tinyFlags, ...changes };
  return Object.entries(all).flatMap(([k, v]) => (v === null ? [] : v === true ? [k] : [k, v]));
}

const trainArgv = (env: Env, changes: Record<string, string | true | null> = {}, data = env.data, out = env.out): string[] => [
  'train',
  '--recipe',
  'scratch',
  '--data',
  data,
  '--out',
  out,
  ...tiny(changes),
];
const evaluateArgv = (env: Env, extra: string[] = [], data = join(env.data, 'test')): string[] => ['evaluate', '--model', env.model, '--data', data, ...extra];
const predictArgv = (env: Env, extra: string[] = [], paths = [env.pics]): string[] => ['predict', '--model', env.model, ...extra, ...paths];
const previewOut = (env: Env) => join(env.root, 'preview.png');
const previewArgv = (env: Env, extra: string[] = [], data = join(env.data, 'train')): string[] => [
  'preview',
  '--data',
  data,
  '--images',
  '100',
  '--count',
  '1',
  '--image-size',
  '16',
  '--out',
  previewOut(env),
  ...extra,
];
const prepareArgv = (env: Env, extra: string[] = [], source = env.photos, dest = env.out): string[] => [
  'prepare',
  source,
  dest,
  '--split',
  '3,2,1',
  '--json',
  ...extra,
];
const classifyArgv = (env: Env, extra: string[] = []): string[] => [
  'classify',
  '--base',
  'mobilenet_v1',
  '--models-dir',
  MODELS,
  '--top',
  '1',
  ...extra,
  env.pics,
];
const studyArgv = (env: Env, extra: string[] = [], data = env.data, out = env.out): string[] => [
  'study',
  'cats-vs-dogs',
  '--data',
  data,
  '--out',
  out,
  '--cache-dir',
  env.cache,
  '--quiet',
  ...extra,
];

const withData = async (env: Env) => {
  await fs.cp(good!.root, env.data, { recursive: true });
};
const withModel = async (env: Env) => {
  await fs.cp(goodModel, env.model, { recursive: true });
};
const withPhotos = async (env: Env) => {
  await fs.cp(join(good!.root, 'train'), env.photos, { recursive: true });
};
/** Two good images (one per class) for predict; `one` keeps one (classify loads a big model per image batch). */
const withPics = async (env: Env, one = false) => {
  await fs.mkdir(env.pics, { recursive: true });
  await fs.copyFile(join(good!.root, 'test', 'left', 'left_000.png'), join(env.pics, 'left_000.png'));
  if (!one) await fs.copyFile(join(good!.root, 'test', 'right', 'right_000.png'), join(env.pics, 'right_000.png'));
};
const all =
  (...steps: ((env: Env) => Promise<void>)[]) =>
  async (env: Env) => {
    for (const s of steps) await s(env);
  };

async function readMeta(dir: string): Promise<{ classNames: string[]; data?: { train?: number } }> {
  return JSON.parse(await fs.readFile(join(dir, 'convkit.json'), 'utf8')) as { classNames: string[]; data?: { train?: number } };
}

/** The parsed JSON line of a --json run. */
function jsonOut(run: { outLines: string[] }): Record<string, unknown> {
  const line = run.outLines.find((l) => l.startsWith('{'));
  assert.ok(line, `no JSON line in ${run.outLines.join('\n')}`);
  return JSON.parse(line) as Record<string, unknown>;
}

// ---- the table ----

const cases: Case[] = [];
const add = (c: Case) => {
  cases.push(c);
};

const failsNaming = (re: RegExp): Expect => ({ code: 2, error: re });

/** Where each command meets a bad folder entry, and what it must do. */
interface ImageTarget {
  command: CommandName;
  /** The folder the bad entry goes into. */
  dir: (env: Env) => string;
  setup: (env: Env) => Promise<void>;
  argv: (env: Env, extra: string[]) => string[];
  outputs?: (env: Env) => string[];
  /** What a bad entry does without --skip-bad. */
  onBad: (entry: BadEntry) => Expect;
  /** The stderr line listing a bad entry passed over with --skip-bad (undefined: the command has no --skip-bad). */
  skippedLine?: (file: string) => RegExp;
  /** Check of a run that read every good image (the good ones count `n`). */
  readAll?: (n: number) => Expect['check'];
}

const skippedLine = (file: string) => new RegExp(`skipped .*${escapeRe(file)}`);

const IMAGE_TARGETS: ImageTarget[] = [
  {
    command: 'train',
    dir: (e) => join(e.data, 'train', 'left'),
    setup: withData,
    argv: (e) => trainArgv(e),
    onBad: (b) => failsNaming(named(b.file)),
    readAll: (n) => async (env) => {
      assert.equal((await readMeta(env.out)).data?.train, n, 'training images read');
    },
  },
  {
    command: 'evaluate',
    dir: (e) => join(e.data, 'test', 'left'),
    setup: all(withData, withModel),
    argv: (e, x) => evaluateArgv(e, ['--json', ...x]),
    skippedLine,
    onBad: (b) => failsNaming(named(b.file)),
    readAll: (n) => async (_env, run) => {
      assert.equal(jsonOut(run).n, n, 'images evaluated');
    },
  },
  {
    command: 'predict',
    dir: (e) => e.pics,
    setup: all(withPics, withModel),
    argv: (e, x) => predictArgv(e, x),
    skippedLine: named,
    // One line per good image on stdout, one per bad file on stderr; exit 1 unless --skip-bad.
    onBad: (b) => ({ code: 1, listed: [named(b.file)], stdoutLines: 2 }),
    readAll: (n) => async (_env, run) => {
      assert.equal(run.outLines.length, n, 'images predicted');
    },
  },
  {
    command: 'preview',
    dir: (e) => join(e.data, 'train', 'left'),
    setup: withData,
    argv: (e, x) => previewArgv(e, x),
    outputs: (e) => [previewOut(e)],
    skippedLine,
    onBad: (b) => failsNaming(named(b.file)),
    readAll: (n) => async (env, run) => {
      assert.match(run.outLines[0]!, new RegExp(`\\(${n} image\\(s\\)`), 'images previewed');
      assert.ok((await fs.stat(previewOut(env))).size > 0);
    },
  },
  {
    command: 'prepare',
    dir: (e) => join(e.photos, 'left'),
    setup: withPhotos,
    argv: (e, x) => prepareArgv(e, x),
    skippedLine,
    onBad: (b) => failsNaming(named(b.file)),
    readAll: (n) => async (env, run) => {
      const r = jsonOut(run) as { counts: Record<string, Record<string, number>>; unused?: number };
      const placed = Object.values(r.counts)
        .flatMap((c) => Object.values(c))
        .reduce((a, b) => a + b, 0);
      assert.equal(placed + (r.unused ?? 0), n, 'images prepared or counted unused');
      assert.equal(await countImages(env.out), placed, 'images in DEST');
    },
  },
];

for (const t of IMAGE_TARGETS) {
  const nGood = t.command === 'train' ? 12 : t.command === 'evaluate' ? 8 : t.command === 'predict' ? 2 : 12;
  for (const entry of BAD_ENTRIES) {
    const variants = entry.outcome === 'error' && t.skippedLine ? [false, true] : [false];
    for (const skip of variants) {
      const n = nGood + (entry.adds ?? 0);
      add({
        command: t.command,
        kind: 'images',
        name: `${entry.name}${skip ? ' with --skip-bad' : ''}`,
        setup: async (env) => {
          await t.setup(env);
          await entry.make(t.dir(env));
        },
        argv: (env) => t.argv(env, skip ? ['--skip-bad'] : []),
        outputs: t.outputs,
        expect:
          entry.outcome === 'ok'
            ? { code: 0, listed: [], check: t.readAll?.(n) }
            : // With --skip-bad: listed on stderr, every good image still read, exit 0.
              skip
              ? { code: 0, listed: [t.skippedLine!(entry.file)], check: t.readAll?.(nGood) }
              : t.onBad(entry),
      });
    }
  }
  // A class folder that is a symbolic link, and images in nested folders of a class, are read.
  const n = nGood;
  add({
    command: t.command,
    kind: 'images',
    name: 'symlinked class folder (must work)',
    setup: async (env) => {
      await t.setup(env);
      const dir = t.dir(env);
      if (t.command === 'predict') await symlinkClass(dir, join(env.root, 'elsewhere', 'pics'));
      else await symlinkClass(join(dir, '..', 'right'), join(env.root, 'elsewhere', 'right'));
    },
    argv: (env) => t.argv(env, []),
    outputs: t.outputs,
    expect: { code: 0, listed: [], check: t.readAll?.(n) },
  });
  add({
    command: t.command,
    kind: 'images',
    name: 'nested sub-folder inside a class (images read)',
    setup: async (env) => {
      await t.setup(env);
      await nestHalf(t.dir(env));
    },
    argv: (env) => t.argv(env, []),
    outputs: t.outputs,
    expect: { code: 0, listed: [], check: t.readAll?.(n) },
  });
}

// classify loads MobileNet for each case: a few cases only.
for (const [file, skip] of [
  ['truncated.jpg', false],
  ['gone.jpg', true],
  ['vector.svg', false],
] as const) {
  const entry = BAD_ENTRIES.find((b) => b.file === file)!;
  add({
    command: 'classify',
    kind: 'images',
    name: `${entry.name}${skip ? ' with --skip-bad' : ''}`,
    setup: async (env) => {
      await withPics(env, true);
      await entry.make(env.pics);
    },
    argv: (env) => classifyArgv(env, skip ? ['--skip-bad'] : []),
    expect: { code: skip ? 0 : 1, listed: [named(file)], stdoutLines: 2 },
  });
}

// study checks every image before it trains anything.
for (const file of ['truncated.jpg', 'gone.jpg']) {
  const entry = BAD_ENTRIES.find((b) => b.file === file)!;
  add({
    command: 'study',
    kind: 'images',
    name: entry.name,
    setup: async (env) => {
      await withData(env);
      await entry.make(join(env.data, 'train', 'left'));
    },
    argv: (env) => studyArgv(env),
    expect: failsNaming(named(file)),
  });
}

// ---- bad folders ----

const emptyFolder = (path: string) => async () => {
  await fs.rm(path, { recursive: true, force: true });
  await fs.mkdir(path, { recursive: true });
};
const oneClass = async (env: Env) => {
  for (const s of ['train', 'validation', 'test']) await fs.rm(join(env.data, s, 'right'), { recursive: true });
};
const protoClasses = async (env: Env) => {
  await renameClass(env.data, 'left', '__proto__');
  await renameClass(env.data, 'right', 'constructor');
};
const aFile = (path: string) => fs.writeFile(path, 'not a folder\n');

/** After a train run on __proto__/constructor classes: the model, evaluate and predict all work with those names. */
async function protoEndToEnd(env: Env): Promise<void> {
  assert.deepEqual((await readMeta(env.out)).classNames, ['__proto__', 'constructor']);
  const ev = await runCaptured(['evaluate', '--model', env.out, '--data', join(env.data, 'test'), '--json']);
  assert.equal(ev.code, 0, ev.errLines.join('\n'));
  const r = jsonOut(ev);
  assert.equal(r.n, 8);
  assert.deepEqual(r.classNames, ['__proto__', 'constructor']);
  const pr = await runCaptured(['predict', '--model', env.out, '--json', join(env.data, 'test', '__proto__')]);
  assert.equal(pr.code, 0, pr.errLines.join('\n'));
  assert.equal(pr.outLines.length, 4);
  for (const line of pr.outLines) {
    const p = JSON.parse(line) as { label: string; probabilities: Record<string, number> };
    assert.ok(['__proto__', 'constructor'].includes(p.label), line);
    assert.equal(Object.keys(p.probabilities).length, 2, line);
  }
}

const folderCases: [CommandName, string, (env: Env) => Promise<void>, (env: Env) => string[], Expect][] = [
  // train
  ['train', '--data missing', async () => undefined, (e) => trainArgv(e, {}, join(e.root, 'nope')), failsNaming(/nope/)],
  [
    'train',
    '--data a file',
    (e) => aFile(join(e.root, 'data.txt')),
    (e) => trainArgv(e, {}, join(e.root, 'data.txt')),
    failsNaming(/data\.txt.*(not a folder|is a file)/),
  ],
  ['train', 'no class folders', all(withData, async (e) => emptyFolder(join(e.data, 'train'))()), (e) => trainArgv(e), failsNaming(/train/)],
  ['train', 'one class only', all(withData, oneClass), (e) => trainArgv(e), failsNaming(/(train|validation).*(left|class)/)],
  ['train', 'an empty class', all(withData, async (e) => emptyFolder(join(e.data, 'train', 'right'))()), (e) => trainArgv(e), failsNaming(/right/)],
  [
    'train',
    'no validation/ folder',
    all(withData, async (e) => fs.rm(join(e.data, 'validation'), { recursive: true })),
    (e) => trainArgv(e),
    failsNaming(/validation/),
  ],
  [
    'train',
    'validation/ with other class names',
    all(withData, async (e) => fs.rename(join(e.data, 'validation', 'right'), join(e.data, 'validation', 'other'))),
    (e) => trainArgv(e),
    failsNaming(/validation/),
  ],
  // Found before training, not after the model is saved.
  [
    'train',
    'test/ with other class names than train/',
    all(withData, async (e) => fs.rename(join(e.data, 'test', 'right'), join(e.data, 'test', 'other'))),
    (e) => trainArgv(e),
    failsNaming(/test/),
  ],
  ['train', '--data pointing at train/ instead of its parent', withData, (e) => trainArgv(e, {}, join(e.data, 'train')), failsNaming(/train/)],
  [
    'train',
    'a hidden .ipynb_checkpoints folder and a stray README in train/ (ignored)',
    all(withData, async (e) => {
      await fs.mkdir(join(e.data, 'train', '.ipynb_checkpoints'));
      await fs.writeFile(join(e.data, 'train', '.ipynb_checkpoints', 'notes.txt'), 'x\n');
      await fs.writeFile(join(e.data, 'train', 'README.txt'), 'my data\n');
    }),
    (e) => trainArgv(e),
    {
      code: 0,
      listed: [],
      check: async (env) => {
        assert.deepEqual((await readMeta(env.out)).classNames, ['left', 'right']);
      },
    },
  ],
  [
    'train',
    'class names with spaces and accents (must work)',
    all(withData, async (e) => {
      await renameClass(e.data, 'left', 'chat noir');
      await renameClass(e.data, 'right', 'čaj zelený');
    }),
    (e) => trainArgv(e),
    {
      code: 0,
      listed: [],
      check: async (env) => {
        assert.deepEqual((await readMeta(env.out)).classNames, ['chat noir', 'čaj zelený']);
      },
    },
  ],
  [
    'train',
    'class folders named __proto__ and constructor (must work end to end)',
    all(withData, protoClasses),
    (e) => trainArgv(e),
    { code: 0, listed: [], check: protoEndToEnd },
  ],
  // evaluate
  ['evaluate', '--data missing', withModel, (e) => evaluateArgv(e, [], join(e.root, 'nope')), failsNaming(/nope/)],
  [
    'evaluate',
    '--data a file',
    all(withModel, (e) => aFile(join(e.root, 'data.txt'))),
    (e) => evaluateArgv(e, [], join(e.root, 'data.txt')),
    failsNaming(/data\.txt/),
  ],
  [
    'evaluate',
    'no class folders',
    all(withModel, async (e) => emptyFolder(join(e.root, 'empty'))()),
    (e) => evaluateArgv(e, [], join(e.root, 'empty')),
    failsNaming(/empty/),
  ],
  ['evaluate', 'one class only', all(withData, withModel, oneClass), (e) => evaluateArgv(e), failsNaming(/test|left|class/)],
  [
    'evaluate',
    'an empty class',
    all(withData, withModel, async (e) => emptyFolder(join(e.data, 'test', 'right'))()),
    (e) => evaluateArgv(e),
    failsNaming(/right/),
  ],
  [
    'evaluate',
    "classes other than the model's",
    all(withData, withModel, async (e) => fs.rename(join(e.data, 'test', 'right'), join(e.data, 'test', 'other'))),
    (e) => evaluateArgv(e),
    failsNaming(/other/),
  ],
  ['evaluate', 'the data root instead of a split', all(withData, withModel), (e) => evaluateArgv(e, [], e.data), failsNaming(/train|classes/)],
  // predict
  ['predict', 'a missing path', withModel, (e) => predictArgv(e, [], [join(e.root, 'nope.jpg')]), { code: [1, 2], listed: [/nope\.jpg/] }],
  [
    'predict',
    'an empty folder',
    all(withModel, async (e) => emptyFolder(join(e.root, 'empty'))()),
    (e) => predictArgv(e, [], [join(e.root, 'empty')]),
    failsNaming(/empty/),
  ],
  [
    'predict',
    'a folder named __proto__ (must work)',
    all(withModel, async (e) => {
      await withPics(e);
      await fs.rename(e.pics, join(e.root, '__proto__'));
    }),
    (e) => predictArgv(e, [], [join(e.root, '__proto__')]),
    { code: 0, listed: [], stdoutLines: 2 },
  ],
  // preview
  ['preview', '--data missing', async () => undefined, (e) => previewArgv(e, [], join(e.root, 'nope')), failsNaming(/nope/)],
  ['preview', '--data a file', (e) => aFile(join(e.root, 'data.txt')), (e) => previewArgv(e, [], join(e.root, 'data.txt')), failsNaming(/data\.txt/)],
  [
    'preview',
    'a folder without images',
    async (e) => emptyFolder(join(e.root, 'empty'))(),
    (e) => previewArgv(e, [], join(e.root, 'empty')),
    failsNaming(/empty/),
  ],
  ['preview', 'an empty class', all(withData, async (e) => emptyFolder(join(e.data, 'train', 'right'))()), (e) => previewArgv(e), failsNaming(/right/)],
  [
    'preview',
    '--batch with classes __proto__ and constructor (must work)',
    all(withData, protoClasses),
    (e) => previewArgv(e, ['--batch', '--batch-size', '4']),
    { code: 0, listed: [] },
  ],
  // prepare
  ['prepare', 'SOURCE missing', async () => undefined, (e) => prepareArgv(e, [], join(e.root, 'nope')), failsNaming(/nope/)],
  ['prepare', 'SOURCE a file', (e) => aFile(join(e.root, 'photos.txt')), (e) => prepareArgv(e, [], join(e.root, 'photos.txt')), failsNaming(/photos\.txt/)],
  ['prepare', 'SOURCE without images', async (e) => emptyFolder(e.photos)(), (e) => prepareArgv(e), failsNaming(/photos/)],
  [
    'prepare',
    'one class only',
    all(withPhotos, async (e) => fs.rm(join(e.photos, 'right'), { recursive: true })),
    (e) => prepareArgv(e),
    failsNaming(/class|left/),
  ],
  ['prepare', 'an empty class', all(withPhotos, async (e) => emptyFolder(join(e.photos, 'right'))()), (e) => prepareArgv(e), failsNaming(/right/)],
  [
    'prepare',
    'classes __proto__ and constructor (must work)',
    all(withPhotos, async (e) => {
      await fs.rename(join(e.photos, 'left'), join(e.photos, '__proto__'));
      await fs.rename(join(e.photos, 'right'), join(e.photos, 'constructor'));
    }),
    (e) => prepareArgv(e),
    {
      code: 0,
      listed: [],
      check: async (env) => {
        assert.deepEqual((await fs.readdir(join(env.out, 'train'))).sort(), ['__proto__', 'constructor']);
        assert.equal(await countImages(env.out), 12);
      },
    },
  ],
  // study
  ['study', '--data missing', async () => undefined, (e) => studyArgv(e, [], join(e.root, 'nope')), failsNaming(/nope/)],
  ['study', 'one class only', all(withData, oneClass), (e) => studyArgv(e), failsNaming(/train|class/)],
  [
    'study',
    'test/ with other class names than train/',
    all(withData, async (e) => fs.rename(join(e.data, 'test', 'right'), join(e.data, 'test', 'other'))),
    (e) => studyArgv(e),
    failsNaming(/test/),
  ],
];
for (const [command, name, setup, argv, expect] of folderCases) {
  add({ command, kind: 'folders', name, setup, argv, expect, outputs: command === 'preview' ? (e) => [previewOut(e)] : undefined });
}

// ---- bad model folders ----

for (const damage of MODEL_DAMAGE) {
  add({
    command: 'evaluate',
    kind: 'model',
    name: damage.name,
    setup: all(withData, withModel, async (e) => damage.make(e.model)),
    argv: (e) => evaluateArgv(e),
    expect: failsNaming(damage.error),
  });
  add({
    command: 'predict',
    kind: 'model',
    name: damage.name,
    setup: all(withPics, withModel, async (e) => damage.make(e.model)),
    argv: (e) => predictArgv(e),
    expect: failsNaming(damage.error),
  });
}
const modelPathCases: [string, (env: Env) => Promise<void>, (env: Env) => string, RegExp][] = [
  ['--model missing', async () => undefined, (e) => join(e.root, 'nope'), /nope/],
  ['--model a file', async (e) => aFile(join(e.root, 'model.txt')), (e) => join(e.root, 'model.txt'), /model\.txt/],
  ['--model a data folder', async () => undefined, (e) => e.data, /data|convkit\.json/],
];
for (const [name, make, model, error] of modelPathCases) {
  add({
    command: 'evaluate',
    kind: 'model',
    name,
    setup: all(withData, make),
    argv: (e) => ['evaluate', '--model', model(e), '--data', join(e.data, 'test')],
    expect: failsNaming(error),
  });
  add({
    command: 'predict',
    kind: 'model',
    name,
    setup: all(withData, withPics, make),
    argv: (e) => ['predict', '--model', model(e), e.pics],
    expect: failsNaming(error),
  });
}

// ---- bad flags ----

const flagCases: [CommandName, string, (env: Env) => Promise<void>, (env: Env) => string[], RegExp][] = [
  ['train', 'unknown flag --epoch', withData, (e) => [...trainArgv(e), '--epoch', '3'], /--epoch\b/],
  ['train', '--epochs 0', withData, (e) => trainArgv(e, { '--epochs': '0' }), /--epochs/],
  ['train', '--epochs 0x1', withData, (e) => trainArgv(e, { '--epochs': '0x1' }), /--epochs.*0x1/],
  ['train', '--epochs abc', withData, (e) => trainArgv(e, { '--epochs': 'abc' }), /--epochs.*abc/],
  ['train', '--image-size 100000', withData, (e) => trainArgv(e, { '--image-size': '100000' }), /--image-size/],
  ['train', '--learning-rate -1', withData, (e) => trainArgv(e, { '--learning-rate': '-1' }), /--learning-rate/],
  ['train', '--batch-size 0', withData, (e) => trainArgv(e, { '--batch-size': '0' }), /--batch-size/],
  ['train', '--recipe nope', withData, (e) => trainArgv(e).map((a) => (a === 'scratch' ? 'nope' : a)), /recipe.*nope/],
  ['train', '--optimizer nope', withData, (e) => trainArgv(e, { '--optimizer': 'nope' }), /--optimizer.*nope/],
  ['train', '--profile nope', withData, (e) => trainArgv(e, { '--profile': 'nope' }), /profile.*nope/],
  ['train', '--filters 4,x', withData, (e) => trainArgv(e, { '--filters': '4,x' }), /--filters/],
  ['train', '--seed -1', withData, (e) => trainArgv(e, { '--seed': '-1' }), /--seed/],
  ['train', '--out missing', withData, (e) => trainArgv(e).filter((a, i, arr) => a !== '--out' && arr[i - 1] !== '--out'), /--out/],
  [
    'train',
    '--filters with --recipe features',
    withData,
    (e) => trainArgv(e, { '--image-size': '32' }).map((a) => (a === 'scratch' ? 'features' : a)),
    /--filters.*features|features.*--filters/,
  ],
  ['train', '--variants with --recipe scratch', withData, (e) => trainArgv(e, { '--variants': '3' }), /--variants/],
  ['train', '--recipe scratch --from /nonexistent', withData, (e) => trainArgv(e, { '--from': '/nonexistent' }), /--from/],
  ['train', '--epochs ""', withData, (e) => trainArgv(e, { '--epochs': '' }), /--epochs/],
  ['train', '--epochs 1.5', withData, (e) => trainArgv(e, { '--epochs': '1.5' }), /--epochs/],
  ['train', '--image-size 4', withData, (e) => trainArgv(e, { '--image-size': '4' }), /--image-size/],
  ['train', '--steps-per-epoch 0', withData, (e) => trainArgv(e, { '--steps-per-epoch': '0' }), /--steps-per-epoch/],
  ['train', '--out ""', withData, (e) => trainArgv(e, {}, e.data, ''), /--out/],
  ['train', '--filters ""', withData, (e) => trainArgv(e, { '--filters': '' }), /--filters/],
  ['evaluate', 'unknown flag --modle', all(withData, withModel), (e) => ['evaluate', '--modle', e.model, '--data', join(e.data, 'test')], /--modle/],
  ['evaluate', '--tta 0', all(withData, withModel), (e) => evaluateArgv(e, ['--tta', '0']), /--tta/],
  ['evaluate', '--batch-size abc', all(withData, withModel), (e) => evaluateArgv(e, ['--batch-size', 'abc']), /--batch-size/],
  ['evaluate', '--model missing', withData, (e) => ['evaluate', '--data', join(e.data, 'test')], /--model/],
  ['predict', '--tta 0', all(withPics, withModel), (e) => predictArgv(e, ['--tta', '0']), /--tta/],
  ['predict', '--batch-size 0', all(withPics, withModel), (e) => predictArgv(e, ['--batch-size', '0']), /--batch-size/],
  ['predict', 'no images given', withModel, (e) => ['predict', '--model', e.model], /image/],
  ['predict', 'unknown flag --jsn', all(withPics, withModel), (e) => predictArgv(e, ['--jsn']), /--jsn/],
  ['preview', '--image-size 20000', withData, (e) => previewArgv(e, ['--image-size', '20000']), /--image-size/],
  ['preview', '--count 0', withData, (e) => previewArgv(e, ['--count', '0']), /--count/],
  ['preview', '--fill-mode nope', withData, (e) => previewArgv(e, ['--fill-mode', 'nope']), /fill-mode.*nope|nope.*fill/],
  ['preview', '--zoom-range 1,2,3', withData, (e) => previewArgv(e, ['--zoom-range', '1,2,3']), /--zoom-range/],
  ['preview', 'unknown flag --rotation', withData, (e) => previewArgv(e, ['--rotation', '10']), /--rotation\b/],
  ['prepare', '--split abc', withPhotos, (e) => prepareArgv(e).map((a) => (a === '3,2,1' ? 'abc' : a)), /--split/],
  ['prepare', '--split fractions over 1', withPhotos, (e) => prepareArgv(e).map((a) => (a === '3,2,1' ? '0.6,0.3,0.3' : a)), /--split/],
  ['prepare', 'both --split and --ranges', withPhotos, (e) => prepareArgv(e, ['--ranges', '0-1,2-3,4-5']), /--split.*--ranges|--ranges.*--split/],
  ['prepare', '--names with a duplicate', withPhotos, (e) => prepareArgv(e, ['--names', 'a,a,b']), /--names/],
  ['prepare', 'DEST not given', withPhotos, (e) => ['prepare', e.photos, '--split', '3,2,1'], /DEST|argument/],
  ['study', 'unknown study name', withData, (e) => studyArgv(e).map((a) => (a === 'cats-vs-dogs' ? 'nope' : a)), /nope/],
  ['study', '--profile nope', withData, (e) => studyArgv(e, ['--profile', 'nope']), /profile.*nope/],
  ['study', '--base nope', withData, (e) => studyArgv(e, ['--base', 'nope']), /--base.*nope|base.*nope/],
  ['classify', 'no image given', withPics, (e) => classifyArgv(e).slice(0, -1), /image/],
  ['classify', '--top 0', withPics, (e) => classifyArgv(e, ['--top', '0']), /--top/],
  ['classify', '--models-dir missing', withPics, (e) => classifyArgv(e).map((a) => (a === MODELS ? join(e.root, 'no-models') : a)), /no-models/],
  ['classify', '--base nope', withPics, (e) => classifyArgv(e, ['--base', 'nope']), /base.*nope/],
];
for (const [command, name, setup, argv, error] of flagCases) {
  add({ command, kind: 'flags', name, setup, argv, expect: failsNaming(error), outputs: command === 'preview' ? (e) => [previewOut(e)] : undefined });
}
// A batch bigger than the data is one batch of all of it.
add({
  command: 'train',
  kind: 'flags',
  name: '--batch-size 100000 (more than the images: must work)',
  setup: withData,
  argv: (e) => trainArgv(e, { '--batch-size': '100000' }),
  expect: { code: 0, listed: [] },
});
// preview --out naming a folder that exists: refused before any work, the folder untouched.
add({
  command: 'preview',
  kind: 'flags',
  name: '--out an existing folder',
  setup: all(withData, async (e) => {
    await fs.mkdir(join(e.root, 'shots'));
    await fs.writeFile(join(e.root, 'shots', 'keep.txt'), 'mine\n');
  }),
  argv: (e) => previewArgv(e).map((a) => (a === previewOut(e) ? join(e.root, 'shots') : a)),
  outputs: (e) => [join(e.root, 'shots')],
  expect: failsNaming(/--out.*shots/),
});

// ---- bad paths ----

const unrelated = async (dir: string) => {
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(join(dir, 'thesis.tex'), '\\documentclass{article}\n');
  await fs.writeFile(join(dir, 'budget.csv'), 'a,b\n1,2\n');
};
const PROC_OUT = '/proc/convkit-robustness-out';

const pathCases: {
  command: CommandName;
  name: string;
  setup: (e: Env) => Promise<void>;
  argv: (e: Env) => string[];
  outputs: (e: Env) => string[];
  expect: Expect;
}[] = [
  {
    command: 'train',
    name: '--out equal to --data',
    setup: withData,
    argv: (e) => trainArgv(e, {}, e.data, e.data),
    outputs: (e) => [e.data],
    expect: failsNaming(/--out/),
  },
  {
    command: 'train',
    name: '--out inside --data/train',
    setup: withData,
    argv: (e) => trainArgv(e, {}, e.data, join(e.data, 'train', 'model')),
    outputs: (e) => [join(e.data, 'train', 'model')],
    expect: failsNaming(/--out.*--data|inside/),
  },
  {
    command: 'train',
    name: '--out a parent of --data',
    setup: withData,
    argv: (e) => trainArgv(e, {}, e.data, e.root),
    outputs: (e) => [e.root],
    expect: failsNaming(/--out.*--data|holds/),
  },
  {
    command: 'train',
    name: '--out a link to --data',
    setup: all(withData, async (e) => fs.symlink(e.data, join(e.root, 'data-link'))),
    argv: (e) => trainArgv(e, {}, e.data, join(e.root, 'data-link')),
    outputs: (e) => [join(e.root, 'data-link')],
    expect: failsNaming(/--out/),
  },
  {
    command: 'train',
    name: '--out an existing file',
    setup: all(withData, (e) => fs.writeFile(e.out, 'my notes\n')),
    argv: (e) => trainArgv(e),
    outputs: (e) => [e.out],
    expect: failsNaming(/--out.*file/),
  },
  {
    command: 'train',
    name: '--out a folder of unrelated files',
    setup: all(withData, (e) => unrelated(e.out)),
    argv: (e) => trainArgv(e),
    outputs: (e) => [e.out],
    expect: failsNaming(/--out.*(thesis|budget)|already holds/),
  },
  {
    command: 'train',
    name: '--out under /proc',
    setup: withData,
    argv: (e) => trainArgv(e, {}, e.data, PROC_OUT),
    outputs: () => [PROC_OUT],
    expect: failsNaming(new RegExp(`--out ${escapeRe(PROC_OUT)}`)),
  },
  {
    command: 'train',
    name: '--cache-dir under /proc',
    setup: withData,
    argv: (e) => trainArgv(e, { '--cache-dir': PROC_OUT }),
    outputs: (e) => [e.out],
    expect: failsNaming(new RegExp(`--cache-dir ${escapeRe(PROC_OUT)}`)),
  },
  // The cache would fill the model folder (and the model's save would replace the cache).
  {
    command: 'train',
    name: '--cache-dir equal to --out',
    setup: withData,
    argv: (e) => trainArgv(e, { '--cache-dir': e.out }),
    outputs: (e) => [e.out],
    expect: failsNaming(/--cache-dir.*--out|--out.*--cache-dir/),
  },
  {
    command: 'train',
    name: '--cache-dir inside --data',
    setup: withData,
    argv: (e) => trainArgv(e, { '--cache-dir': join(e.data, 'cache') }),
    outputs: (e) => [e.out, join(e.data, 'cache')],
    expect: failsNaming(/--cache-dir/),
  },
  {
    command: 'train',
    name: '--cache-dir an existing file',
    setup: all(withData, (e) => fs.writeFile(e.cache, 'x\n')),
    argv: (e) => trainArgv(e, { '--cache-dir': e.cache }),
    outputs: (e) => [e.out, e.cache],
    expect: failsNaming(/--cache-dir|cache/),
  },
  {
    command: 'train',
    name: '--out a previous model folder (replaced)',
    setup: all(withData, async (e) => fs.cp(goodModel, e.out, { recursive: true })),
    argv: (e) => trainArgv(e),
    outputs: (e) => [e.out],
    expect: {
      code: 0,
      listed: [],
      check: async (env) => {
        const m = await loadModel(env.out);
        m.model.dispose();
      },
    },
  },
  {
    command: 'train',
    name: '--out a new nested path',
    setup: withData,
    argv: (e) => trainArgv(e, {}, e.data, join(e.out, 'a', 'b')),
    outputs: (e) => [e.out],
    expect: { code: 0, listed: [] },
  },
  {
    command: 'study',
    name: '--out equal to --data',
    setup: withData,
    argv: (e) => studyArgv(e, [], e.data, e.data),
    outputs: (e) => [e.data],
    expect: failsNaming(/--out/),
  },
  {
    command: 'study',
    name: '--out an existing file',
    setup: all(withData, (e) => fs.writeFile(e.out, 'x\n')),
    argv: (e) => studyArgv(e),
    outputs: (e) => [e.out],
    expect: failsNaming(/--out/),
  },
  {
    command: 'study',
    name: '--cache-dir under /proc',
    setup: withData,
    argv: (e) => studyArgv(e).map((a) => (a === e.cache ? PROC_OUT : a)),
    outputs: (e) => [e.out],
    expect: failsNaming(new RegExp(`--cache-dir ${escapeRe(PROC_OUT)}`)),
  },
  {
    command: 'prepare',
    name: 'DEST equal to SOURCE',
    setup: withPhotos,
    argv: (e) => prepareArgv(e, [], e.photos, e.photos),
    outputs: (e) => [e.photos],
    expect: failsNaming(/photos/),
  },
  {
    command: 'prepare',
    name: 'DEST inside SOURCE',
    setup: withPhotos,
    argv: (e) => prepareArgv(e, [], e.photos, join(e.photos, 'split')),
    outputs: (e) => [join(e.photos, 'split')],
    expect: failsNaming(/photos/),
  },
  {
    command: 'prepare',
    name: 'DEST an existing file',
    setup: all(withPhotos, (e) => fs.writeFile(e.out, 'x\n')),
    argv: (e) => prepareArgv(e),
    outputs: (e) => [e.out],
    expect: failsNaming(/out/),
  },
  {
    command: 'prepare',
    name: 'DEST a folder of unrelated files',
    setup: all(withPhotos, (e) => unrelated(e.out)),
    argv: (e) => prepareArgv(e),
    outputs: (e) => [e.out],
    expect: failsNaming(/out/),
  },
  {
    command: 'prepare',
    name: 'DEST a folder of unrelated files with --overwrite',
    setup: all(withPhotos, (e) => unrelated(e.out)),
    argv: (e) => prepareArgv(e, ['--overwrite']),
    outputs: (e) => [e.out],
    expect: failsNaming(/out/),
  },
  {
    command: 'prepare',
    name: 'DEST under /proc',
    setup: withPhotos,
    argv: (e) => prepareArgv(e, [], e.photos, PROC_OUT),
    outputs: () => [PROC_OUT],
    expect: failsNaming(new RegExp(`${escapeRe(PROC_OUT)}(?!\\.tmp)\\b.*(cannot|not writable|read-only|does not accept)`)),
  },
  {
    command: 'preview',
    name: '--out under /proc',
    setup: withData,
    argv: (e) => previewArgv(e).map((a) => (a === previewOut(e) ? `${PROC_OUT}.png` : a)),
    outputs: () => [`${PROC_OUT}.png`],
    expect: failsNaming(/--out .*\/proc.*cannot be written/),
  },
  {
    command: 'preview',
    name: '--out below a file',
    setup: all(withData, (e) => fs.writeFile(join(e.root, 'notes.txt'), 'x\n')),
    argv: (e) => previewArgv(e).map((a) => (a === previewOut(e) ? join(e.root, 'notes.txt', 'p.png') : a)),
    outputs: (e) => [join(e.root, 'notes.txt')],
    expect: failsNaming(/notes\.txt/),
  },
  // The preview must not replace the image it shows.
  {
    command: 'preview',
    name: '--out one of the input images',
    setup: withData,
    argv: (e) => previewArgv(e).map((a) => (a === previewOut(e) ? join(e.data, 'train', 'left', 'left_000.png') : a)),
    outputs: (e) => [join(e.data, 'train', 'left', 'left_000.png')],
    expect: failsNaming(/left_000\.png|--out/),
  },
];
for (const p of pathCases) add({ ...p, kind: 'paths' });

// ---- a full disk ----

add({
  command: 'train',
  kind: 'disk',
  name: 'no space left while saving the model',
  setup: withData,
  argv: (e) => trainArgv(e),
  fullDisk: true,
  expect: failsNaming(/no space/),
});
add({
  command: 'train',
  kind: 'disk',
  name: 'no space left in --cache-dir',
  setup: withData,
  argv: (e) => trainArgv(e, { '--cache-dir': e.cache }),
  fullDisk: true,
  expect: failsNaming(/no space/),
});
add({
  command: 'preview',
  kind: 'disk',
  name: 'no space left while writing the PNG',
  setup: withData,
  argv: (e) => previewArgv(e),
  outputs: (e) => [previewOut(e)],
  fullDisk: true,
  expect: failsNaming(/no space/),
});
add({
  command: 'prepare',
  kind: 'disk',
  name: 'no space left while copying',
  setup: withPhotos,
  argv: (e) => prepareArgv(e),
  fullDisk: true,
  expect: failsNaming(/no space/),
});

// ---- running the table ----

async function newEnv(label: string): Promise<Env> {
  const root = join(suiteRoot, `case-${String(++caseCount).padStart(3, '0')}-${label.replace(/[^a-z0-9]+/gi, '-').slice(0, 40)}`);
  await fs.mkdir(root);
  return {
    root,
    data: join(root, 'data'),
    model: join(root, 'model'),
    photos: join(root, 'photos'),
    pics: join(root, 'pics'),
    out: join(root, 'out'),
    cache: join(root, 'cache'),
  };
}

before(async () => {
  suiteRoot = await fs.mkdtemp(join(tmpdir(), 'convkit-robustness-'));
  good = await writeSyntheticSet({ train: 6, validation: 4, test: 4 }, 16);
  goodModel = join(suiteRoot, 'good-model');
  const r = await runCaptured(trainArgv({ data: good.root } as Env, {}, good.root, goodModel));
  assert.equal(r.code, 0, r.errLines.join('\n'));
});

after(async () => {
  console.log(tally.summary());
  await good?.cleanup();
  if (suiteRoot) await fs.rm(suiteRoot, { recursive: true, force: true });
});

const haveMobileNet = await fs.stat(MODEL_FOR_CLASSIFY).then(
  () => true,
  () => false,
);
for (const c of cases) {
  const slow = c.command === 'classify' || c.command === 'study';
  test(
    `${c.command} · ${c.kind} · ${c.name}`,
    { timeout: slow ? 240_000 : 120_000, skip: c.command === 'classify' && !haveMobileNet ? 'no MobileNet v1 in ../shared/models' : false },
    async () => {
      tally.add(c.command, c.kind);
      const env = await newEnv(`${c.command}-${c.name}`);
      await runCase(c, env);
      await fs.rm(env.root, { recursive: true, force: true });
    },
  );
}

// ---- interrupted and concurrent runs (the library, in-process) ----

const tinySettings = { epochs: 1, imageSize: 16, batchSize: 4, model: { filters: [4, 4], denseUnits: 8 } };

/** A complete model folder: it loads, weights checked against convkit.json's hashes. */
async function assertCompleteModel(dir: string): Promise<void> {
  const m = await loadModel(dir);
  m.model.dispose();
}

test('train · concurrency · an abort before the first epoch ends leaves no model folder', { timeout: 120_000 }, async () => {
  tally.add('train', 'concurrency');
  const env = await newEnv('abort-first-epoch');
  await withData(env);
  const data = await snapshot(env.data);
  const controller = new AbortController();
  const r = await trainRecipe({
    recipe: 'scratch',
    data: env.data,
    out: env.out,
    overrides: { ...tinySettings, epochs: 2 },
    verbose: false,
    signal: controller.signal,
    callbacks: [
      {
        onBatchEnd: (batch) => {
          if (batch === 0) controller.abort();
        },
      },
    ],
  }).then(
    () => undefined,
    (err: unknown) => err,
  );
  assert.ok(r instanceof Error && r.name === 'ConvkitError', `an abort before any epoch ended: ${String(r)}`);
  assert.equal(
    await fs.lstat(env.out).then(
      () => true,
      () => false,
    ),
    false,
    'no --out folder after an abort before the first epoch',
  );
  assert.deepEqual(await tempLeftovers(env.root), []);
  assert.deepEqual(await snapshot(env.data), data);
  await fs.rm(env.root, { recursive: true, force: true });
});

test('train · concurrency · an abort over a previous model leaves it, or a complete new one', { timeout: 120_000 }, async () => {
  tally.add('train', 'concurrency');
  const env = await newEnv('abort-over-previous');
  await withData(env);
  for (const stopAt of ['first-epoch', 'second-epoch'] as const) {
    await fs.rm(env.out, { recursive: true, force: true });
    await fs.cp(goodModel, env.out, { recursive: true });
    const previous = await snapshot(env.out);
    const controller = new AbortController();
    let epochsEnded = 0;
    await trainRecipe({
      recipe: 'scratch',
      data: env.data,
      out: env.out,
      overrides: { ...tinySettings, epochs: 3 },
      verbose: false,
      signal: controller.signal,
      callbacks: [
        {
          onEpochEnd: () => {
            epochsEnded++;
          },
        },
        {
          onBatchEnd: (batch) => {
            if (batch === 1 && epochsEnded === (stopAt === 'first-epoch' ? 0 : 1)) controller.abort();
          },
        },
      ],
    }).catch((err: unknown) => {
      assert.equal((err as Error).name, 'ConvkitError', String(err));
    });
    const now = await snapshot(env.out);
    if (JSON.stringify(now) !== JSON.stringify(previous)) await assertCompleteModel(env.out);
    assert.deepEqual(await tempLeftovers(env.root), [], stopAt);
  }
  await fs.rm(env.root, { recursive: true, force: true });
});

test('train · concurrency · two runs sharing one --cache-dir both succeed and the cache serves a third', { timeout: 180_000 }, async () => {
  tally.add('train', 'concurrency');
  const env = await newEnv('shared-cache');
  await withData(env);
  const run = (out: string, seed: number) =>
    trainRecipe({ recipe: 'scratch', data: env.data, out, overrides: tinySettings, seed, verbose: false, cacheDir: env.cache });
  const [a, b] = await Promise.all([run(join(env.root, 'out-a'), 1), run(join(env.root, 'out-b'), 2)]);
  assert.equal(a.history.epoch.length, 1);
  assert.equal(b.history.epoch.length, 1);
  await assertCompleteModel(join(env.root, 'out-a'));
  await assertCompleteModel(join(env.root, 'out-b'));
  assert.deepEqual(await tempLeftovers(env.root), []);
  // Every training and validation image comes from the disk cache now, none decoded again.
  const cache = new ImageCache({ cacheDir: join(env.cache, 'images') });
  for (const split of ['train', 'validation']) {
    const folder = await scanImageFolder(join(env.data, split));
    const got = await cache.getMany(
      folder.files.map((f) => f.path),
      { targetSize: [16, 16], colorMode: 'rgb', interpolation: 'nearest' },
    );
    assert.ok(got.every((g) => !(g instanceof Error)));
  }
  assert.equal(cache.stats.decoded, 0, `cache entries decoded again: ${JSON.stringify(cache.stats)}`);
  const third = await runCaptured(trainArgv(env, { '--cache-dir': env.cache }, env.data, join(env.root, 'out-c')));
  assert.equal(third.code, 0, third.errLines.join('\n'));
  await assertCompleteModel(join(env.root, 'out-c'));
  await fs.rm(env.root, { recursive: true, force: true });
});

test('train · concurrency · two runs into the same --out at once leave one complete model', { timeout: 180_000 }, async () => {
  tally.add('train', 'concurrency');
  const env = await newEnv('same-out');
  await withData(env);
  const run = (seed: number) => trainRecipe({ recipe: 'scratch', data: env.data, out: env.out, overrides: tinySettings, seed, verbose: false });
  const results = await Promise.allSettled([run(1), run(2)]);
  assert.ok(
    results.some((r) => r.status === 'fulfilled'),
    'at least one run succeeds',
  );
  await assertCompleteModel(env.out);
  assert.deepEqual(await tempLeftovers(env.root), []);
  // A run that lost the race says so as bad input (one line, exit 2), not as an internal error.
  for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as Error).name, 'ConvkitError', String(r.reason));
  await fs.rm(env.root, { recursive: true, force: true });
});

/** Runs several CLI commands at once (as two processes would); their output is interleaved and only the exit codes are kept. */
async function runConcurrently(argvs: string[][]): Promise<number[]> {
  const log = console.log,
    error = console.error,
    warn = console.warn,
    write = process.stderr.write;
  try {
    return (await Promise.all(argvs.map((a) => runCaptured(a)))).map((r) => r.code);
  } finally {
    console.log = log;
    console.error = error;
    console.warn = warn;
    process.stderr.write = write;
  }
}

test('prepare · concurrency · two runs into the same DEST at once leave one complete split', { timeout: 120_000 }, async () => {
  tally.add('prepare', 'concurrency');
  const env = await newEnv('prepare-same-dest');
  await withPhotos(env);
  const photos = await snapshot(env.photos);
  const codes = await runConcurrently([prepareArgv(env), prepareArgv(env, ['--seed', '7'])]);
  assert.ok(
    codes.every((c) => c === 0 || c === 2),
    `exit codes ${codes.join(', ')}`,
  );
  assert.ok(codes.includes(0), 'at least one run succeeds');
  assert.equal(await countImages(env.out), 12, 'DEST holds one whole split');
  assert.deepEqual(await tempLeftovers(env.root), []);
  assert.deepEqual(await snapshot(env.photos), photos);
  await fs.rm(env.root, { recursive: true, force: true });
});

test('preview · concurrency · two runs writing the same PNG at once leave a whole PNG', { timeout: 120_000 }, async () => {
  tally.add('preview', 'concurrency');
  const env = await newEnv('preview-same-out');
  await withData(env);
  const codes = await runConcurrently([previewArgv(env), previewArgv(env, ['--seed', '2'])]);
  assert.deepEqual(codes, [0, 0]);
  const { default: sharp } = await import('sharp');
  const meta = await sharp(previewOut(env)).metadata();
  assert.equal(meta.format, 'png');
  await sharp(previewOut(env)).raw().toBuffer();
  assert.deepEqual(await tempLeftovers(env.root), []);
  await fs.rm(env.root, { recursive: true, force: true });
});
