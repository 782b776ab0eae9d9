import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../backend/index.js';
import { decodeBatch } from '../../data/cache.js';
import { listImageFiles } from '../../data/scan.js';
import { BASE_NAMES, baseSpec } from '../../models/bases.js';
import { imagenetTopK, type ImagenetPrediction } from '../../models/imagenet.js';
import { intFlag, parseCommandArgs } from '../args.js';
import { BadFiles } from '../bad-files.js';
import type { Command } from '../command.js';
import { ConvkitError } from '../../util/errors.js';

const spec = {
  name: 'classify',
  usage: [
    `convkit classify [--base ${BASE_NAMES.join('|')}] IMAGE_OR_DIR... [--top 5] [--json] [--skip-bad]`,
    '  Prints the top ImageNet classes of each image with a pretrained network',
    '  (default mobilenet_v2). Images are resized (bilinear) to 224×224; folders are',
    '  searched recursively. A file that cannot be read gets its own line and the',
    '  others go on; the exit code is then 1.',
    '  --base NAME     the network; vgg16 needs its Keras ImageNet weights (downloaded once)',
    '  --top K         how many classes to print per image (default 5)',
    '  --json          one JSON object per image: {file, predictions: [{classIndex, label, probability}]},',
    '                  or {file, error} for a file that cannot be read',
    '  --skip-bad      files that cannot be read are listed but do not make the exit code 1',
    '  --models-dir D  folder of the pretrained files (default $CONVKIT_MODELS_DIR or ../shared/models)',
  ].join('\n'),
  options: { base: { type: 'string' }, top: { type: 'string' }, json: { type: 'boolean' }, 'models-dir': { type: 'string' }, 'skip-bad': { type: 'boolean' } },
  allowPositionals: true,
} as const;

/** Batches this many images per forward pass. */
const BATCH = 16;

const classify: Command = {
  async run(argv) {
    const { values, positionals } = parseCommandArgs(spec, argv);
    if (values.help) {
      console.log(spec.usage);
      return 0;
    }
    if (!positionals.length) throw new ConvkitError('no image given', `pass one or more image files\n\n${spec.usage}`);
    const base = baseSpec(values.base ?? 'mobilenet_v2');
    const k = intFlag(values.top, 'top', 5, 1);
    const json = values.json ?? false;
    const listed = await listImageFiles(positionals, { skipBad: true });
    const bad = new BadFiles('classify', json);
    listed.skipped.forEach(bad.report);
    await initBackend();
    const modelsDir = values['models-dir'];
    const labels = base.labels(modelsDir);
    const model = await base.load({ includeTop: true, modelsDir });
    const [h, w] = base.inputSize;
    try {
      for (let start = 0; start < listed.files.length; start += BATCH) {
        const { files, pixels } = await decodeBatch(
          listed.files.slice(start, start + BATCH),
          { targetSize: [h, w], colorMode: 'rgb', interpolation: 'bilinear' },
          bad.report,
        );
        if (files.length === 0) continue;
        const probs = tf.tidy(() => model.predict(tf.tensor4d(pixels, [files.length, h, w, 3])) as tf.Tensor);
        const rows = (await probs.array()) as number[][];
        probs.dispose();
        files.forEach((file, i) => print(file, imagenetTopK(rows[i]!, labels, k), json));
      }
    } finally {
      model.dispose();
    }
    return bad.exitCode(values['skip-bad']);
  },
};

function print(file: string, predictions: ImagenetPrediction[], json: boolean): void {
  if (json) {
    console.log(
      JSON.stringify({
        file,
        predictions: predictions.map(({ classIndex, label, probability }) => ({ classIndex, label, probability: Number(probability.toFixed(6)) })),
      }),
    );
    return;
  }
  console.log(file);
  for (const p of predictions) console.log(`  ${(p.probability * 100).toFixed(1).padStart(5)}%  ${String(p.classIndex).padStart(3)}  ${p.label}`);
}

export default classify;
