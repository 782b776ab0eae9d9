/**
 * fastai's Learner for convkit: one object that holds a model, its training
 * and validation data and what they imply (class names, input size, class
 * mode, resize filter), with fit, freeze/unfreeze, fineTune, evaluate and
 * save. A saved model needs no hand-written metadata: the data knows it.
 */
import type * as tf from '@tensorflow/tfjs';
import type { DirectoryIterator } from '../data/iterator.js';
import { smallCnn, type SmallCnnOptions } from '../models/small-cnn.js';
import { evaluate, type EvaluateOptions, type EvaluationResult } from '../train/evaluate.js';
import { fit, type FitOptions, type FitResult } from '../train/fit.js';
import { lrFind, type LrFindOptions, type LrFindResult } from '../train/lr-find.js';
import { discriminativeMultipliers } from '../transfer/discriminative.js';
import { inputMetaOf, type ConvkitModelMeta, type ModelMetaInput } from '../train/model-meta.js';
import { saveModel } from '../train/saved-model.js';
import { getBase, type PretrainedBase } from '../transfer/bases.js';
import { fineTune, type FineTuneOptions, type FineTuneResult } from '../transfer/fine-tune.js';
import { freeze, unfreeze, type FreezeOptions, type UnfreezeOptions } from '../transfer/freeze.js';
import { buildHead, stitch, truncate, type HeadOptions } from '../transfer/head.js';
import { ConvkitError } from '../util/errors.js';
import { createRng } from '../util/rng.js';

export interface LearnerData {
  /** Training batches (a folder iterator: it knows the class names, size and mode). */
  train: DirectoryIterator;
  /** Scored after every epoch, unaugmented. */
  validation?: DirectoryIterator;
}

/** fit()'s options without what the Learner supplies (epochs, validation data, the epoch to continue from). */
export type LearnerFitOptions = Omit<FitOptions, 'epochs' | 'validationData' | 'initialEpoch'>;

export class Learner {
  readonly model: tf.LayersModel;
  readonly train: DirectoryIterator;
  readonly validation?: DirectoryIterator;
  /** Last layer of the pretrained base, when the model has one: freeze() freezes up to it by default. */
  readonly baseTop?: string;
  /** The pretrained base's blocks, for unfreeze({ blocks }). */
  private baseBlockOf?: (layerName: string) => string | undefined;
  private readonly histories: FitResult[] = [];

  constructor(model: tf.LayersModel, data: LearnerData, baseTop?: string) {
    const [h, w] = data.train.decodeOptions.targetSize;
    const input = model.inputs[0]?.shape;
    if (input && ((input[1] != null && input[1] !== h) || (input[2] != null && input[2] !== w)))
      throw new ConvkitError(
        `the model takes ${input[1]}×${input[2]} images but the training data is read at ${h}×${w}`,
        'give flowFromDirectory the targetSize of the model',
      );
    this.model = model;
    this.train = data.train;
    this.validation = data.validation;
    this.baseTop = baseTop;
  }

  /** The book's small convnet (conv/max-pool blocks 32→64→128→128, Dense 512) sized for the data. */
  static convnet(data: LearnerData, options: Omit<SmallCnnOptions, 'inputShape' | 'numClasses'> = {}): Learner {
    const [h, w] = data.train.decodeOptions.targetSize;
    return new Learner(smallCnn({ ...options, inputShape: [h, w, 3], numClasses: data.train.classNames.length }), data);
  }

  /**
   * A pretrained base (by name, or any PretrainedBase) truncated at its
   * feature layer, frozen, with a new dense head: the book's frozen base
   * inside the model, ready to train on augmented images.
   */
  static async fromBase(base: string | PretrainedBase, data: LearnerData, head: Omit<HeadOptions, 'numClasses'> & { seed?: number } = {}): Promise<Learner> {
    const spec = typeof base === 'string' ? getBase(base) : base;
    const [h, w] = data.train.decodeOptions.targetSize;
    const loaded = await spec.load({ inputSize: [h, w] });
    const features = truncate(loaded.model, loaded.featureLayer);
    const { seed = 1, ...headOptions } = head;
    const top = buildHead(features.outputs[0]!.shape.slice(1) as number[], { rng: createRng(seed), ...headOptions, numClasses: data.train.classNames.length });
    const model = stitch(features, top, `${spec.name}_classifier`);
    const learner = new Learner(model, data, loaded.featureLayer);
    learner.baseBlockOf = spec.blockOf;
    learner.freeze();
    return learner;
  }

