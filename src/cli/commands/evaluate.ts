import { initBackend } from '../../backend/index.js';
import { evaluate } from '../../train/evaluate.js';
import { modelReadOptions } from '../../train/predict.js';
import { loadModel } from '../../train/saved-model.js';
import { ConvkitError } from '../../util/errors.js';
import { intFlag, parseCommandArgs } from '../args.js';
import { listSkipped } from '../bad-files.js';
import { formatEvaluation } from '../evaluation-text.js';
import type { Command } from '../command.js';

const spec = {
  name: 'evaluate',
  usage: `convkit evaluate --model MODEL_DIR --data DIR [--json] [--tta K] [--top-k K] [--batch-size N] [--seed N] [--skip-bad]
  Scores a trained model on DIR (one sub-folder per class, named as the model's classes):
  loss, accuracy, balanced accuracy (mean per-class recall), top-k accuracy (more than 5 classes),
  confusion matrix [true][predicted], per-class precision/recall/F1, ROC AUC (two classes).
  Up to 12 classes the text shows the whole matrix; with more, the classes worst recall first
  and the most confused pairs (--json has everything).
  Images are read as the model was trained (convkit.json's inputSize, colorMode and interpolation).
  --tta K     average K views per image (the original and K-1 augmented ones)
  --top-k K   k of the top-k accuracy, below the number of classes (default 5 with more than 5 classes)
  --skip-bad  leave out images that cannot be read (listed on stderr and in --json's "skipped") instead of stopping`,
  options: {
    model: { type: 'string' },
    data: { type: 'string' },
    json: { type: 'boolean' },
    tta: { type: 'string' },
    'top-k': { type: 'string' },
    'batch-size': { type: 'string' },
    seed: { type: 'string' },
    'skip-bad': { type: 'boolean' },
  },
} as const;

const evaluateCommand: Command = {
  async run(argv) {
    const { values: v } = parseCommandArgs(spec, argv);
    if (v.help) {
      console.log(spec.usage);
      return 0;
    }
    if (!v.model) throw new ConvkitError('--model is required', 'pass the folder written by "convkit train --out"');
    if (!v.data) throw new ConvkitError('--data is required', 'pass a folder with one sub-folder per class');
    const views = intFlag(v.tta, 'tta', 1, 1);
    const topK = v['top-k'] === undefined ? undefined : intFlag(v['top-k'], 'top-k', 5, 1);
    await initBackend();
    const { model, meta } = await loadModel(v.model);
    try {
      const { targetSize, colorMode, interpolation } = modelReadOptions(meta);
      const r = await evaluate(model, v.data, {
        classNames: meta.classNames,
        batchSize: intFlag(v['batch-size'], 'batch-size', 32, 1),
        seed: intFlag(v.seed, 'seed', 1, 0),
        inputSize: targetSize,
        colorMode,
        interpolation,
        skipBad: v['skip-bad'],
        tta: views > 1 ? { views } : undefined,
        topK,
        progress: true,
      });
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
