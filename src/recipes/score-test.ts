/**
 * Scoring a saved model on DIR/test, the same for every recipe: plainly,
 * and with test-time augmentation when the settings ask for it, TTA's worth
 * judged on DIR/validation (the test set chooses nothing).
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Interpolation } from '../data/decode.js';
import { splitFolder } from '../data/splits.js';
import { evaluate, type EvaluationResult } from '../train/evaluate.js';
import { loadModel } from '../train/saved-model.js';
import { chooseTta, type TtaChoice } from '../train/tta.js';

async function isDir(path: string): Promise<boolean> {
  return fs.stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

/** Strips bulky per-image data for convkit.json. */
function summarize(e: EvaluationResult): Record<string, unknown> {
  const { predictions: _p, ...rest } = e;
  return rest;
}

export type Scored = { test?: EvaluationResult; testTta?: EvaluationResult; ttaChoice?: TtaChoice };

/** What convkit.json's metrics keep of the scores. */
export function scoredMetrics(s: Scored): Record<string, unknown> {
  return {
    ...(s.test && { test: summarize(s.test) }),
    ...(s.testTta && { testTta: summarize(s.testTta) }),
    ...(s.ttaChoice && { ttaChoice: s.ttaChoice }),
  };
}

/**
 * The saved model in `out` scored on data/test when there is one: plainly, and
 * with TTA when asked, TTA's worth being judged on data/validation first. The
 * plain validation pass is run again rather than taken from fit, whose loss
 * carries label smoothing and whose pass may be a sample (validationSteps).
 */
export async function scoreTest(
  out: string,
  data: string,
  o: { classNames: string[]; batchSize: number; interpolation: Interpolation; seed: number; verbose: boolean; ttaViews?: number },
): Promise<Scored> {
  if (!(await isDir(join(data, 'test')))) return {};
  const saved = await loadModel(out);
  try {
    const evalOpts = { classNames: o.classNames, batchSize: o.batchSize, interpolation: o.interpolation, seed: o.seed, progress: o.verbose };
    // Per-image predictions of the plain pass stay in the result (a study lists the most confident mistakes), not in convkit.json.
    const test = await evaluate(saved.model, join(data, 'test'), { ...evalOpts, keepPredictions: true });
    const views = o.ttaViews ?? 1;
    if (views === 1) return { test };
    const withTta = { ...evalOpts, tta: { views } };
    let ttaChoice: TtaChoice | undefined;
    const validation = splitFolder(data, 'validation');
    if (await isDir(validation)) {
      ttaChoice = chooseTta(views, await evaluate(saved.model, validation, evalOpts), await evaluate(saved.model, validation, withTta));
    }
    return { test, testTta: await evaluate(saved.model, join(data, 'test'), withTta), ttaChoice };
  } finally {
    saved.model.dispose();
  }
}
