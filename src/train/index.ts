/** Training: fit glue over tf.LayersModel, callbacks, metrics, evaluation, prediction, saved-model folders, recipes. */
export { fit, evaluateLossAcc, NonFiniteLossError, type FitOptions, type FitResult, type StopReason } from './fit.js';
export {
  lrFind,
  smoothLosses,
  valleyIndex,
  steepestIndex,
  suggestLearningRate,
  summarizeLrFind,
  type LrFindOptions,
  type LrFindResult,
  type LrSuggestionMethod,
} from './lr-find.js';
export { WeightEma, chooseEmaLogs, type EmaOptions } from './ema.js';
export { GroupedOptimizer, groupedOptimizer } from './lr-groups.js';
export {
  chooseClassWeights,
  balancedWeights,
  classCounts,
  parseClassWeight,
  IMBALANCE_RATIO,
  type ClassWeightChoice,
  type ClassWeightSetting,
} from './class-balance.js';
export { balancedOrder, BalancedTensorBatches, BalancedFolderBatches, type SamplingMode } from './balanced-sampling.js';
export {
  batchStream,
  isTensorData,
  isBatchIterator,
  sampleCount,
  stepsPerPass,
  filePath,
  type BatchData,
  type BatchIteratorLike,
  type LabeledBatch,
  type TensorData,
} from './batches.js';
export {
  ProgressLogger,
  CSVLogger,
  JSONHistoryLogger,
  ModelCheckpoint,
  KeepBestWeights,
  EarlyStopping,
  ReduceLROnPlateau,
  historyToCsv,
  resolveMode,
  type Callback,
  type History,
  type Logs,
  type TrainingState,
  type MonitorMode,
  type ModelCheckpointOptions,
  type EarlyStoppingOptions,
  type ReduceLROnPlateauOptions,
  type ProgressLoggerOptions,
} from './callbacks.js';
export { computeLoss, countCorrect, inferClassMode, prepareLabels, classProbabilities, type LabelMode } from './losses.js';
export {
  makeOptimizer,
  makeSchedule,
  getLearningRate,
  setLearningRate,
  OPTIMIZERS,
  SCHEDULES,
  type OptimizerName,
  type Schedule,
  type ScheduleName,
} from './optimizers.js';
export {
  confusionMatrix,
  perClassMetrics,
  accuracyOf,
  balancedAccuracy,
  topKAccuracy,
  mostConfusedPairs,
  rocAuc,
  crossEntropy,
  type ClassMetrics,
  type ConfusedPair,
} from './metrics.js';
export { evaluate, checkClassNames, type EvaluateOptions, type EvaluationResult, type ImagePrediction } from './evaluate.js';
export { evaluateEnsemble, predictEnsemble, type EnsembleMember, type EnsembleEvaluation } from './ensemble.js';
export { predict, modelReadOptions, type Prediction, type PredictOptions } from './predict.js';
export { predictProbabilities, ttaTransform, DEFAULT_TTA_AUGMENTATION, type TtaOptions, type TtaChoice } from './tta.js';
export {
  saveModel,
  loadModel,
  readModelMeta,
  updateModelMeta,
  fileSystem,
  checkWeightBytes,
  checkMeta,
  makeMeta,
  MODEL_FILE,
  META_FILE,
  META_FORMAT,
  META_VERSION,
  type ConvkitModelMeta,
  type ModelMetaInput,
  type LoadedModel,
} from './saved-model.js';
export type { TrainSettings } from './settings.js';
