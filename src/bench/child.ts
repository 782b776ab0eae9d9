/**
 * Child process of `convkit bench`: starts the backend named by
 * CONVKIT_BACKEND, times the workloads passed as JSON in argv[2] and prints
 * one JSON line on stdout. Progress goes to stderr. With
 * CONVKIT_BENCH_RUNTIME=onnxruntime it times only the inference workloads'
 * ONNX files, through onnxruntime-node.
 *
 * An entry point only: importing it runs the bench and exits the process.
 */
import { initBackend, type BackendName } from '../backend/index.js';
import { ONNXRUNTIME_THREADS, type InferenceReps, type InferenceResult, type InferenceWorkload } from './inference.js';
import { loadOnnxRuntime, repCount, timeConvkitInference, timeOnnxRuntimeInference } from './inference-run.js';
import { runGraphWorkload, runWorkload, type Calibration, type ChildReply, type ChildRequest, type RunOptions, type WorkloadResult } from './run.js';
import { Progress } from '../util/progress.js';

/** Times the inference workloads with `time`, one progress bar each. */
async function timeInference(
  request: ChildRequest,
  label: string,
  time: (w: InferenceWorkload, reps: InferenceReps, onRep: () => void) => Promise<InferenceResult>,
): Promise<Record<string, InferenceResult | { error: string }>> {
  const results: Record<string, InferenceResult | { error: string }> = {};
  const reps = request.inferenceReps!;
  for (const w of request.inference ?? []) {
    const progress = new Progress({ total: repCount(reps), label: `${label} ${w.name}`, unit: 'run', silent: request.quiet });
    try {
      results[w.name] = await time(w, reps, () => progress.tick());
      progress.finish();
    } catch (err) {
      progress.finish('failed');
      results[w.name] = { error: (err as Error).message.split('\n')[0]! };
    }
  }
  return results;
}

/** The onnxruntime child: only the inference workloads, on the exported files. */
async function onnxRuntimeChild(request: ChildRequest): Promise<ChildReply> {
  const reply: ChildReply = { backend: 'onnxruntime', results: {} };
  const ort = await loadOnnxRuntime();
  if (typeof ort === 'string') return { ...reply, unavailable: ort };
  reply.threads = ONNXRUNTIME_THREADS.intraOpNumThreads;
  reply.details = { onnxruntime: ort.env.versions.node ?? ort.env.versions.common, interOpThreads: String(ONNXRUNTIME_THREADS.interOpNumThreads) };
  reply.inference = await timeInference(request, 'onnxruntime', (w, reps, onRep) => timeOnnxRuntimeInference(ort, w, reps, onRep));
  return reply;
}

/** The FMA peak and the clock on 1 thread and on the backend's threads (native/peak.h): a second or two, longer on a busy machine. */
async function calibrate(threads: number): Promise<Calibration | undefined> {
  const { activeNativeAddon } = await import('../backend/native.js');
  const addon = activeNativeAddon();
  if (!addon || typeof addon.calibrate !== 'function') return undefined;
  // Many short runs, the best kept: on a shared machine some of them run undisturbed.
  const one = addon.calibrate(1, 0.005, 100);
  const all = addon.calibrate(threads, 0.005, 100);
  return { threads, fmaGflops1: one.gflops, fmaGflops: all.gflops, ghz1: one.ghz, ghz: all.ghz, isa: all.isa, flopsPerInstruction: all.flopsPerInstruction };
}

/** Times one workload with a progress bar; a failure becomes its error entry. */
async function timed(label: string, opts: RunOptions, quiet: boolean | undefined, run: (onRep: () => void) => Promise<WorkloadResult>) {
  const progress = new Progress({ total: opts.warmup + opts.reps, label, unit: 'rep', silent: quiet });
  try {
    const result = await run(() => progress.tick());
    progress.finish();
    return result;
  } catch (err) {
    progress.finish('failed');
    return { error: (err as Error).message.split('\n')[0]! };
  }
}

async function main(): Promise<void> {
  const request = JSON.parse(process.argv[2] ?? '{}') as ChildRequest;
  if (process.env.CONVKIT_BENCH_RUNTIME === 'onnxruntime') {
    console.log(JSON.stringify(await onnxRuntimeChild(request)));
    return;
  }
  const name = (process.env.CONVKIT_BACKEND ?? 'wasm') as BackendName;
  const reply: ChildReply = { backend: name, results: {} };
  try {
    const info = await initBackend(name, () => {});
    reply.threads = info.threads;
    reply.details = info.details;
  } catch (err) {
    reply.unavailable = (err as Error).message.split('\n')[0];
    console.log(JSON.stringify(reply));
    return;
  }
  if (request.calibrate && name === 'native') reply.calibration = await calibrate(reply.threads ?? 1);
  for (const w of request.workloads) {
    const opts = w.mode === 'forward' ? request.forward : request.train;
    reply.results[w.name] = await timed(`${name} ${w.name}`, opts, request.quiet, (onRep) => runWorkload(w, opts, onRep));
  }
  for (const w of request.graphs ?? []) {
    reply.results[w.name] = await timed(`${name} ${w.name}`, request.train, request.quiet, (onRep) => runGraphWorkload(w, request.train, onRep));
  }
  if (request.inference?.length) reply.inference = await timeInference(request, name, timeConvkitInference);
  console.log(JSON.stringify(reply));
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
