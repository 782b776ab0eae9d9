import { initBackend } from '../../backend/index.js';
import { evaluate } from '../../train/evaluate.js';
import { evaluateEnsemble, type EnsembleMember } from '../../train/ensemble.js';
import { modelReadOptions } from '../../train/predict.js';
import { loadModel, type LoadedModel } from '../../train/saved-model.js';
import { ConvkitError } from '../../util/errors.js';
import { intFlag, parseCommandArgs } from '../args.js';
import { listSkipped } from '../bad-files.js';
import { formatEvaluation } from '../evaluation-text.js';
import type { Command } from '../command.js';

const spec = {
  name: 'evaluate',
  usage: `convkit evaluate --model MODEL_DIR [--model MODEL_DIR ...] --data DIR [--json] [--tta K] [--top-k K] [--batch-size N] [--seed N] [--skip-bad]
  Scores a trained model on DIR (one sub-folder per class, named as the model's classes):
  loss, accuracy, balanced accuracy (mean per-class recall), top-k accuracy (more than 5 classes),
  confusion matrix [true][predicted], per-class precision/recall/F1, ROC AUC (two classes).
  Up to 12 classes the text shows the whole matrix; with more, the classes worst recall first
  and the most confused pairs (--json has everything).
  Images are read as the model was trained (convkit.json's inputSize, colorMode and interpolation).
  --model given more than once scores the ensemble: each model reads the images as it was
  trained, their class probabilities are averaged per image (soft voting), and each model's
  own accuracy is shown beside it. Choose the members on validation data, not on test.
  --tta K     average K views per image (the original and K-1 augmented ones)
  --top-k K   k of the top-k accuracy, below the number of classes (default 5 with more than 5 classes)
  --skip-bad  leave out images that cannot be read (listed on stderr and in --json's "skipped") instead of stopping`,
  options: {
    model: { type: 'string', multiple: true },
    data: { type: 'string' },
    json: { type: 'boolean' },
    tta: { type: 'string' },
    'top-k': { type: 'string' },
    'batch-size': { type: 'string' },
    seed: { type: 'string' },
    'skip-bad': { type: 'boolean' },
  },
} as const;

/** The folder-reading options of a model: as it was trained. */
function readOptions(meta: LoadedModel['meta']) {
  const { targetSize, colorMode, interpolation } = modelReadOptions(meta);
  return { inputSize: targetSize, colorMode, interpolation };
}

/** Scores the soft vote of several models, each model's own figures beside it. */
async function evaluateMembers(dirs: string[], data: string, options: Parameters<typeof evaluateEnsemble>[2], json: boolean | undefined, views: number) {
  const members: EnsembleMember[] = [];
  try {
    for (const dir of dirs) members.push({ ...(await loadModel(dir)), name: dir });
    const r = await evaluateEnsemble(members, data, options);
    listSkipped('evaluate', r.skipped ?? []);
    if (json) {
      console.log(JSON.stringify(r));
    } else {
      const own = r.members.map((m) => `  ${m.name}: accuracy ${m.accuracy.toFixed(4)}, loss ${m.loss.toFixed(4)}`);
      console.log([`ensemble of ${members.length} models (probabilities averaged):`, ...own, '', ...formatEvaluation(r, views)].join('\n'));
    }
  } finally {
    for (const m of members) m.model.dispose();
  }
  return 0;
}

const evaluateCommand: Command = {
  async run(argv) {
    const { values: v } = parseCommandArgs(spec, argv);
    if (v.help) {
      console.log(spec.usage);
      return 0;
    }
    if (!v.model?.length) throw new ConvkitError('--model is required', 'pass the folder written by "convkit train --out"');
    if (!v.data) throw new ConvkitError('--data is required', 'pass a folder with one sub-folder per class');
    const views = intFlag(v.tta, 'tta', 1, 1);
    const topK = v['top-k'] === undefined ? undefined : intFlag(v['top-k'], 'top-k', 5, 1);
    await initBackend();
    const options = {
      batchSize: intFlag(v['batch-size'], 'batch-size', 32, 1),
      seed: intFlag(v.seed, 'seed', 1, 0),
      skipBad: v['skip-bad'],
      tta: views > 1 ? { views } : undefined,
      topK,
      progress: true,
    };
    if (v.model.length > 1) return evaluateMembers(v.model, v.data, options, v.json, views);
    const { model, meta } = await loadModel(v.model[0]!);
    try {
      const r = await evaluate(model, v.data, { ...options, classNames: meta.classNames, ...readOptions(meta) });
      listSkipped('evaluate', r.skipped ?? []);
      if (v.json) {
        console.log(JSON.stringify(r));
      } else {
        console.log(formatEvaluation(r, views).join('\n'));
      }
    } finally {
      model.dispose();
    }
    return 0;
  },
};
export default evaluateCommand;