  get classNames(): string[] {
    return [...this.train.classNames];
  }

  /** Trains `epochs` more epochs (continuing the epoch count of earlier fits). */
  async fit(epochs: number, options: LearnerFitOptions = {}): Promise<FitResult> {
    const initialEpoch = this.epochsDone();
    const result = await fit(this.model, this.train, { ...options, epochs: initialEpoch + epochs, initialEpoch, validationData: this.validation });
    this.histories.push(result);
    return result;
  }

  /**
   * fastai's fine_tune: `freezeEpochs` with the base frozen, then `epochs`
   * unfrozen at a lower rate (discriminative over the base's blocks with `lrMult` > 1).
   */
  async fineTune(epochs: number, options: Omit<FineTuneOptions, 'epochs' | 'validationData' | 'fitFn' | 'initialEpoch'> = {}): Promise<FineTuneResult> {
    const freezeUpTo = options.freezeUpTo ?? this.baseTop;
    return fineTune(this.model, this.train, {
      blockOf: this.baseBlockOf,
      ...options,
      epochs,
      freezeUpTo,
      fitFn: (_model, _data, o) => this.fit(o.epochs, o),
    });
  }

  /**
   * fastai's lr_find: the learning-rate range test on the training data
   * (see src/train/lr-find.ts); the model's weights are put back afterwards.
   * It draws its batches from the training iterator, which then continues.
   */
  lrFind(options: LrFindOptions = {}): Promise<LrFindResult> {
    return lrFind(this.model, this.train, options);
  }

  /**
   * Discriminative rates for `fit({ learningRate: highest, lrMultipliers })`:
   * the earliest trainable block of the base at `lowest`, the head at
   * `highest`, the blocks between spread geometrically (fastai's slice).
   */
  discriminativeRates(lowest: number, highest: number): { learningRate: number; lrMultipliers: Map<string, number> } {
    return { learningRate: highest, lrMultipliers: discriminativeMultipliers(this.model, { lowest, highest }, this.baseBlockOf) };
  }

  /** Freezes the pretrained base (default), or the layers `options` names. */
  freeze(options?: FreezeOptions): this {
    if (!options && this.baseTop === undefined) throw new ConvkitError('this model has no pretrained base to freeze', 'say what to freeze: freeze({ upTo })');
    freeze(this.model, options ?? { upTo: this.baseTop });
    return this;
  }

  /** Unfreezes the whole model (default) or its top blocks / from a layer on. */
  unfreeze(options: UnfreezeOptions = {}): this {
    unfreeze(this.model, { blockOf: this.baseBlockOf, ...options });
    return this;
  }

  /** Loss, accuracy, confusion matrix and per-class metrics on a class folder (its classes must be the training data's). */
  evaluate(data: string | DirectoryIterator, options: EvaluateOptions = {}): Promise<EvaluationResult> {
    const d = this.train.decodeOptions;
    return evaluate(this.model, data, { classNames: this.classNames, inputSize: d.targetSize, interpolation: d.interpolation, ...options });
  }

  /** Every fit's epochs and logs, as one history. */
  history(): { epoch: number[]; history: Record<string, number[]> } {
    const epoch: number[] = [];
    const history: Record<string, number[]> = {};
    for (const h of this.histories) {
      epoch.push(...h.epoch);
      for (const [k, v] of Object.entries(h.history)) (history[k] ??= []).push(...v);
    }
    return { epoch, history };
  }

  /** Writes a model folder (model.json, weights, convkit.json) that convkit and plain TensorFlow.js load. */
  save(dir: string, extra: Partial<ModelMetaInput> = {}): Promise<ConvkitModelMeta> {
    return saveModel(this.model, dir, { ...this.describe(), history: this.history(), ...extra });
  }

  /** What convkit.json says of the model's input and output, from the training data. */
  describe(): ModelMetaInput {
    const data = { root: this.train.root, train: this.train.n, ...(this.validation && { validation: this.validation.n }) };
    return { ...inputMetaOf(this.train), data };
  }

  private epochsDone(): number {
    const last = this.histories[this.histories.length - 1];
    return last && last.epoch.length ? last.epoch[last.epoch.length - 1]! + 1 : 0;
  }
}
