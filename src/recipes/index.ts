export {
  PROFILES,
  type BuildContext,
  type ConvnetSettings,
  type Profile,
  type Recipe,
  type RecipeRunOptions,
  type RecipeRunResult,
  type RecipeSettings,
  type SettingsOverrides,
  type TransferSettings,
} from './recipe.js';
export { BUILTIN_RECIPES, allRecipes, getProfile, getRecipe, recipeNames, registerRecipe } from './registry.js';
export { resolveSettings } from './settings.js';
export { trainRecipe, type TrainRecipeOptions, type TrainRecipeResult } from './train-recipe.js';
export { lrFindRecipe, type LrFindRecipeOptions, type LrFindRecipeResult } from './lr-find-recipe.js';
