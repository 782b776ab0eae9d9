/**
 * Where the inference time goes: the MobileNet v1/v2 classifiers of
 * `convkit bench`'s inference workloads, one batch through convkit (TF.js
 * kernels on the backend initBackend picks, timed by tf.profile) and through
 * onnxruntime-node (its own profiler, 2 intra-op threads), each summed by
 * kernel / op type. Prints the top entries of each side by side, with the
 * wall time and the process's CPU time per run. On a busy machine the wall
 * time says little; on one thread each (OMP_NUM_THREADS=1 and --threads 1)
 * the CPU time is each runtime's own work, whatever else runs:
 *
 *   node --import tsx bench/inference-profile.ts [--batch 32] [--runs 3] [mobilenet_v1_inference ...]
 *   OMP_NUM_THREADS=1 node --import tsx bench/inference-profile.ts --threads 1 --no-profile
 */
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend } from '../src/backend/index.js';
import { benchPixels, INFERENCE_WORKLOAD_NAMES, ONNXRUNTIME_THREADS, prepareInferenceWorkloads, type InferenceWorkloadName } from '../src/bench/inference.js';
import { loadModel } from '../src/train/saved-model.js';

const { values, positionals } = parseArgs({
  options: { batch: { type: 'string' }, runs: { type: 'string' }, threads: { type: 'string' }, 'no-profile': { type: 'boolean' } },
  allowPositionals: true,
});
const batch = Number(values.batch ?? 32);
const runs = Number(values.runs ?? 3);
const threads = { ...ONNXRUNTIME_THREADS, intraOpNumThreads: Number(values.threads ?? ONNXRUNTIME_THREADS.intraOpNumThreads) };
const profile = !values['no-profile'];
/** Process CPU milliseconds (all threads) since `from`. */
const cpuMs = (from: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1000;
};
const names = (positionals.length ? positionals : INFERENCE_WORKLOAD_NAMES) as InferenceWorkloadName[];

const backend = await initBackend();
const dir = mkdtempSync(join(tmpdir(), 'convkit-inference-profile-'));

/** ms per kernel name, summed over `runs` runs and divided by them. */
function perRun(totals: Map<string, number>): [string, number][] {
  return [...totals].map(([k, v]): [string, number] => [k, v / runs]).sort((a, b) => b[1] - a[1]);
}

try {
  const { ready, failed } = await prepareInferenceWorkloads(names, dir);
  for (const [name, why] of Object.entries(failed)) console.log(`${name}: not run (${why})`);
  for (const w of ready) {
    const pixels = benchPixels(batch, w.input);
    // convkit: tf.profile's kernelTimeMs per kernel (the backend's own timer).
    const { model } = await loadModel(w.modelDir);
    const x = tf.tensor4d(pixels, [batch, ...w.input]);
    tf.dispose(model.predict(x) as tf.Tensor); // warm-up: primitive creation, weight packing
    const tfjs = new Map<string, number>();
    let tfjsWall = 0,
      tfjsCpu = 0;
    for (let r = 0; r < runs; r++) {
      const start = performance.now(),
        cpu = process.cpuUsage();
      const run = async () => {
        const y = model.predict(x) as tf.Tensor;
        await y.data();
        y.dispose();
      };
      const info = profile ? await tf.profile(run) : (await run(), { kernels: [] });
      tfjsCpu += cpuMs(cpu);
      tfjsWall += performance.now() - start;
      // "…__op" entries are tfjs-core's op wrappers around the kernels listed beside them: counting both would count twice.
      for (const k of info.kernels) if (!k.name.endsWith('__op')) tfjs.set(k.name, (tfjs.get(k.name) ?? 0) + (Number(k.kernelTimeMs) || 0));
    }
    x.dispose();
    model.dispose();

    // onnxruntime: its profiler's node events, summed by op type.
    const session = await ort.InferenceSession.create(w.onnx, { ...threads, enableProfiling: profile, profileFilePrefix: join(dir, w.name) });
    const feed = { [session.inputNames[0]!]: new ort.Tensor('float32', pixels, [batch, ...w.input]) };
    await session.run(feed); // warm-up
    let ortWall = 0,
      ortCpu = 0;
    for (let r = 0; r < runs; r++) {
      const start = performance.now(),
        cpu = process.cpuUsage();
      await session.run(feed);
      ortCpu += cpuMs(cpu);
      ortWall += performance.now() - start;
    }
    if (profile) session.endProfiling();
    await session.release();
    // onnxruntime-node names the file PREFIX_<date>.json and does not return it.
    const profileFile = readdirSync(dir).find((f) => f.startsWith(`${w.name}_`) && f.endsWith('.json'));
    if (profile && !profileFile) throw new Error(`onnxruntime wrote no profile into ${dir}`);
    const events = (profileFile ? JSON.parse(readFileSync(join(dir, profileFile), 'utf8')) : []) as {
      cat: string;
      name: string;
      dur: number;
      args?: { op_name?: string };
    }[];
    const onnx = new Map<string, number>();
    // The warm-up run is in the profile too: count runs + 1.
    for (const e of events)
      if (e.cat === 'Node' && e.name.endsWith('_kernel_time')) onnx.set(e.args?.op_name ?? e.name, (onnx.get(e.args?.op_name ?? e.name) ?? 0) + e.dur / 1000);
    for (const [k, v] of onnx) onnx.set(k, (v * runs) / (runs + 1));

    const a = perRun(tfjs),
      b = perRun(onnx);
    const sum = (xs: [string, number][]) => xs.reduce((s, [, v]) => s + v, 0);
    console.log(`\n${w.name}, batch ${batch}, ${runs} runs (ms per run); onnxruntime ${threads.intraOpNumThreads} intra-op thread(s)`);
    console.log(
      `  convkit (${backend.name}): ${(tfjsWall / runs).toFixed(1)} ms wall, ${(tfjsCpu / runs).toFixed(1)} ms CPU, kernels ${sum(a).toFixed(1)} ms   |   onnxruntime: ${(ortWall / runs).toFixed(1)} ms wall, ${(ortCpu / runs).toFixed(1)} ms CPU, ops ${sum(b).toFixed(1)} ms`,
    );
    for (let i = 0; i < 10 && (i < a.length || i < b.length); i++) {
      const left = a[i] ? `${a[i]![0].padEnd(26)} ${a[i]![1].toFixed(1).padStart(8)}` : ''.padEnd(35);
      const right = b[i] ? `${b[i]![0].padEnd(26)} ${b[i]![1].toFixed(1).padStart(8)}` : '';
      console.log(`  ${left}   |   ${right}`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
