/** Model builders and importers. */
export { smallCnn, minSmallCnnSide, type SmallCnnOptions } from './small-cnn.js';
export { miniXception, type MiniXceptionOptions } from './xception.js';
export { xresnet, type XResNetOptions } from './xresnet.js';
export { summary, paramCounts, type ParamCounts } from './summary.js';
// Pretrained bases and importers.
export { readModelArtifacts, writeModelArtifacts, loadLayersModelFromFile, loadLayers, modelJsonPath, type ReadOptions } from './fs-io.js';
export { loadMobileNetV1, readMobileNetV1Labels, MOBILENET_V1_DIR, MOBILENET_V1_FEATURE_LAYER, type MobileNetV1Options } from './mobilenet-v1.js';
export {
  loadMobileNetV2,
  readMobileNetV2Labels,
  mobileNetV2File,
  MOBILENET_V2_DIR,
  MOBILENET_V2_FILES,
  type MobileNetV2Options,
  type MobileNetV2Variant,
  type LoadedMobileNetV2,
} from './mobilenet-v2.js';
export {
  buildVgg16,
  loadVgg16,
  caffePreprocessLayer,
  vgg16ImagenetWeights,
  cacheDir,
  md5File,
  CAFFE_MEAN_BGR,
  VGG16_BLOCKS,
  VGG16_FEATURE_LAYER,
  VGG16_IMAGENET,
  type Vgg16Options,
} from './vgg16.js';
export {
  readKerasH5Weights,
  loadKerasH5Weights,
  setWeightsByName,
  weightsOf,
  h5wasmModule,
  type H5Weights,
  type H5Weight,
  type LoadWeightsOptions,
} from './keras-h5.js';
export { topK, imagenetTopK, type ImagenetPrediction } from './imagenet.js';
export {
  BASES,
  BASE_NAMES,
  baseSpec,
  loadBase,
  modelsDir,
  blocksOf,
  type BaseName,
  type BaseSpec,
  type BaseLoadOptions,
  type LoadedBase,
  type Block,
} from './bases.js';
export * from './tflite/index.js';
