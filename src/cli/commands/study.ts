import { initBackend } from '../../backend/index.js';
import { BASE_NAMES } from '../../models/bases.js';
import { runStudy } from '../../studies/study.js';
import { runAutoStudy } from '../../studies/auto.js';
import { STUDIES, STEP_NAMES, getStudy, getStudyProfile } from '../../studies/steps.js';
import { ConvkitError } from '../../util/errors.js';
import { intFlag, numberFlag, parseCommandArgs } from '../args.js';
import type { Command } from '../command.js';

const spec = {
  name: 'study',
  usage: `convkit study NAME --data DIR --out REPORT_DIR [options]
  Reproduces the lecture end to end: ${STEP_NAMES.join(' → ')}
  (the steps of study NAME), each reusing what the one before made, then
  writes REPORT_DIR/index.html, results.json, the best model (model/) and
  try.html. Finished steps are kept in REPORT_DIR/steps/ and skipped when
  the study runs again; an interrupted step is redone from its start.

  NAME                        ${Object.keys(STUDIES).join(' | ')}, or auto (below)
  --data DIR                  folder with train/, validation/ and test/, one sub-folder per class
  --out REPORT_DIR            report folder
  --base NAME                 pretrained base of the transfer steps: ${BASE_NAMES.join(' | ')} (default mobilenet_v1)
  --profile quick|book|best   quick: minutes on a laptop CPU (default); book: the book's settings; best: convkit's
  --force                     redo finished steps
  --seed N                    fixes weights, shuffling and augmentation (default 1)
  --skip-bad                  leave out images that do not decode (listed in the report) instead of stopping
  --include-images            add images (wrong predictions, augmented samples) to a gender report, for local viewing only
  --cache-dir DIR             decoded images, features and data views (default ~/.cache/convkit)
  --quiet                     only the study's own lines

convkit study auto --data DIR --out REPORT_DIR [--budget MINUTES] [--seed N] [--cache-dir DIR] [--skip-bad] [--force]
  A classifier for your own photos within a time budget: DIR holds train/ and
  validation/ (or val/) [and test/] class folders, or is one folder of class
  folders (then split per class, 20 % validation: --validation-split F).
  Candidates run cheapest first, each only when its estimated time fits what
  is left of the budget: a head on the features of each pretrained base
  (mobilenet_v1, mobilenet_v2; vgg16 when its weights are cached), the frozen
  base with augmentation and fine-tuning on the best of them, and networks
  trained from scratch (augment; xresnet, xception when registered). The best
  by validation accuracy goes to REPORT_DIR/model/ with try.html; the report
  shows every candidate, the skipped ones with their reason, and the class
  balance. Finished candidates are reused when the study runs again.
  --budget MINUTES            time this run may take (default 30)
  --validation-split F        fraction of each class held out when DIR has no validation split (default 0.2)`,
  options: {
    data: { type: 'string' },
    out: { type: 'string' },
    base: { type: 'string' },
    profile: { type: 'string' },
    force: { type: 'boolean' },
    seed: { type: 'string' },
    'skip-bad': { type: 'boolean' },
    'include-images': { type: 'boolean' },
    'cache-dir': { type: 'string' },
    quiet: { type: 'boolean' },
    budget: { type: 'string' },
    'validation-split': { type: 'string' },
  },
  allowPositionals: true,
} as const;

