import { readFile } from 'node:fs/promises';
import { basename, extname, resolve } from 'node:path';
import { initBackend } from '../../backend/index.js';
import type { SettingsOverrides, TransferSettings } from '../../recipes/recipe.js';
import { getProfile, getRecipe, recipeNames } from '../../recipes/registry.js';
import { lrFindRecipe } from '../../recipes/lr-find-recipe.js';
import { lrFinderChart } from '../../report/lr-finder-plot.js';
import { isMarkedPng, markPng } from '../../report/png-mark.js';
import { OPTIMIZERS, type OptimizerName } from '../../train/optimizers.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { ConvkitError } from '../../util/errors.js';
import { claimOutputFile } from '../../util/output-guard.js';
import { intFlag, MAX_IMAGE_SIZE, numberFlag, parseCommandArgs } from '../args.js';
import type { Command } from '../command.js';
import { parseClassWeight } from '../../train/class-balance.js';

const spec = {
  name: 'lr-find',
  usage: `convkit lr-find --recipe NAME --data DIR [--out PLOT.png] [options]
  The learning-rate range test (fastai's lr_find): trains the recipe's model on
  DIR/train for up to 100 batches while the rate grows from 1e-7 to 10, stops
  when the smoothed loss passes 4× its minimum, and prints the suggested rate
  (fastai's "valley"). The model is not kept. For the features recipe the test
  runs on the head over cached features, for features-augment over cached
  frozen-prefix activations.

  --recipe NAME          ${recipeNames()
    .filter((n) => n !== 'finetune')
    .join(' | ')}
  --data DIR             folder with train/ and validation/, one sub-folder per class
  --out PLOT.png         the loss-against-rate figure (PLOT.png and PLOT.svg)
  --profile book|best    the recipe's settings (default book)
  --start-lr X           first rate (default 1e-7)
  --end-lr X             last rate (default 10)
  --num-it N             batches at most (default 100)
  --batch-size N         --image-size N   --optimizer ${OPTIMIZERS.join('|')}
  --base NAME            pretrained base of the transfer recipes
  --class-weight MODE    auto | balanced | none | JSON weights (as convkit train)
  --seed N               (default 1)
  --cache-dir DIR        disk cache: decoded images and a base's features
  --quiet                no progress output
  --json                 print the result as one JSON object`,
  options: {
    recipe: { type: 'string' },
    data: { type: 'string' },
    out: { type: 'string' },
    profile: { type: 'string' },
    'start-lr': { type: 'string' },
    'end-lr': { type: 'string' },
    'num-it': { type: 'string' },
    'batch-size': { type: 'string' },
    'image-size': { type: 'string' },
    optimizer: { type: 'string' },
    base: { type: 'string' },
    'class-weight': { type: 'string' },
    seed: { type: 'string' },
    'cache-dir': { type: 'string' },
    quiet: { type: 'boolean' },
    json: { type: 'boolean' },
  },
} as const;

/** The figure's two files; existing ones are replaced only when convkit wrote them. */
async function claimPlot(out: string, data: string): Promise<{ png: string; svg: string }> {
  const ext = extname(out).toLowerCase();
  const base = resolve(ext === '.png' || ext === '.svg' ? out.slice(0, -ext.length) : out);
  const paths = { png: `${base}.png`, svg: `${base}.svg` };
  const inputs = [{ path: data, flag: '--data' }];
  await claimOutputFile({ path: paths.png, flag: '--out', what: 'a learning-rate finder PNG', owns: async (p) => isMarkedPng(await readFile(p)), inputs });
  await claimOutputFile({
    path: paths.svg,
    flag: '--out',
    what: 'a learning-rate finder SVG',
    owns: async (p) => (await readFile(p, 'utf8')).includes(SVG_MARK),
    inputs,
  });
  return paths;
}

const SVG_MARK = '<!-- convkit lr-find -->';

