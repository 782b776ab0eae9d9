/**
 * The training-tool flags that `train` and `lr-find` share: the learning
 * rate (a number, `auto` for the range test, or `LO:HI` for discriminative
 * fine-tuning rates), `--ema`, `--class-weight` and `--sampling`.
 */
import type { SettingsOverrides } from '../recipes/recipe.js';
import { parseClassWeight } from '../train/class-balance.js';
import type { SamplingMode } from '../train/balanced-sampling.js';
import { ConvkitError } from '../util/errors.js';
import { numberFlag } from './args.js';

export const TRAINING_TOOL_USAGE = `  --learning-rate X|auto|LO:HI
                         a rate; auto: run the learning-rate finder first and train at its suggestion
                         (convnet recipes, features, features-augment); LO:HI (finetune): the earliest
                         unfrozen block at LO, the head at HI, the blocks between spread geometrically
  --ema DECAY            keep an exponential moving average of the weights (e.g. 0.999); each epoch,
                         validation picks the averaged or the trained weights
  --class-weight MODE    auto (default: balanced weights when train/'s largest class has over 1.5× the
                         smallest's images) | balanced | none | JSON weights, e.g. '{"cats": 1, "dogs": 3}'
  --sampling MODE        none (default) | balanced: every epoch draws each class as often as the largest
                         (scratch, augment, features)`;

export const TRAINING_TOOL_OPTIONS = {
  'learning-rate': { type: 'string' },
  ema: { type: 'string' },
  'class-weight': { type: 'string' },
  sampling: { type: 'string' },
} as const;

function positiveRate(value: string, whole: string): number {
  const n = numberFlag(value, 'learning-rate', Number.NaN);
  if (!(n > 0))
    throw new ConvkitError(`invalid --learning-rate: ${JSON.stringify(whole)}`, 'use a positive number such as 1e-4, auto, or LO:HI such as 1e-5:1e-4');
  return n;
}

/** `--learning-rate`: a number, `auto`, or `LO:HI`. */
function learningRateOverrides(value: string | undefined): Pick<SettingsOverrides, 'learningRate' | 'autoLearningRate' | 'lowestLearningRate'> {
  if (value === undefined) return {};
  if (value === 'auto') return { autoLearningRate: true };
  const parts = value.split(':');
  if (parts.length === 1) return { learningRate: positiveRate(value, value) };
  if (parts.length !== 2) throw new ConvkitError(`invalid --learning-rate: ${JSON.stringify(value)}`, 'use a number, auto, or LO:HI such as 1e-5:1e-4');
  const [lo, hi] = [positiveRate(parts[0]!, value), positiveRate(parts[1]!, value)];
  if (!(lo < hi)) throw new ConvkitError(`invalid --learning-rate: ${JSON.stringify(value)}: LO is not below HI`, 'give the lower rate first, e.g. 1e-5:1e-4');
  return { learningRate: hi, lowestLearningRate: lo };
}

/** `--ema`, `--class-weight`, `--sampling` and `--learning-rate` as settings overrides. */
export function trainingToolOverrides(v: { 'learning-rate'?: string; ema?: string; 'class-weight'?: string; sampling?: string }): SettingsOverrides {
  let ema: number | undefined;
  if (v.ema !== undefined) {
    ema = numberFlag(v.ema, 'ema', Number.NaN);
    if (!(ema > 0 && ema < 1)) throw new ConvkitError(`invalid --ema: ${JSON.stringify(v.ema)}`, '--ema takes a decay between 0 and 1, such as 0.999');
  }
  if (v.sampling !== undefined && v.sampling !== 'balanced' && v.sampling !== 'none')
    throw new ConvkitError(`invalid --sampling: ${JSON.stringify(v.sampling)}`, 'use balanced or none');
  return {
    ...learningRateOverrides(v['learning-rate']),
    ema,
    classWeight: v['class-weight'] === undefined ? undefined : parseClassWeight(v['class-weight']),
    // 'none' is the default: leaving it out keeps recipes that cannot sample from refusing it.
    sampling: v.sampling === 'balanced' ? (v.sampling as SamplingMode) : undefined,
  };
}
