/**
 * The bridge from convkit's batch sources (image folders, in-memory arrays)
 * to `model.fitDataset`: each iteration of the tf.data.Dataset is one
 * epoch, started fresh if the source was part-way through one.
 */
import * as tf from '@tensorflow/tfjs';

export interface EpochBatches {
  /** The rest of the current epoch, or a whole fresh one when it is finished. */
  epoch(): AsyncGenerator<{ x: tf.Tensor4D; y?: tf.Tensor }>;
  /** Ends the current epoch: the next batch starts a new, reshuffled one. */
  reset(): void;
  /** Whether batches of the current epoch have been taken. */
  readonly epochStarted: boolean;
}

export function epochDataset(source: EpochBatches): tf.data.Dataset<{ xs: tf.Tensor4D; ys?: tf.Tensor }> {
  return tf.data.generator(async function* () {
    if (source.epochStarted) source.reset();
    for await (const b of source.epoch()) yield b.y ? { xs: b.x, ys: b.y } : { xs: b.x };
  } as () => AsyncGenerator<{ xs: tf.Tensor4D; ys?: tf.Tensor }>);
}
