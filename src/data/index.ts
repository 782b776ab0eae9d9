/** Image folders → decoded, cached, batched tensors; dataset preparation; data benchmarks. */
export { decodeImage, MIN_IMAGE_SIDE, type ColorMode, type Interpolation, type DecodeOptions, type DecodedImage } from './decode.js';
export { scanImageFolder, isImagePath, IMAGE_EXTENSIONS, type ImageFile, type ImageFolder, type ScanOptions, type SkippedFile } from './scan.js';
export { ImageCache, type ImageCacheOptions, type CacheStats, type ResolvedDecodeOptions } from './cache.js';
export {
  DirectoryIterator, flowFromDirectory, loadImageFolder,
  type Batch, type BatchTransform, type ClassMode, type DirectoryIteratorOptions, type LoadImageFolderOptions,
} from './iterator.js';
export { prepareSplits, parseSplit, parseRanges, type PrepareOptions, type PrepareResult, type SplitSpec } from './prepare.js';
export { benchData, type BenchDataOptions, type BenchDataResult } from './benchmark.js';
