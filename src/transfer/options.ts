/** What the transfer recipes (features, features-augment, finetune) take. */
import type { Callback } from '../train/callbacks.js';
import type { OptimizerName, ScheduleName } from '../train/optimizers.js';
import type { AugmentationSettings } from '../augment/presets.js';
import type { TrainSettings } from '../train/settings.js';
import type { PretrainedBase } from './bases.js';
import type { Pooling } from './head.js';

/** Training settings the transfer recipes take as the small-convnet recipes do. */
type SharedSettings = Pick<
  TrainSettings,
  | 'momentum'
  | 'labelSmoothing'
  | 'stepsPerEpoch'
  | 'validationSteps'
  | 'earlyStoppingPatience'
  | 'reduceLrPatience'
  | 'interpolation'
  | 'autoLearningRate'
  | 'lowestLearningRate'
  | 'ema'
  | 'classWeight'
  | 'sampling'
>;

export interface TransferOptions extends SharedSettings {
  /** Base name (mobilenet_v1, mobilenet_v2, vgg16) or a loaded base; default the `from` model's base, else mobilenet_v1. */
  base?: string | PretrainedBase;
  /** Folder with train/ and validation/ (and optionally test/), one sub-folder per class in each. */
  data: string;
  /** The data folder as the user named it, recorded in convkit.json (default `data`; differs when `data` is a view without bad files). */
  source?: string;
  /** Output model folder. */
  out: string;
  epochs?: number;
  seed?: number;
  batchSize?: number;
  learningRate?: number;
  /** Optimizer (default the book's RMSprop). */
  optimizer?: OptimizerName;
  /** [height, width] (default: the base's). */
  inputSize?: readonly [number, number];
  /** Feature cache folder (default ~/.cache/convkit/features). */
  cacheDir?: string;
  noCache?: boolean;
  /** features: a feature folder merged by `convkit features merge`, read instead of running the base (refused when it does not match the run). */
  features?: string;
  /** Head pooling (default: Flatten for small feature maps, global average pooling otherwise). */
  pooling?: Pooling;
  /** Train on cached frozen-prefix activations (default true). */
  prefixCache?: boolean;
  /** Augmented variants per image in the prefix cache (default 5). */
  variants?: number;
  /** features-augment, finetune: training-set augmentation (default the book's). */
  augmentation?: AugmentationSettings;
  /**
   * finetune: a features-augment model folder to start from (otherwise
   * features-augment runs first). features-augment: a features model whose
   * trained head starts the new one (same base and input size).
   */
  from?: string;
  /** finetune: blocks to unfreeze (default 1: VGG16's block5, MobileNet's last depthwise-separable block; 'all': the whole base). */
  unfreezeBlocks?: number | 'all';
  /** Learning-rate schedule over the run (default constant). */
  schedule?: ScheduleName;
  /** The epoch whose weights are kept, by this validation metric (default val_loss). */
  monitor?: string;
  /** The user's hooks, called after the recipe's own. */
  callbacks?: Callback[];
  /** Stops training after the current batch, and a pass of the base over the images between two batches, when aborted. */
  signal?: AbortSignal;
  /** No progress output. */
  silent?: boolean;
  log?: (line: string) => void;
}
