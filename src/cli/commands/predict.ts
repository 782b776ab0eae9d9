import { initBackend } from '../../backend/index.js';
import { listImageFiles } from '../../data/scan.js';
import { predict } from '../../train/predict.js';
import { predictEnsemble, type EnsembleMember } from '../../train/ensemble.js';
import { loadModel } from '../../train/saved-model.js';
import { ConvkitError } from '../../util/errors.js';
import { intFlag, parseCommandArgs } from '../args.js';
import { BadFiles } from '../bad-files.js';
import type { Command } from '../command.js';

const spec = {
  name: 'predict',
  usage: `convkit predict --model MODEL_DIR [--model MODEL_DIR ...] [--json] [--tta K] [--seed N] [--skip-bad] FILE_OR_DIR...
  Classifies images (folders are searched recursively). A file that cannot be
  read gets its own line and the others go on; the exit code is then 1.
  --model given more than once: the models' soft vote (class probabilities averaged per image,
              each model reading the images as it was trained; see convkit evaluate)
  --json      one JSON line per image: {"file", "label", "probability", "probabilities"},
              or {"file", "error"} for a file that cannot be read
  --tta K     average K views per image (the original and K-1 augmented ones)
  --skip-bad  files that cannot be read are listed but do not make the exit code 1`,
  options: {
    model: { type: 'string', multiple: true },
    json: { type: 'boolean' },
    tta: { type: 'string' },
    seed: { type: 'string' },
    'batch-size': { type: 'string' },
    'skip-bad': { type: 'boolean' },
  },
  allowPositionals: true,
} as const;

const predictCommand: Command = {
  async run(argv) {
    const { values: v, positionals } = parseCommandArgs(spec, argv);
    if (v.help) {
      console.log(spec.usage);
      return 0;
    }
    if (!v.model?.length) throw new ConvkitError('--model is required', 'pass the folder written by "convkit train --out"');
    if (positionals.length === 0) throw new ConvkitError('no images given', 'pass image files or folders after the options');
    const views = intFlag(v.tta, 'tta', 1, 1);
    const seed = intFlag(v.seed, 'seed', 1, 0),
      batchSize = intFlag(v['batch-size'], 'batch-size', 32, 1);
    const { files, skipped } = await listImageFiles(positionals, { skipBad: true });
    const bad = new BadFiles('predict', v.json ?? false);
    skipped.forEach(bad.report);
    if (files.length === 0 && skipped.length === 0)
      throw new ConvkitError(`no image files in ${positionals.join(', ')}`, 'pass .jpg/.png/... files or folders holding them');
    await initBackend();
    const members: EnsembleMember[] = [];
    try {
      for (const dir of v.model) members.push({ ...(await loadModel(dir)), name: dir });
      const options = { tta: views > 1 ? { views } : undefined, seed, batchSize, progress: files.length > 64, onBadFile: bad.report };
      const results = members.length > 1 ? await predictEnsemble(members, files, options) : await predict(members[0]!, files, options);
      for (const r of results) {
        console.log(v.json ? JSON.stringify(r) : `${r.file}\t${r.label}\t${r.probability.toFixed(4)}`);
      }
    } finally {
      for (const m of members) m.model.dispose();
    }
    return bad.exitCode(v['skip-bad']);
  },
};
export default predictCommand;
