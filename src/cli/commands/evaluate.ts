import { initBackend } from '../../backend/index.js';
import { evaluate } from '../../train/evaluate.js';
import { loadModel } from '../../train/saved-model.js';
import { ConvkitError } from '../../util/errors.js';
import { intFlag, parseCommandArgs } from '../args.js';
import type { Command } from '../main.js';

const spec = {
  name: 'evaluate',
  usage: `convkit evaluate --model MODEL_DIR --data DIR [--json] [--tta K] [--batch-size N] [--seed N]
  Scores a trained model on DIR (one sub-folder per class, named as the model's classes):
  loss, accuracy, confusion matrix [true][predicted], per-class precision/recall/F1, ROC AUC (two classes).
  --tta K   average K views per image (the original and K-1 augmented ones)`,
  options: { model: { type: 'string' }, data: { type: 'string' }, json: { type: 'boolean' }, tta: { type: 'string' }, 'batch-size': { type: 'string' }, seed: { type: 'string' } },
} as const;

const evaluateCommand: Command = {
  async run(argv) {
    const { values: v } = parseCommandArgs(spec, argv);
    if (v.help) { console.log(spec.usage); return 0; }
    if (!v.model) throw new ConvkitError('--model is required', 'pass the folder written by "convkit train --out"');
    if (!v.data) throw new ConvkitError('--data is required', 'pass a folder with one sub-folder per class');
    const views = intFlag(v.tta, 'tta', 1, 1);
    await initBackend();
    const { model, meta } = await loadModel(v.model);
    try {
      const r = await evaluate(model, v.data, {
        classNames: meta.classNames, batchSize: intFlag(v['batch-size'], 'batch-size', 32, 1), seed: intFlag(v.seed, 'seed', 1, 0),
        interpolation: meta.preprocessing.interpolation as 'bilinear' | undefined, colorMode: meta.colorMode, tta: views > 1 ? { views } : undefined, progress: true,
      });
      if (v.json) {
        console.log(JSON.stringify(r));
      } else {
        console.log(`accuracy ${r.accuracy.toFixed(4)}  loss ${r.loss.toFixed(4)}  n ${r.n}${r.rocAuc !== undefined ? `  ROC AUC ${r.rocAuc.toFixed(4)}` : ''}${views > 1 ? `  (${views}-view TTA)` : ''}`);
        const w = Math.max(10, ...r.classNames.map((c) => c.length)) + 2;
        console.log(`\nconfusion (rows: true, columns: predicted)\n${''.padEnd(w)}${r.classNames.map((c) => c.padStart(w)).join('')}`);
        r.confusion.forEach((row, i) => console.log(`${r.classNames[i]!.padEnd(w)}${row.map((n) => String(n).padStart(w)).join('')}`));
        console.log(`\n${'class'.padEnd(w)}${['precision', 'recall', 'f1', 'support'].map((h) => h.padStart(11)).join('')}`);
        for (const c of r.perClass) console.log(`${c.className.padEnd(w)}${[c.precision, c.recall, c.f1].map((x) => x.toFixed(4).padStart(11)).join('')}${String(c.support).padStart(11)}`);
      }
    } finally {
      model.dispose();
    }
    return 0;
  },
};
export default evaluateCommand;
