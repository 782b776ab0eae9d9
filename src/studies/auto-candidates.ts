/**
 * The auto study's candidates: a head on the features of each available
 * pretrained base, then (on the base whose features validated best) the
 * frozen base with augmentation and fine-tuning, and networks trained from
 * scratch (the small convnet with augmentation, and the xresnet and
 * xception recipes when they are registered). Each runs one recipe with the
 * settings of the quick lecture study, so a whole study fits in minutes on
 * a laptop-class CPU.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir as downloadCacheDir, VGG16_IMAGENET } from '../models/vgg16.js';
import type { Profile, SettingsOverrides } from '../recipes/recipe.js';
import { recipeNames } from '../recipes/registry.js';
import type { PretrainedBase } from '../transfer/bases.js';
import type { CandidateKind } from './auto-estimate.js';

export interface Candidate {
  /** Folder name under candidates/ and the name in the report. */
  name: string;
  kind: CandidateKind;
  recipe: string;
  profile: Profile;
  /** Transfer candidates: the pretrained base. */
  base?: string | PretrainedBase;
  description: string;
  /** Settings laid over the recipe's profile. */
  overrides: SettingsOverrides;
}

/** Recipes trained from scratch, picked up by name when registered (xresnet and xception come from the recipe registry). */
const SCRATCH_RECIPES = ['augment', 'xresnet', 'xception'] as const;

/** The quick lecture study's settings (QUICK in steps.ts), on the recipes' book profile. */
const QUICK_OVERRIDES: Record<string, SettingsOverrides> = {
  features: { imageSize: 224, epochs: 10, batchSize: 32, optimizer: 'adam', learningRate: 1e-3 },
  'features-augment': { imageSize: 224, epochs: 6, batchSize: 32, optimizer: 'adam', learningRate: 1e-3, transfer: { variants: 2 } },
  finetune: { imageSize: 224, epochs: 4, batchSize: 20, learningRate: 1e-5, transfer: { variants: 2 } },
  augment: { imageSize: 80, epochs: 26, batchSize: 32, learningRate: 5e-4 },
};

export const baseNameOf = (base: string | PretrainedBase): string => (typeof base === 'string' ? base : base.name);

/** VGG16 takes part only when its ImageNet weights are already in the download cache (the study never downloads). */
function vgg16WeightsCached(): boolean {
  return existsSync(join(downloadCacheDir(), 'keras-applications', 'vgg16', VGG16_IMAGENET.notop.file));
}

/** The default bases: both MobileNets, and VGG16 when its weights are there. */
export function defaultBases(): string[] {
  return ['mobilenet_v1', 'mobilenet_v2', ...(vgg16WeightsCached() ? ['vgg16'] : [])];
}

/** The default from-scratch recipes: augment, and xresnet and xception when registered. */
export function defaultScratchRecipes(): string[] {
  const known = new Set(recipeNames());
  return SCRATCH_RECIPES.filter((r) => known.has(r));
}

/** `overrides` laid over `base`, the model and transfer sections merged field by field. */
function merge(base: SettingsOverrides, overrides: SettingsOverrides | undefined): SettingsOverrides {
  if (!overrides) return base;
  const model = base.model || overrides.model ? { ...base.model, ...overrides.model } : undefined;
  const transfer = base.transfer || overrides.transfer ? { ...base.transfer, ...overrides.transfer } : undefined;
  return { ...base, ...overrides, ...(model && { model }), ...(transfer && { transfer }) };
}

export function featuresCandidate(base: string | PretrainedBase, extra?: SettingsOverrides): Candidate {
  const name = baseNameOf(base);
  return {
    name: `features-${name}`,
    kind: 'features',
    recipe: 'features',
    profile: 'book',
    base,
    description: `${name} run once over every image (features cached); a dense head trained on the features`,
    overrides: merge(merge(QUICK_OVERRIDES.features!, { transfer: { base } }), extra),
  };
}

/** features-augment on `base`, starting from the head of the features candidate in `featuresDir`. */
export function featuresAugmentCandidate(base: string | PretrainedBase, featuresDir: string, extra?: SettingsOverrides): Candidate {
  const name = baseNameOf(base);
  return {
    name: `features-augment-${name}`,
    kind: 'features-augment',
    recipe: 'features-augment',
    profile: 'book',
    base,
    description: `${name} frozen inside the model, its head (from features-${name}) trained on augmented images`,
    overrides: merge(merge(QUICK_OVERRIDES['features-augment']!, { transfer: { base, from: featuresDir } }), extra),
  };
}

/** finetune from the features-augment candidate in `fromDir`. */
export function finetuneCandidate(base: string | PretrainedBase, fromDir: string, extra?: SettingsOverrides): Candidate {
  const name = baseNameOf(base);
  return {
    name: `finetune-${name}`,
    kind: 'finetune',
    recipe: 'finetune',
    profile: 'book',
    base,
    description: `features-augment-${name} with the base's top block unfrozen, trained at a low learning rate`,
    overrides: merge(merge(QUICK_OVERRIDES.finetune!, { transfer: { base, from: fromDir } }), extra),
  };
}

/** A network trained from scratch: the small convnet at the quick study's settings, another recipe at its best profile. */
export function scratchCandidate(recipe: string, summary: string, extra?: SettingsOverrides): Candidate {
  const quick = QUICK_OVERRIDES[recipe];
  return {
    name: recipe,
    kind: 'scratch',
    recipe,
    profile: quick ? 'book' : 'best',
    description: `trained from scratch: ${summary}`,
    overrides: merge(quick ?? {}, extra),
  };
}
