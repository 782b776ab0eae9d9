/**
 * The strong-augmentation flags, by the names timm uses: `--rand-augment
 * N,M`, `--trivial-augment`, `--random-erasing P` (per image; `train` and
 * `preview`) and `--mixup ALPHA`, `--cutmix ALPHA` (per training batch;
 * `train` only).
 */
import type { StrongAugmentSettings } from '../augment/training-augmentation.js';
import { MAX_MAGNITUDE } from '../augment/options.js';
import { ConvkitError } from '../util/errors.js';
import { numberFlag } from './args.js';

export const PER_IMAGE_AUGMENT_USAGE = `  --rand-augment N,M     RandAugment: N ops (1..14) per image at magnitude M (0..${MAX_MAGNITUDE}, torchvision's scale;
                         timm's m9 is about M 27), e.g. 2,9
  --trivial-augment      TrivialAugment (wide): one op per image at a random magnitude
  --random-erasing P     erase one random box (2%..1/3 of the image) of each image with probability P`;

export const BATCH_MIX_USAGE = `  --mixup ALPHA          MixUp: training batches mixed with a shuffled copy, λ ~ Beta(α, α), e.g. 0.2
  --cutmix ALPHA         CutMix: a box pasted from another training image, labels weighted by its area, e.g. 1
                         (with --mixup, each batch gets one of the two)`;

export const PER_IMAGE_AUGMENT_OPTIONS = {
  'rand-augment': { type: 'string' },
  'trivial-augment': { type: 'boolean' },
  'random-erasing': { type: 'string' },
} as const;

export const BATCH_MIX_OPTIONS = {
  mixup: { type: 'string' },
  cutmix: { type: 'string' },
} as const;

interface AugmentFlags {
  'rand-augment'?: string;
  'trivial-augment'?: boolean;
  'random-erasing'?: string;
  mixup?: string;
  cutmix?: string;
}

function randAugmentFlag(value: string): { numOps: number; magnitude: number } {
  const parts = value.split(',').map((p) => p.trim());
  const [n, m] = parts.map(Number);
  const ok = parts.length === 2 && parts.every((p) => /^\d+$/.test(p)) && n! >= 1 && n! <= 14 && m! <= MAX_MAGNITUDE;
  if (!ok)
    throw new ConvkitError(
      `invalid --rand-augment: ${JSON.stringify(value)}`,
      `give N,M: N ops per image (1..14) and their magnitude M (0..${MAX_MAGNITUDE}), e.g. --rand-augment 2,9`,
    );
  return { numOps: n!, magnitude: m! };
}

function rangedFlag(value: string | undefined, flag: string, ok: (x: number) => boolean, expected: string): number | undefined {
  if (value === undefined) return undefined;
  const x = numberFlag(value, flag, Number.NaN);
  if (!ok(x)) throw new ConvkitError(`invalid --${flag}: ${JSON.stringify(value)}`, `--${flag} must be ${expected}`);
  return x;
}

/** The flags given, as settings (absent flags stay undefined, so a recipe that cannot use one is only asked about those given). */
export function augmentOverrides(v: AugmentFlags): StrongAugmentSettings {
  if (v['rand-augment'] !== undefined && v['trivial-augment'])
    throw new ConvkitError('--rand-augment and --trivial-augment are both given', 'use one of them: TrivialAugment draws one op per image in place of N');
  return {
    randAugment: v['rand-augment'] === undefined ? undefined : randAugmentFlag(v['rand-augment']),
    trivialAugment: v['trivial-augment'] ? true : undefined,
    randomErasing: rangedFlag(v['random-erasing'], 'random-erasing', (x) => x > 0 && x <= 1, 'a probability in (0, 1] such as 0.25'),
    mixup: rangedFlag(v.mixup, 'mixup', (x) => x > 0, 'an α > 0 such as 0.2'),
    cutmix: rangedFlag(v.cutmix, 'cutmix', (x) => x > 0, 'an α > 0 such as 1'),
  };
}
