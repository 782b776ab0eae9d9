/**
 * The recipes `convkit train --recipe NAME` and the studies know: the
 * built-in ones, listed here explicitly, and any a program adds with
 * registerRecipe().
 */
import { ConvkitError } from '../util/errors.js';
import { augment, scratch } from './convnet.js';
import { PROFILES, type Profile, type Recipe } from './recipe.js';
import { TRANSFER_REGISTRY_RECIPES } from './transfer.js';
import { xception } from './xception.js';
import { xresnet } from './xresnet.js';

// The lecture's five first, in its order; then the from-scratch architectures.
export const BUILTIN_RECIPES: readonly Recipe[] = [scratch, augment, ...TRANSFER_REGISTRY_RECIPES, xception, xresnet];

const registry = new Map<string, Recipe>(BUILTIN_RECIPES.map((r) => [r.name, r]));

export function registerRecipe(recipe: Recipe): void {
  if (!recipe.buildModel && !recipe.run) throw new ConvkitError(`recipe ${recipe.name} has neither buildModel nor run`, 'give the recipe one of them');
  registry.set(recipe.name, recipe);
}

export function recipeNames(): string[] {
  return [...registry.keys()];
}

export function allRecipes(): Recipe[] {
  return [...registry.values()];
}

export function getRecipe(name: string): Recipe {
  const r = registry.get(name);
  if (!r) throw new ConvkitError(`unknown recipe ${JSON.stringify(name)}`, `use one of: ${recipeNames().join(', ')}`);
  return r;
}

export function getProfile(name: string): Profile {
  if (!PROFILES.includes(name as Profile)) throw new ConvkitError(`unknown profile ${JSON.stringify(name)}`, `use one of: ${PROFILES.join(', ')}`);
  return name as Profile;
}