const lrFind: Command = {
  async run(argv) {
    const { values: v } = parseCommandArgs(spec, argv);
    if (v.help) {
      console.log(spec.usage);
      return 0;
    }
    if (!v.recipe) throw new ConvkitError('--recipe is required', 'see "convkit lr-find --help"');
    if (!v.data) throw new ConvkitError('--data is required', 'see "convkit lr-find --help"');
    const recipe = getRecipe(v.recipe);
    const profile = getProfile(v.profile ?? 'book');
    if (v.optimizer !== undefined && !OPTIMIZERS.includes(v.optimizer as OptimizerName))
      throw new ConvkitError(`invalid --optimizer: ${JSON.stringify(v.optimizer)}`, `use one of ${OPTIMIZERS.join(', ')}`);
    const startLr = numberFlag(v['start-lr'], 'start-lr', 1e-7),
      endLr = numberFlag(v['end-lr'], 'end-lr', 10);
    if (!(startLr > 0 && endLr > startLr))
      throw new ConvkitError(`invalid --start-lr ${startLr} / --end-lr ${endLr}`, 'give 0 < --start-lr < --end-lr, e.g. 1e-7 and 10');
    const finder = { startLr, endLr, numIt: intFlag(v['num-it'], 'num-it', 100, 6) };
    const transfer: Partial<TransferSettings> = { base: v.base };
    const overrides: SettingsOverrides = {
      batchSize: v['batch-size'] === undefined ? undefined : intFlag(v['batch-size'], 'batch-size', 0, 1),
      imageSize: v['image-size'] === undefined ? undefined : intFlag(v['image-size'], 'image-size', 0, 8, MAX_IMAGE_SIZE),
      optimizer: v.optimizer as OptimizerName | undefined,
      classWeight: v['class-weight'] === undefined ? undefined : parseClassWeight(v['class-weight']),
      transfer,
    };
    const plot = v.out === undefined ? undefined : await claimPlot(v.out, v.data);
    await initBackend();
    const log = (line: string) => {
      if (!v.quiet) console.error(line);
    };
    const seed = intFlag(v.seed, 'seed', 1, 0);
    const r = await lrFindRecipe({ recipe, profile, data: v.data, overrides, seed, verbose: !v.quiet, log, cacheDir: v['cache-dir'], finder });
    if (plot) {
      const figure = await lrFinderChart(r, { title: `${recipe.name} (${profile}), ${r.settings.optimizer}, ${basename(resolve(v.data))}` });
      await writeFileAtomic(plot.svg, figure.svg.replace(/(<svg\b[^>]*>)/, `$1${SVG_MARK}`));
      await writeFileAtomic(plot.png, markPng(figure.png));
    }
    const summary = {
      recipe: r.recipe,
      profile: r.profile,
      optimizer: r.settings.optimizer,
      suggestion: r.suggestion,
      method: r.method,
      valley: r.valley,
      steepest: r.steepest,
      minimum: r.minimum,
      batches: r.lrs.length,
      diverged: r.diverged,
      interrupted: r.interrupted,
      seconds: r.seconds,
      ...(plot && { figures: [plot.png, plot.svg] }),
    };
    if (v.json) console.log(JSON.stringify(summary));
    else {
      console.log(
        `suggested learning rate: ${r.suggestion.toExponential(2)} (${r.method}; steepest ${r.steepest?.toExponential(2) ?? '—'}, minimum/10 ${r.minimum.toExponential(2)})`,
      );
      console.log(
        `${r.lrs.length} batches from ${r.lrs[0]!.toExponential(1)} to ${r.lrs[r.lrs.length - 1]!.toExponential(1)}${r.diverged ? ', stopped when the loss diverged' : ''}; train with: convkit train --recipe ${r.recipe} --profile ${r.profile} --learning-rate ${r.suggestion.toExponential(1)} …`,
      );
      if (plot) console.log(`wrote ${plot.png}`);
    }
    return r.interrupted ? 130 : 0;
  },
};
export default lrFind;
