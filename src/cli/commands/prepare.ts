import { parseCommandArgs, intFlag } from '../args.js';
import { listSkipped } from '../bad-files.js';
import type { Command } from '../command.js';
import { ConvkitError } from '../../util/errors.js';
import { DEFAULT_PATTERN, parseRanges, parseSplit, prepareSplits } from '../../data/prepare.js';

const spec = {
  name: 'prepare',
  usage: `convkit prepare SOURCE DEST (--split A,B,C | --ranges A-B,C-D,E-F) [options]
  Builds DEST/{train,validation,test}/<class>/ folders from SOURCE, either a flat
  folder whose file names carry the class (cat.12.jpg) or a folder of class
  sub-folders. Each class is split the same way.

  --split 1000,500,500     images per class in each part (seeded shuffle)
  --split 0.5,0.25,0.25    fractions per class in each part (seeded shuffle)
  --ranges 0-999,1000-1499,1500-1999
                           parts by the number in the file name (cat.12.jpg → 12)
  --pattern REGEX          flat SOURCE: first capture group is the class (default ${DEFAULT_PATTERN})
  --names a,b,c            part folder names (default train,validation,test)
  --seed N                 shuffle seed (default 42)
  --link                   hard-link files instead of copying
  --overwrite              replace a non-empty DEST
  --skip-bad               leave out files that do not decode (listed) instead of stopping;
                           every image is decoded before anything is written
  --json                   print the counts as JSON`,
  options: {
    split: { type: 'string' },
    ranges: { type: 'string' },
    pattern: { type: 'string' },
    names: { type: 'string' },
    seed: { type: 'string' },
    link: { type: 'boolean' },
    overwrite: { type: 'boolean' },
    json: { type: 'boolean' },
    'skip-bad': { type: 'boolean' },
  },
  allowPositionals: true,
} as const;

const prepare: Command = {
  async run(argv) {
    const { values, positionals } = parseCommandArgs(spec, argv);
    if (values.help) {
      console.log(spec.usage);
      return 0;
    }
    if (positionals.length !== 2)
      throw new ConvkitError(
        `expected SOURCE and DEST, got ${positionals.length} argument${positionals.length === 1 ? '' : 's'}`,
        'see "convkit prepare --help"',
      );
    if ((values.split === undefined) === (values.ranges === undefined))
      throw new ConvkitError(
        'give exactly one of --split and --ranges',
        'e.g. --split 0.5,0.25,0.25 or --ranges 0-999,1000-1499,1500-1999; see "convkit prepare --help"',
      );
    const split = values.split !== undefined ? parseSplit(values.split) : parseRanges(values.ranges!);
    const result = await prepareSplits({
      source: positionals[0]!,
      dest: positionals[1]!,
      split,
      pattern: values.pattern,
      names: values.names?.split(',').map((s) => s.trim()),
      seed: intFlag(values.seed, 'seed', 42),
      link: values.link,
      overwrite: values.overwrite,
      skipBad: values['skip-bad'],
      progress: !values.json,
    });
    listSkipped('prepare', result.skipped);
    if (values.json) {
      console.log(JSON.stringify(result));
      return 0;
    }
    const parts = Object.keys(result.counts);
    const w = Math.max(5, ...result.classNames.map((c) => c.length));
    console.log(`${result.dest} (from ${result.layout === 'flat' ? 'file names' : 'class folders'}${result.unused ? `; ${result.unused} images unused` : ''})`);
    console.log(`${'class'.padEnd(w)}  ${parts.map((p) => p.padStart(10)).join('  ')}`);
    for (const c of result.classNames) console.log(`${c.padEnd(w)}  ${parts.map((p) => String(result.counts[p]![c] ?? 0).padStart(10)).join('  ')}`);
    return 0;
  },
};
export default prepare;
