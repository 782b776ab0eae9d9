/** Transfer learning: freezing, feature and frozen-prefix caches, heads, recipes, fineTune(). */
export {
  freeze,
  unfreeze,
  setTrainable,
  trainableLayerNames,
  defaultBlockOf,
  firstLayerOfLastBlocks,
  type FreezeOptions,
  type UnfreezeOptions,
} from './freeze.js';
export { guardBatchNorm, guardBatchNormLayer, isFrozen } from './batch-norm.js';
export { leafLayers, layerOutput } from './graph.js';
export { splitModel, type SplitModel } from './split.js';
export { buildHead, stitch, truncate, defaultPooling, outputSpec, type HeadOptions, type Pooling } from './head.js';
export {
  extractFeatures,
  computeActivations,
  featureTensors,
  defaultCacheDir,
  weightsDigest,
  dataDigest,
  readFeatureSet,
  writeFeatureSet,
  type FeatureSet,
  type FeatureSource,
  type FeatureCacheOptions,
} from './feature-cache.js';
export { cachePrefix, frozenPrefixEnd, CachedActivations, type PrefixCache, type PrefixCacheOptions } from './prefix-cache.js';
export { extractFeatureShard, type FeatureShardOptions, type FeatureShardResult } from './shard-extract.js';
export { mergeFeatureShards, type MergeShardsOptions, type MergeShardsResult } from './shard-merge.js';
export { readMergedFeatures, type MergedFeaturesContext, type RunSplit } from './merged-features.js';
export { parseShard, shardFromJobIndex, type ShardSpec } from './shard-spec.js';
export { planData, shardFiles, type DataPlan, type PlannedFile } from './shard-plan.js';
export { fineTune, defaultFreezeUpTo, type FineTuneOptions, type FineTuneResult } from './fine-tune.js';
export { discriminativeMultipliers, trainableGroups, type LayerGroup } from './discriminative.js';
export { getBase, type PretrainedBase, type LoadedPretrainedBase } from './bases.js';
export {
  TRANSFER_RECIPES,
  FEATURES,
  FEATURES_AUGMENT,
  FINETUNE,
  runTransferRecipe,
  findTransferLr,
  type TransferOptions,
  type TransferResult,
  type TransferRecipe,
  type TransferRecipeName,
} from './recipes.js';
