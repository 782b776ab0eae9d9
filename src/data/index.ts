/** Image folders → decoded, cached, batched tensors; dataset preparation; data benchmarks. */
export { decodeImage, readImageFile, MIN_IMAGE_SIDE, type ColorMode, type Interpolation, type DecodeOptions, type DecodedImage } from './decode.js';
export { isImagePath, IMAGE_EXTENSIONS, READABLE_FORMATS } from './formats.js';
export { scanImageFolder, listImageFiles, subFolderCount, type ImageFile, type ImageFolder, type ScanOptions, type SkippedFile } from './scan.js';
export { ImageCache, decodeBatch, type ImageCacheOptions, type CacheStats, type ResolvedDecodeOptions } from './cache.js';
export {
  DirectoryIterator,
  flowFromDirectory,
  loadImageFolder,
  type Batch,
  type BatchTransform,
  type ClassMode,
  type DirectoryIteratorOptions,
  type LoadImageFolderOptions,
} from './iterator.js';
export { checkData, type DataCheckOptions, type DataCheckResult } from './check.js';
export { prepareSplits, parseSplit, parseRanges, type PrepareOptions, type PrepareResult, type SplitSpec } from './prepare.js';
export { benchData, type BenchDataOptions, type BenchDataResult } from '../bench/data.js';
