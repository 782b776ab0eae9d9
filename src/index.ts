/**
 * convkit's public API. The everyday names are exported at the top level;
 * each layer is also available whole as a namespace (convkit.data,
 * convkit.augment, …) for the mid-level pieces.
 */
export { initBackend, backendInfo, type BackendName, type BackendInfo } from './backend/index.js';
export { ConvkitError } from './util/errors.js';
export { createRng, type Rng } from './util/rng.js';

// Data: class folders → batches.
export { scanImageFolder, flowFromDirectory, loadImageFolder, DirectoryIterator } from './data/index.js';
// Augmentation: Keras's ImageDataGenerator.
export { ImageDataGenerator, sampleTransform, applyTransform, BOOK_AUGMENTATION, type AugmentationSettings, type TransformParams } from './augment/index.js';
// Models: the book's small convnet and the pretrained bases.
export { smallCnn, summary, loadBase, BASE_NAMES } from './models/index.js';
// The Learner: a model with its data (fit, fineTune, evaluate, save).
export { Learner, type LearnerData, type LearnerFitOptions } from './learner/index.js';
// Training, evaluation and saved model folders.
export { fit, evaluate, evaluateEnsemble, predict, saveModel, loadModel, type FitOptions, type FitResult, type EvaluationResult } from './train/index.js';
// Training tools: the learning-rate range test and the class-weight decision.
export { lrFind, chooseClassWeights, type LrFindOptions, type LrFindResult } from './train/index.js';
// Recipes: named set-ups (book and best profiles) run end to end by trainRecipe.
export {
  trainRecipe,
  registerRecipe,
  getRecipe,
  recipeNames,
  type Recipe,
  type RecipeSettings,
  type TrainRecipeOptions,
  type TrainRecipeResult,
} from './recipes/index.js';
// Transfer learning.
export { freeze, unfreeze, fineTune } from './transfer/index.js';
// Export: a trained model as one ONNX or TFLite file (same input, same probabilities).
export { exportModel, exportFormatNames, type ExportOptions, type ExportResult } from './export/index.js';
// Data audit: broken, duplicated, leaked, mislabeled and outlying images; plans applied and undone.
export { runAudit, auditFolder, applyPlan, undoPlan } from './audit/index.js';
// Reports and the end-to-end studies.
export { learningCurves, writeReport, writeTryPage } from './report/index.js';
export { runStudy, runAutoStudy } from './studies/index.js';

export * as backend from './backend/index.js';
export * as data from './data/index.js';
export * as augment from './augment/index.js';
export * as models from './models/index.js';
export * as train from './train/index.js';
export * as transfer from './transfer/index.js';
export * as recipes from './recipes/index.js';
export * as report from './report/index.js';
export * as studies from './studies/index.js';
export * as audit from './audit/index.js';
export * as exporting from './export/index.js';