const study: Command = {
  async run(argv) {
    const { values: v, positionals } = parseCommandArgs(spec, argv);
    if (v.help) {
      console.log(spec.usage);
      return 0;
    }
    if (positionals.length !== 1)
      throw new ConvkitError(
        `give one study name (got ${positionals.length ? positionals.join(' ') : 'none'})`,
        `convkit study ${Object.keys(STUDIES).join('|')} --data DIR --out REPORT_DIR`,
      );
    if (!v.data) throw new ConvkitError('--data is required', 'see "convkit study --help"');
    if (!v.out) throw new ConvkitError('--out is required', 'see "convkit study --help"');
    if (positionals[0] === 'auto') return runAuto(v);
    for (const flag of ['budget', 'validation-split'] as const)
      if (v[flag] !== undefined) throw new ConvkitError(`--${flag} is for "convkit study auto" only`, `leave --${flag} out, or run convkit study auto`);
    const definition = getStudy(positionals[0]!);
    const base = v.base ?? 'mobilenet_v1';
    if (!(BASE_NAMES as readonly string[]).includes(base))
      throw new ConvkitError(`unknown --base ${JSON.stringify(base)}`, `use one of: ${BASE_NAMES.join(', ')}`);
    const profile = getStudyProfile(v.profile ?? 'quick');
    const seed = intFlag(v.seed, 'seed', 1);
    await initBackend();
    // The unit of resumption is the step: every output is written atomically
    // (DONE last), so Ctrl-C can stop at once and the next run redoes only
    // the interrupted step.
    const onSigint = () => {
      process.stderr.write('\nconvkit study: interrupted; finished steps are kept, the same command continues from the interrupted step\n');
      process.exit(130);
    };
    process.on('SIGINT', onSigint);
    let result;
    try {
      result = await runStudy({
        study: definition,
        data: v.data,
        out: v.out,
        base,
        profile,
        force: v.force,
        seed,
        skipBad: v['skip-bad'],
        includeImages: v['include-images'] ? true : undefined,
        cacheDir: v['cache-dir'],
        verbose: !v.quiet,
      });
    } finally {
      process.off('SIGINT', onSigint);
    }
    for (const s of result.steps) {
      const acc = s.record.testAccuracy ?? s.record.valAccuracy;
      console.log(`${s.name.padEnd(17)} ${typeof acc === 'number' ? (acc * 100).toFixed(1).padStart(5) + ' %' : '    —'}  ${s.status}`);
    }
    console.log(`report: ${result.indexPath}`);
    return 0;
  },
};

type StudyFlags = { [K in keyof typeof spec.options]?: (typeof spec.options)[K] extends { type: 'boolean' } ? boolean : string };

/** `convkit study auto`: the candidates within --budget, with the report. */
async function runAuto(v: StudyFlags): Promise<number> {
  for (const flag of ['base', 'profile', 'include-images'] as const)
    if (v[flag] !== undefined)
      throw new ConvkitError(
        `--${flag} is not an option of "convkit study auto"`,
        `leave --${flag} out: the auto study tries every available base at its own settings`,
      );
  const budgetMinutes = numberFlag(v.budget, 'budget', 30);
  if (!(budgetMinutes > 0)) throw new ConvkitError(`invalid --budget: ${JSON.stringify(v.budget)}`, '--budget is the minutes the study may take, above 0');
  const validationSplit = v['validation-split'] === undefined ? undefined : numberFlag(v['validation-split'], 'validation-split', 0.2);
  if (validationSplit !== undefined && !(validationSplit > 0 && validationSplit < 1))
    throw new ConvkitError(
      `invalid --validation-split: ${JSON.stringify(v['validation-split'])}`,
      '--validation-split is a fraction between 0 and 1, e.g. 0.2',
    );
  await initBackend();
  const onSigint = () => {
    process.stderr.write('\nconvkit study auto: interrupted; finished candidates are kept, the same command continues\n');
    process.exit(130);
  };
  process.on('SIGINT', onSigint);
  let result;
  try {
    result = await runAutoStudy({
      data: v.data!,
      out: v.out!,
      budgetMinutes,
      validationSplit,
      seed: intFlag(v.seed, 'seed', 1),
      cacheDir: v['cache-dir'],
      skipBad: v['skip-bad'],
      force: v.force,
      verbose: !v.quiet,
    });
  } finally {
    process.off('SIGINT', onSigint);
  }
  const pct = (x: number | undefined) => (typeof x === 'number' ? `${(x * 100).toFixed(1).padStart(5)} %` : '     —');
  console.log(`${'candidate'.padEnd(30)} validation     test  status`);
  for (const c of result.candidates) {
    const status = c.reason ? `${c.status}: ${c.reason}` : c.status;
    console.log(`${(c.name === result.best ? `${c.name} *` : c.name).padEnd(30)} ${pct(c.record?.valAccuracy)}  ${pct(c.record?.testAccuracy)}  ${status}`);
  }
  console.log(`chosen (*): ${result.best}, by validation accuracy; model: ${result.out}/model`);
  console.log(`report: ${result.indexPath}`);
  return 0;
}

export default study;
