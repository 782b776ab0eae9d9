/**
 * The pretrained bases transfer learning starts from: src/models' registry
 * (models/bases.ts) seen through the small interface the recipes need, so a
 * recipe can also run on any other base (tests use a tiny one).
 */
import type * as tf from '@tensorflow/tfjs';
import { baseSpec, loadBase, type Block } from '../models/bases.js';
import { baseParts, COMBINED_FEATURE_LAYER, loadCombinedBase } from './combined-base.js';

export interface LoadedPretrainedBase {
  /** Raw RGB 0..255 in (preprocessing inside); the feature layer reachable. */
  model: tf.LayersModel;
  /** Layer whose output is the features. */
  featureLayer: string;
  /** Blocks from input to output (for unfreezing the top ones). */
  blocks?: Block[];
}

export interface PretrainedBase {
  name: string;
  inputSize: readonly [number, number];
  /** First layer of the block fine-tuning unfreezes (default: the last block by layer names). */
  fineTuneFrom?: string;
  /** The block a layer belongs to, for unfreezing the top blocks (default: defaultBlockOf). */
  blockOf?: (layerName: string) => string | undefined;
  load(options?: { inputSize?: readonly [number, number] }): Promise<LoadedPretrainedBase>;
  /** The registry bases a combined base joins ("a+b"); absent for one base. */
  parts?: readonly string[];
}

/**
 * Looks up a base of the registry by name (ConvkitError listing the choices
 * when unknown); "a+b" joins bases' features side by side (combined-base.ts).
 */
export function getBase(name: string): PretrainedBase {
  const parts = baseParts(name);
  if (parts.length > 1) {
    const inputSize = baseSpec(parts[0]!).inputSize;
    return {
      name: parts.join('+'),
      inputSize,
      parts,
      load: async (options = {}) => ({ model: await loadCombinedBase(parts, options.inputSize ?? inputSize), featureLayer: COMBINED_FEATURE_LAYER }),
    };
  }
  const spec = baseSpec(name);
  return {
    name: spec.name,
    inputSize: spec.inputSize,
    fineTuneFrom: spec.fineTuneFrom,
    blockOf: spec.blockOf,
    load: (options = {}) => loadBase(name, { inputSize: options.inputSize }),
  };
}
