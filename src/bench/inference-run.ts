/**
 * Timing one inference workload in a bench child: the convkit model folder
 * through TF.js model.predict (this process's backend), or the exported ONNX
 * file through onnxruntime-node. Both read back the probabilities inside the
 * timed region, and both get the same seeded pixels, already in memory.
 */
import * as tf from '@tensorflow/tfjs';
import type * as Ort from 'onnxruntime-node';
import { loadModel } from '../train/saved-model.js';
import { median } from '../util/stats.js';
import { benchPixels, LARGE_BATCH, ONNXRUNTIME_THREADS, type InferenceReps, type InferenceResult, type InferenceWorkload } from './inference.js';

type Predict = (batch: 1 | typeof LARGE_BATCH) => Promise<void>;

async function timeBatches(predict: Predict, reps: InferenceReps, onRep?: () => void): Promise<InferenceResult> {
  const time = async (batch: 1 | typeof LARGE_BATCH, { warmup, reps: n }: { warmup: number; reps: number }) => {
    const times: number[] = [];
    for (let r = 0; r < warmup + n; r++) {
      const start = performance.now();
      await predict(batch);
      if (r >= warmup) times.push(performance.now() - start);
      onRep?.();
    }
    return times;
  };
  const single = await time(1, reps.latency);
  const large = await time(LARGE_BATCH, reps.throughput);
  return {
    batch1_ms: median(single),
    batch32_images_per_s: LARGE_BATCH / (median(large) / 1000),
    latency_reps: single.length,
    throughput_reps: large.length,
  };
}

/** Total runs per workload, for progress bars. */
export function repCount(reps: InferenceReps): number {
  return reps.latency.warmup + reps.latency.reps + reps.throughput.warmup + reps.throughput.reps;
}

/** convkit-native: loads the model folder (checked as `convkit predict` does) and times model.predict. */
export async function timeConvkitInference(w: InferenceWorkload, reps: InferenceReps, onRep?: () => void): Promise<InferenceResult> {
  const { model } = await loadModel(w.modelDir);
  const inputs = {
    1: tf.tensor4d(benchPixels(1, w.input), [1, ...w.input]),
    [LARGE_BATCH]: tf.tensor4d(benchPixels(LARGE_BATCH, w.input), [LARGE_BATCH, ...w.input]),
  };
  try {
    return await timeBatches(
      async (batch) => {
        const out = model.predict(inputs[batch]) as tf.Tensor;
        await out.data();
        out.dispose();
      },
      reps,
      onRep,
    );
  } finally {
    tf.dispose(Object.values(inputs));
    model.dispose();
  }
}

/** onnxruntime-node (or the package `specifier` names), or why it cannot be loaded: it is a devDependency, absent from production installs. */
export async function loadOnnxRuntime(specifier = 'onnxruntime-node'): Promise<typeof Ort | string> {
  try {
    return (await import(specifier)) as typeof Ort;
  } catch (err) {
    return `${specifier} cannot be imported (${(err as Error).message.split('\n')[0]}); install it with npm install --save-dev onnxruntime-node`;
  }
}

/** onnxruntime on the exported file, 2 intra-op threads and 1 inter-op thread. */
export async function timeOnnxRuntimeInference(ort: typeof Ort, w: InferenceWorkload, reps: InferenceReps, onRep?: () => void): Promise<InferenceResult> {
  const session = await ort.InferenceSession.create(w.onnx, { ...ONNXRUNTIME_THREADS, executionMode: 'sequential', graphOptimizationLevel: 'all' });
  const feeds = {
    1: { [session.inputNames[0]!]: new ort.Tensor('float32', benchPixels(1, w.input), [1, ...w.input]) },
    [LARGE_BATCH]: { [session.inputNames[0]!]: new ort.Tensor('float32', benchPixels(LARGE_BATCH, w.input), [LARGE_BATCH, ...w.input]) },
  };
  try {
    return await timeBatches(
      async (batch) => {
        const out = await session.run(feeds[batch]);
        void out[session.outputNames[0]!]!.data;
      },
      reps,
      onRep,
    );
  } finally {
    await session.release();
  }
}
