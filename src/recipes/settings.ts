/**
 * A recipe's settings under a profile with overrides laid over them (from
 * flags, a study's profile or a program). An override the recipe cannot
 * honour is an error naming the option and the recipe: silently training
 * without it would mislead.
 */
import { ConvkitError } from '../util/errors.js';
import type { TrainSettings } from '../train/settings.js';
import type { KnobName, Profile, Recipe, RecipeSettings, SettingsOverrides } from './recipe.js';
import { allRecipes } from './registry.js';

const defined = <T extends object>(o: T): Partial<T> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;

/** How an option is spelled on the command line (`denseUnits` → `--dense-units`), for messages. */
function flagOf(option: string): string {
  const special: Record<string, string> = {
    prefixCache: '--no-prefix-cache',
    autoLearningRate: '--learning-rate auto',
    lowestLearningRate: '--learning-rate LO:HI',
  };
  return special[option] ?? `--${option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** An option `recipe` cannot honour (a knob it does not read, a setting it cannot apply), or undefined. */
function refusedOption(recipe: Recipe, overrides: SettingsOverrides): { option: string; usedBy: string[] } | undefined {
  const knobs = [...Object.keys(defined(overrides.model ?? {})), ...Object.keys(defined(overrides.transfer ?? {}))] as KnobName[];
  const knob = knobs.find((k) => !(recipe.options ?? []).includes(k));
  if (knob !== undefined)
    return {
      option: knob,
      usedBy: allRecipes()
        .filter((r) => r.options?.includes(knob))
        .map((r) => r.name),
    };
  const setting = (recipe.unsupported ?? []).find((k: keyof TrainSettings) => overrides[k] !== undefined);
  if (setting !== undefined)
    return {
      option: setting,
      usedBy: allRecipes()
        .filter((r) => !r.unsupported?.includes(setting))
        .map((r) => r.name),
    };
  return undefined;
}

/** The settings of `recipe` under `profile` with `overrides` applied (undefined fields ignored). */
export function resolveSettings(recipe: Recipe, profile: Profile, overrides: SettingsOverrides = {}): RecipeSettings {
  const refused = refusedOption(recipe, overrides);
  if (refused) {
    const { option, usedBy } = refused;
    throw new ConvkitError(
      `recipe ${recipe.name} cannot use ${flagOf(option)} (${option})`,
      `leave ${flagOf(option)} out${usedBy.length ? `; it applies to recipe ${usedBy.join(', ')}` : ''}`,
    );
  }
  const base = recipe.profiles[profile];
  const { model, transfer, ...run } = defined(overrides);
  return {
    ...base,
    ...run,
    ...((base.model || model) && { model: { ...base.model, ...defined(model ?? {}) } }),
    ...((base.transfer || transfer) && { transfer: { ...base.transfer, ...defined(transfer ?? {}) } }),
  };
}
