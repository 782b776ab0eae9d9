import { initBackend } from '../../backend/index.js';
import { runAudit } from '../../audit/audit.js';
import { applyPlan, readPlan, undoPlan } from '../../audit/apply.js';
import { BASE_NAMES } from '../../models/bases.js';
import { ConvkitError } from '../../util/errors.js';
import { intFlag, parseCommandArgs } from '../args.js';
import type { Command } from '../command.js';

const spec = {
  name: 'audit',
  usage: `convkit audit --data DIR --out AUDIT_DIR [options]
convkit audit --apply PLAN.json [--data DIR]
convkit audit --undo --data DIR
  Finds what a photo folder gets wrong — unreadable files, exact and near
  duplicates (train/test leaks first), likely mislabeled images, outliers,
  class imbalance — and writes AUDIT_DIR/index.html (with keep / move /
  exclude buttons that build a plan) and results.json. --apply carries a
  plan out by moving files (never deleting: excluded files go to
  DIR.quarantine beside the data), --undo puts them back.

  --data DIR           class sub-folders, or train/ (validation/ or val/, test/) of them
  --out AUDIT_DIR      report folder (new, empty, or an earlier audit's)
  --base NAME          pretrained base of the embeddings: ${BASE_NAMES.join(' | ')} (default mobilenet_v1)
  --no-images          leave thumbnails out of the page (private photos)
  --cache-dir DIR      embeddings and hashes (default ~/.cache/convkit)
  --seed N             fixes the folds of the label check (default 1)
  --apply PLAN.json    move the files a plan names (the page's "Download plan.json")
  --undo               restore the files the last --apply moved
  --quiet              no progress output
  --json               print the counts of each finding as one JSON object`,
  options: {
    data: { type: 'string' },
    out: { type: 'string' },
    base: { type: 'string' },
    'no-images': { type: 'boolean' },
    'cache-dir': { type: 'string' },
    seed: { type: 'string' },
    apply: { type: 'string' },
    undo: { type: 'boolean' },
    quiet: { type: 'boolean' },
    json: { type: 'boolean' },
  },
} as const;

type Values = ReturnType<typeof parseCommandArgs<typeof spec.options>>['values'];

/** Flags that only make sense for another mode are refused rather than ignored. */
function refuseWith(v: Values, mode: string, flags: (keyof Values)[]): void {
  const given = flags.find((f) => v[f] !== undefined);
  if (given) throw new ConvkitError(`--${String(given)} has no meaning with ${mode}`, `leave --${String(given)} out`);
}

async function audit(v: Values): Promise<number> {
  if (!v.data) throw new ConvkitError('--data is required', 'see "convkit audit --help"');
  if (!v.out) throw new ConvkitError('--out is required', 'see "convkit audit --help"');
  const base = v.base ?? 'mobilenet_v1';
  if (!(BASE_NAMES as readonly string[]).includes(base))
    throw new ConvkitError(`unknown --base ${JSON.stringify(base)}`, `use one of: ${BASE_NAMES.join(', ')}`);
  await initBackend();
  const log = (line: string) => void (v.quiet ? undefined : console.error(line));
  const seed = intFlag(v.seed, 'seed', 1);
  const run = await runAudit({ data: v.data, out: v.out, base, images: !v['no-images'], cacheDir: v['cache-dir'], seed, silent: v.quiet, log });
  const r = run.result;
  const counts = {
    images: r.images,
    unreadable: r.unreadable.length,
    leaks: r.duplicates.filter((d) => d.relation === 'cross-split').length,
    labelConflicts: r.duplicates.filter((d) => d.relation === 'cross-class').length,
    duplicates: r.duplicates.filter((d) => d.relation === 'within-class').length,
    labelIssues: r.labelIssues.length,
    outliers: r.outliers.length,
    imbalanced: r.balance.warnings.length,
  };
  if (v.json) console.log(JSON.stringify({ out: run.out, ...counts }));
  else {
    for (const [what, n] of Object.entries(counts)) console.log(`${what.padEnd(15)} ${n}`);
    for (const w of r.balance.warnings) console.log(`warning: ${w}`);
    console.log(`report: ${run.indexPath}`);
  }
  return 0;
}

const command: Command = {
  async run(argv) {
    const { values: v } = parseCommandArgs(spec, argv);
    if (v.help) {
      console.log(spec.usage);
      return 0;
    }
    const log = (line: string) => void (v.quiet ? undefined : console.error(line));
    if (v.apply !== undefined && v.undo) throw new ConvkitError('--apply and --undo cannot be used together', 'apply a plan, or undo the last one');
    if (v.apply !== undefined) {
      refuseWith(v, '--apply', ['out', 'base', 'no-images', 'cache-dir', 'seed']);
      const r = await applyPlan(await readPlan(v.apply), { data: v.data, log });
      console.log(`moved ${r.moved} file(s); excluded ones are in ${r.quarantine}; "convkit audit --undo --data DIR" restores them (${r.undoLog})`);
      return 0;
    }
    if (v.undo) {
      refuseWith(v, '--undo', ['out', 'base', 'no-images', 'cache-dir', 'seed']);
      if (!v.data) throw new ConvkitError('--undo needs --data', 'give the data folder the plan was applied to');
      const r = await undoPlan(v.data, { log });
      console.log(`restored ${r.restored} file(s)`);
      return 0;
    }
    return audit(v);
  },
};
export default command;
