/**
 * The inference workloads of `convkit bench`: a convkit transfer-learning
 * classifier (MobileNet v1 or v2 base with ImageNet weights + the convkit
 * head, seeded) saved as a convkit model folder and exported to ONNX, then
 * timed in two child processes: convkit-native (TF.js model.predict on the
 * native backend) and onnxruntime-node on the exported file (2 intra-op
 * threads, 1 inter-op). Each reports the median batch-1 latency and the
 * batch-32 throughput on the same seeded pixels.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export type InferenceWorkloadName = 'mobilenet_v1_inference' | 'mobilenet_v2_inference';
export const INFERENCE_WORKLOAD_NAMES: readonly InferenceWorkloadName[] = ['mobilenet_v1_inference', 'mobilenet_v2_inference'];
/** The runtimes timed on the inference workloads. */
export type InferenceRuntime = 'native' | 'onnxruntime';
export const INFERENCE_RUNTIMES: readonly InferenceRuntime[] = ['native', 'onnxruntime'];
/** onnxruntime's threads: two intra-op (the 2-core machine's cores), one inter-op. */
export const ONNXRUNTIME_THREADS = { intraOpNumThreads: 2, interOpNumThreads: 1 } as const;
export const LARGE_BATCH = 32;

const BASES: Record<InferenceWorkloadName, { base: 'mobilenet_v1' | 'mobilenet_v2'; title: string }> = {
  mobilenet_v1_inference: { base: 'mobilenet_v1', title: 'MobileNet v1 0.75 + convkit head (224 px, sigmoid): predict' },
  mobilenet_v2_inference: { base: 'mobilenet_v2', title: 'MobileNet v2 1.0 + convkit head (224 px, sigmoid): predict' },
};

export function inferenceTitle(name: InferenceWorkloadName): string {
  return BASES[name].title;
}

/** One prepared inference workload: the same classifier as a convkit model folder and as an ONNX file. */
export interface InferenceWorkload {
  name: InferenceWorkloadName;
  title: string;
  modelDir: string;
  onnx: string;
  onnxBytes: number;
  /** [height, width, channels] of one image. */
  input: [number, number, number];
}

export interface InferenceReps {
  /** Batch-1 runs: untimed, then timed (the median is the latency). */
  latency: { warmup: number; reps: number };
  /** Batch-32 runs: untimed, then timed (the median gives images/s). */
  throughput: { warmup: number; reps: number };
}

export function inferenceReps(quick: boolean): InferenceReps {
  return quick
    ? { latency: { warmup: 2, reps: 10 }, throughput: { warmup: 1, reps: 2 } }
    : { latency: { warmup: 5, reps: 30 }, throughput: { warmup: 1, reps: 5 } };
}

export interface InferenceResult {
  /** Median milliseconds of one batch-1 prediction. */
  batch1_ms: number;
  /** Images per second at batch 32, from the median batch time. */
  batch32_images_per_s: number;
  latency_reps: number;
  throughput_reps: number;
}

/**
 * Builds each classifier (pretrained base from the models folder + a seeded
 * convkit head) into `dir` as a model folder and an ONNX file. A base whose
 * files are missing gives an error entry instead.
 */
export async function prepareInferenceWorkloads(
  names: readonly InferenceWorkloadName[],
  dir: string,
): Promise<{ ready: InferenceWorkload[]; failed: Record<string, string> }> {
  const { loadBase, modelsDir } = await import('../models/bases.js');
  const { buildHead, stitch, truncate } = await import('../transfer/head.js');
  const { saveModel } = await import('../train/saved-model.js');
  const { exportModel } = await import('../export/index.js');
  const { createRng } = await import('../util/rng.js');
  const ready: InferenceWorkload[] = [];
  const failed: Record<string, string> = {};
  for (const name of names) {
    const { base, title } = BASES[name];
    try {
      if (!existsSync(modelsDir())) throw new Error(`the pretrained models folder ${modelsDir()} does not exist (set CONVKIT_MODELS_DIR)`);
      const loaded = await loadBase(base);
      const features = truncate(loaded.model, loaded.featureLayer);
      const head = buildHead(features.outputs[0]!.shape.slice(1) as number[], { numClasses: 2, rng: createRng(1) });
      const model = stitch(features, head, `${base}_classifier`);
      const modelDir = join(dir, name);
      const meta = {
        classNames: ['cats', 'dogs'],
        inputSize: loaded.inputSize,
        colorMode: 'rgb' as const,
        classMode: 'binary' as const,
        preprocessing: { input: 'RGB pixels as floats in [0, 255]' },
      };
      await saveModel(model, modelDir, meta);
      const onnx = join(dir, `${name}.onnx`);
      const exported = await exportModel(model, { format: 'onnx', out: onnx, meta });
      ready.push({ name, title, modelDir, onnx, onnxBytes: exported.bytes, input: [loaded.inputSize[0], loaded.inputSize[1], 3] });
      model.dispose();
    } catch (err) {
      failed[name] = (err as Error).message.split('\n')[0]!;
    }
  }
  return { ready, failed };
}

/** Seeded pixels 0..255 (a linear congruential sequence), the same in every child. */
export function benchPixels(n: number, [h, w, c]: readonly [number, number, number]): Float32Array {
  let s = 12345;
  return Float32Array.from({ length: n * h * w * c }, () => ((s = (s * 1103515245 + 12345) % 2 ** 31), s % 256));
}
