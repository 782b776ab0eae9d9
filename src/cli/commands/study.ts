import { initBackend } from '../../backend/index.js';
import { BASE_NAMES } from '../../models/bases.js';
import { runStudy } from '../../studies/study.js';
import { STUDIES, STEP_NAMES, getStudy, getStudyProfile } from '../../studies/steps.js';
import { ConvkitError } from '../../util/errors.js';
import { intFlag, parseCommandArgs } from '../args.js';
import type { Command } from '../command.js';

const spec = {
  name: 'study',
  usage: `convkit study NAME --data DIR --out REPORT_DIR [options]
  Reproduces the lecture end to end: ${STEP_NAMES.join(' → ')}
  (the steps of study NAME), each reusing what the one before made, then
  writes REPORT_DIR/index.html, results.json, the best model (model/) and
  try.html. Finished steps are kept in REPORT_DIR/steps/ and skipped when
  the study runs again; an interrupted step is redone from its start.

  NAME                        ${Object.keys(STUDIES).join(' | ')}
  --data DIR                  folder with train/, validation/ and test/, one sub-folder per class
  --out REPORT_DIR            report folder
  --base NAME                 pretrained base of the transfer steps: ${BASE_NAMES.join(' | ')} (default mobilenet_v1)
  --profile quick|book|best   quick: minutes on a laptop CPU (default); book: the book's settings; best: convkit's
  --force                     redo finished steps
  --seed N                    fixes weights, shuffling and augmentation (default 1)
  --skip-bad                  leave out images that do not decode (listed in the report) instead of stopping
  --include-images            add images (wrong predictions, augmented samples) to a gender report, for local viewing only
  --cache-dir DIR             decoded images, features and data views (default ~/.cache/convkit)
  --quiet                     only the study's own lines`,
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
    const definition = getStudy(positionals[0]!);
    if (!v.data) throw new ConvkitError('--data is required', 'see "convkit study --help"');
    if (!v.out) throw new ConvkitError('--out is required', 'see "convkit study --help"');
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

export default study;
