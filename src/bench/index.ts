/**
 * `convkit bench`: the same four workloads on convkit-native, convkit-wasm
 * and PyTorch, each backend in its own child process so they cannot share
 * threads, memory or kernel caches. Results are images/s, GFLOPS (from layer
 * shapes, see ./workloads.js) and native's speed-up over PyTorch.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../util/paths.js';
import {
  INFERENCE_RUNTIMES,
  INFERENCE_WORKLOAD_NAMES,
  LARGE_BATCH,
  inferenceReps,
  inferenceTitle,
  ONNXRUNTIME_THREADS,
  prepareInferenceWorkloads,
  type InferenceResult,
  type InferenceRuntime,
  type InferenceWorkloadName,
} from './inference.js';
import { GRAPH_WORKLOAD_NAMES, graphWorkloadTitle, prepareGraphWorkloads, type GraphWorkloadName } from './graph-workloads.js';
import type { Calibration, ChildReply, ChildRequest, RunOptions, WorkloadResult } from './run.js';
import { type Workload, type WorkloadName, WORKLOAD_NAMES, workloadFlops, workloads as allWorkloads } from './workloads.js';

export type BenchBackend = 'native' | 'wasm' | 'pytorch';
export const BENCH_BACKENDS: readonly BenchBackend[] = ['native', 'wasm', 'pytorch'];

export interface BenchOptions {
  /** Fewer repetitions (1 warm-up + 2 timed instead of 1 + 5). */
  quick?: boolean;
  /** Backends of the layer workloads; "native" and "onnxruntime" time the inference workloads. */
  backends?: readonly (BenchBackend | 'onnxruntime')[];
  workloads?: readonly (WorkloadName | GraphWorkloadName | InferenceWorkloadName)[];
  /** Threads of the native, wasm and PyTorch backends; default all cores. */
  threads?: number;
  /** Python with torch; default /usr/bin/python3 (Debian's python3-torch). */
  python?: string;
  /** Silence the children's progress lines. */
  quiet?: boolean;
  /**
   * Runs of every backend's child in turn (default 1). With more, each
   * figure is the median over the rounds and each ratio the median of the
   * rounds' ratios, each measured on children run back to back: on a shared
   * machine one round's ratio can swing by a third.
   */
  rounds?: number;
}

interface Rate {
  images_per_s: number;
  gflops: number;
}

interface WorkloadRow {
  native: Rate | null;
  wasm: Rate | null;
  pytorch: Rate | null;
  /** native images/s ÷ PyTorch images/s. */
  speedup_vs_pytorch: number | null;
}

interface InferenceRate {
  batch1_ms: number;
  batch32_images_per_s: number;
}

interface InferenceRow {
  native: InferenceRate | null;
  onnxruntime: InferenceRate | null;
  /** native ÷ onnxruntime images/s at batch 32 (above 1: native is faster). */
  throughput_ratio: number | null;
  /** native ÷ onnxruntime batch-1 latency (below 1: native is faster). */
  latency_ratio: number | null;
}

export interface BenchReport {
  /** The nominal peak: cores × FLOP/cycle × the nominal clock (see peakFlops). */
  peak_gflops: number;
  /** The peak measured by the native child's FMA loop on the bench's threads (null without the native backend). */
  calibrated_peak_gflops: number | null;
  workloads: Partial<Record<WorkloadName | GraphWorkloadName, WorkloadRow>>;
  /** The inference workloads: convkit-native against onnxruntime on the same model exported to ONNX. */
  inference: Partial<Record<InferenceWorkloadName, InferenceRow>>;
  /** Everything else: CPU, per-backend threads and notices, timing details. */
  details: {
    cpu: { model: string; cores: number; ghz: number; flopsPerCycle: number; isa: string };
    /** What the cores deliver, measured (native/peak.h): FMA GFLOPS and clock on 1 thread and on the bench's threads. */
    calibration: Calibration | null;
    /** Whole-model workloads that could not be built (e.g. a missing pretrained file), with why. */
    failed: Record<string, string>;
    flops: Record<string, number>;
    backends: Record<BenchBackend, { status: string; threads?: number; info?: Record<string, string> }>;
    timings: Record<string, Partial<Record<BenchBackend, WorkloadResult | { error: string }>>>;
    inference: {
      runtimes: Partial<Record<InferenceRuntime, { status: string; threads?: number; info?: Record<string, string> }>>;
      timings: Record<string, Partial<Record<InferenceRuntime, InferenceResult | { error: string }>>>;
      /** Workloads that could not be prepared (missing pretrained files), with why. */
      failed: Record<string, string>;
    };
    notes: string[];
    /** With rounds > 1: each round's ratios, by workload. */
    rounds?: Record<string, number | null>[];
  };
}

/**
 * Peak single-precision FLOPS: logical cores × FLOP/cycle × the nominal
 * clock. FLOP/cycle assumes two FMA units per core: 64 with AVX-512 (16
 * floats), 32 with AVX2 + FMA (8 floats), 16 otherwise. Turbo clocks above
 * the nominal one let a kernel pass 100 %.
 */
export function peakFlops(cpuinfo?: string): { cores: number; ghz: number; gflops: number; model: string; flopsPerCycle: number; isa: string } {
  const cores = os.cpus().length;
  let text = cpuinfo;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      text = '';
    }
  }
  const mhz = /^cpu MHz\s*:\s*([\d.]+)/m.exec(text)?.[1];
  const ghz = mhz ? Number(mhz) / 1000 : (os.cpus()[0]?.speed ?? 0) / 1000;
  const flags = new Set((/^flags\s*:\s*(.*)$/m.exec(text)?.[1] ?? '').split(/\s+/));
  const [isa, flopsPerCycle] = flags.has('avx512f')
    ? (['AVX-512 FMA', 64] as const)
    : flags.has('avx2') && flags.has('fma')
      ? (['AVX2 FMA', 32] as const)
      : (['AVX', 16] as const);
  return { cores, ghz, gflops: cores * flopsPerCycle * ghz, model: os.cpus()[0]?.model ?? 'unknown', flopsPerCycle, isa };
}

/** The same repetitions for the forward and the training workloads: one warm-up, then 2 (quick) or 5 timed. */
function repOptions(quick: boolean): { forward: RunOptions; train: RunOptions } {
  const reps: RunOptions = { warmup: 1, reps: quick ? 2 : 5 };
  return { forward: reps, train: reps };
}

/** The child entry next to this file: .js when built, .ts when run through tsx. */
function childScript(): string {
  const here = fileURLToPath(import.meta.url);
  return join(here, '..', here.endsWith('.ts') ? 'child.ts' : 'child.js');
}

/** Runs a command that prints one JSON line last on stdout; stderr passes through (progress). */
function runJsonChild(cmd: string, args: string[], env: NodeJS.ProcessEnv, quiet: boolean): Promise<ChildReply> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', quiet ? 'ignore' : 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const line = out
        .trim()
        .split('\n')
        .reverse()
        .find((l) => l.startsWith('{'));
      if (line) {
        try {
          resolve(JSON.parse(line) as ChildReply);
          return;
        } catch {
          /* reported below */
        }
      }
      reject(new Error(`${cmd} exited with ${signal ?? code} without a result`));
    });
  });
}

async function runBackend(backend: BenchBackend | 'onnxruntime', request: ChildRequest, opts: BenchOptions): Promise<ChildReply> {
  const quiet = Boolean(opts.quiet);
  if (backend === 'onnxruntime') {
    const env = { ...process.env, CONVKIT_BENCH_RUNTIME: 'onnxruntime' };
    return runJsonChild(process.execPath, [...process.execArgv, childScript(), JSON.stringify(request)], env, quiet);
  }
  if (backend === 'pytorch') {
    const python = opts.python ?? '/usr/bin/python3';
    const script = join(packageRoot(), 'bench', 'pytorch_workloads.py');
    if (!existsSync(python)) return { backend, unavailable: `${python} not found`, results: {} };
    if (!existsSync(script)) return { backend, unavailable: `${script} missing`, results: {} };
    // Idle OpenMP threads sleep, as the native backend's do (src/backend/native-addon.ts): spinning ones cost
    // PyTorch up to half its speed whenever anything else runs on the machine.
    const own = process.env.OMP_WAIT_POLICY === undefined && process.env.GOMP_SPINCOUNT === undefined;
    return runJsonChild(python, [script, JSON.stringify(request)], own ? { ...process.env, OMP_WAIT_POLICY: 'passive' } : process.env, quiet);
  }
  const env = { ...process.env, CONVKIT_BACKEND: backend };
  if (request.threads)
    Object.assign(env, backend === 'native' ? { OMP_NUM_THREADS: String(request.threads) } : { CONVKIT_WASM_THREADS: String(request.threads) });
  return runJsonChild(process.execPath, [...process.execArgv, childScript(), JSON.stringify(request)], env, quiet);
}

function rate(r: WorkloadResult | { error: string } | undefined): Rate | null {
  if (!r || 'error' in r) return null;
  return { images_per_s: r.images_per_s, gflops: r.gflops };
}

export async function runBench(opts: BenchOptions = {}): Promise<BenchReport> {
  const rounds = opts.rounds ?? 1;
  if (!(Number.isInteger(rounds) && rounds >= 1)) throw new RangeError(`rounds must be a whole number ≥ 1, got ${rounds}`);
  const reports: BenchReport[] = [];
  for (let i = 0; i < rounds; i++) reports.push(await benchRound(opts));
  return rounds === 1 ? reports[0]! : mergeRounds(reports);
}

/** The round whose value of `pick` is the median (the lower middle one for an even count), among those that have one. */
function medianOf<T>(items: readonly (T | null | undefined)[], pick: (t: T) => number): T | null {
  const have = items.filter((t): t is T => t != null).sort((a, b) => pick(a) - pick(b));
  return have.length ? have[(have.length - 1) >> 1]! : null;
}

/** One report from several rounds: median rates, and ratios as the median of each round's ratio. */
export function mergeRounds(reports: readonly BenchReport[]): BenchReport {
  const merged: BenchReport = structuredClone(reports[0]!);
  const ratio = (r: number) => r;
  for (const name of Object.keys(merged.workloads) as (keyof BenchReport['workloads'])[]) {
    const rows = reports.map((r) => r.workloads[name]);
    const rate = (b: BenchBackend) =>
      medianOf(
        rows.map((row) => row?.[b]),
        (x) => x.images_per_s,
      );
    const speedup = medianOf(
      rows.map((row) => row?.speedup_vs_pytorch),
      ratio,
    );
    merged.workloads[name] = { native: rate('native'), wasm: rate('wasm'), pytorch: rate('pytorch'), speedup_vs_pytorch: speedup };
  }
  for (const name of Object.keys(merged.inference) as (keyof BenchReport['inference'])[]) {
    const rows = reports.map((r) => r.inference[name]);
    const rate = (b: 'native' | 'onnxruntime') =>
      medianOf(
        rows.map((row) => row?.[b]),
        (x) => x.batch32_images_per_s,
      );
    merged.inference[name] = {
      native: rate('native'),
      onnxruntime: rate('onnxruntime'),
      throughput_ratio: medianOf(
        rows.map((row) => row?.throughput_ratio),
        ratio,
      ),
      latency_ratio: medianOf(
        rows.map((row) => row?.latency_ratio),
        ratio,
      ),
    };
  }
  merged.details.rounds = reports.map((r) => ({
    ...Object.fromEntries(Object.entries(r.workloads).map(([n, row]) => [n, row?.speedup_vs_pytorch ?? null])),
    ...Object.fromEntries(Object.entries(r.inference).map(([n, row]) => [n, row?.throughput_ratio ?? null])),
  }));
  merged.details.notes.push(
    `${reports.length} rounds, each running every backend's child in turn: rates are the median round's, ratios the median of the rounds' ratios (details.rounds)`,
  );
  return merged;
}

async function benchRound(opts: BenchOptions): Promise<BenchReport> {
  const names: readonly string[] = opts.workloads ?? [...WORKLOAD_NAMES, ...GRAPH_WORKLOAD_NAMES, ...INFERENCE_WORKLOAD_NAMES];
  const chosen: (Workload & { flops: number })[] = allWorkloads()
    .filter((w) => names.includes(w.name))
    .map((w) => ({ ...w, flops: workloadFlops(w) }));
  const graphNames = GRAPH_WORKLOAD_NAMES.filter((n) => names.includes(n));
  const backends: readonly string[] = opts.backends ?? [...BENCH_BACKENDS, 'onnxruntime'];
  const request: ChildRequest = {
    workloads: chosen,
    ...repOptions(Boolean(opts.quick)),
    quiet: opts.quiet,
    threads: opts.threads,
    calibrate: backends.includes('native') && chosen.length + graphNames.length > 0,
  };
  const cpu = peakFlops();
  const runtimes = INFERENCE_RUNTIMES.filter((r) => backends.includes(r));
  const inferenceNames = runtimes.length ? INFERENCE_WORKLOAD_NAMES.filter((n) => names.includes(n)) : [];
  const replies: Partial<Record<BenchBackend | 'onnxruntime', ChildReply>> = {};
  const report: BenchReport = {
    peak_gflops: cpu.gflops,
    calibrated_peak_gflops: null,
    workloads: {},
    inference: {},
    details: {
      cpu: { model: cpu.model, cores: cpu.cores, ghz: cpu.ghz, flopsPerCycle: cpu.flopsPerCycle, isa: cpu.isa },
      calibration: null,
      failed: {},
      flops: Object.fromEntries(chosen.map((w) => [w.name, w.flops])),
      backends: {} as BenchReport['details']['backends'],
      timings: {},
      notes:
        chosen.length + graphNames.length
          ? [
              `median of ${request.forward.reps} timed runs after ${request.forward.warmup} warm-up (forward) / ${request.train.reps} after ${request.train.warmup} (training)`,
              'epoch workloads: images/s from the median training step; the epoch time is extrapolated from it',
              'GFLOPS count Conv2D/DepthwiseConv2D/SeparableConv2D/Dense multiply-adds × 2; training adds the weight gradient of trainable layers and the input gradient of layers after the first trainable one',
              'PyTorch builds the whole-model workloads from the same Keras topology (bench/pytorch_workloads.py), channels-last, with symmetric padding where TF pads one more pixel bottom/right (same output sizes)',
            ]
          : [],
      inference: { runtimes: {}, timings: {}, failed: {} },
    },
  };
  // The inference models are built once here, as a model folder and an ONNX file, for both runtimes' children.
  const inferenceDir = inferenceNames.length ? mkdtempSync(join(os.tmpdir(), 'convkit-bench-inference-')) : undefined;
  // The whole-model workloads likewise: each model's topology, written once for every backend's child.
  const graphDir = graphNames.length ? mkdtempSync(join(os.tmpdir(), 'convkit-bench-graphs-')) : undefined;
  try {
    if (graphDir) {
      const { ready, failed } = await prepareGraphWorkloads(graphNames, graphDir);
      request.graphs = ready;
      report.details.failed = failed;
      for (const g of ready) report.details.flops[g.name] = g.flops;
    }
    if (inferenceDir) {
      const { ready, failed } = await prepareInferenceWorkloads(inferenceNames, inferenceDir);
      request.inference = ready;
      request.inferenceReps = inferenceReps(Boolean(opts.quick));
      report.details.inference.failed = failed;
      const r = request.inferenceReps;
      report.details.notes.push(
        `inference: batch 1 latency is the median of ${r.latency.reps} runs after ${r.latency.warmup} warm-up, batch ${LARGE_BATCH} images/s from the median of ${r.throughput.reps} after ${r.throughput.warmup}; onnxruntime on ${ONNXRUNTIME_THREADS.intraOpNumThreads} intra-op + ${ONNXRUNTIME_THREADS.interOpNumThreads} inter-op thread`,
      );
    }
    await runChildren(report, request, backends, runtimes, replies, opts);
  } finally {
    if (inferenceDir) rmSync(inferenceDir, { recursive: true, force: true });
    if (graphDir) rmSync(graphDir, { recursive: true, force: true });
  }
  report.details.calibration = replies.native?.calibration ?? null;
  report.calibrated_peak_gflops = report.details.calibration?.fmaGflops ?? null;
  for (const w of [...chosen, ...graphNames.map((name) => ({ name }))]) {
    const timings: Partial<Record<BenchBackend, WorkloadResult | { error: string }>> = {};
    for (const b of BENCH_BACKENDS) {
      const r = replies[b]?.results[w.name];
      if (r) timings[b] = r;
    }
    report.details.timings[w.name] = timings;
    const row: WorkloadRow = { native: rate(timings.native), wasm: rate(timings.wasm), pytorch: rate(timings.pytorch), speedup_vs_pytorch: null };
    if (row.native && row.pytorch) row.speedup_vs_pytorch = row.native.images_per_s / row.pytorch.images_per_s;
    report.workloads[w.name] = row;
  }
  for (const name of inferenceNames) {
    const timings: Partial<Record<InferenceRuntime, InferenceResult | { error: string }>> = {};
    for (const r of runtimes) {
      const t = replies[r]?.inference?.[name];
      if (t) timings[r] = t;
      else if (report.details.inference.failed[name]) timings[r] = { error: report.details.inference.failed[name]! };
    }
    report.details.inference.timings[name] = timings;
    const native = inferenceRate(timings.native),
      onnx = inferenceRate(timings.onnxruntime);
    report.inference[name] = {
      native,
      onnxruntime: onnx,
      throughput_ratio: native && onnx ? native.batch32_images_per_s / onnx.batch32_images_per_s : null,
      latency_ratio: native && onnx ? native.batch1_ms / onnx.batch1_ms : null,
    };
  }
  return report;
}

function inferenceRate(r: InferenceResult | { error: string } | undefined): InferenceRate | null {
  return r && !('error' in r) ? { batch1_ms: r.batch1_ms, batch32_images_per_s: r.batch32_images_per_s } : null;
}

/** One child per backend, one at a time (they would otherwise compete for the same cores); only those with work to do. */
async function runChildren(
  report: BenchReport,
  request: ChildRequest,
  backends: readonly string[],
  runtimes: readonly InferenceRuntime[],
  replies: Partial<Record<BenchBackend | 'onnxruntime', ChildReply>>,
  opts: BenchOptions,
): Promise<void> {
  const inference = request.inference ?? [];
  for (const b of [...BENCH_BACKENDS, 'onnxruntime'] as const) {
    const layerWork = b !== 'onnxruntime' && backends.includes(b) && request.workloads.length + (request.graphs?.length ?? 0) > 0;
    const inferenceWork = (runtimes as readonly string[]).includes(b) && inference.length > 0;
    const status = (s: { status: string; threads?: number; info?: Record<string, string> }) => {
      if (b !== 'onnxruntime') report.details.backends[b] = s;
      if (inferenceWork) report.details.inference.runtimes[b as InferenceRuntime] = s;
    };
    if (!layerWork && !inferenceWork) {
      if (b !== 'onnxruntime') report.details.backends[b] = { status: 'skipped' };
      continue;
    }
    // Only native and onnxruntime time the inference workloads.
    const childRequest: ChildRequest = {
      ...request,
      workloads: layerWork ? request.workloads : [],
      // wasm trains depthwise layers through JS kernels (minutes a step): only when asked for by name.
      graphs: layerWork && (b !== 'wasm' || opts.backends?.includes('wasm')) ? request.graphs : [],
      inference: inferenceWork ? inference : [],
    };
    try {
      const reply = await runBackend(b, childRequest, opts);
      replies[b] = reply;
      status(reply.unavailable ? { status: `unavailable: ${reply.unavailable}` } : { status: 'ok', threads: reply.threads, info: reply.details });
    } catch (err) {
      status({ status: `failed: ${(err as Error).message}` });
    }
  }
}

/** Rows of cells as aligned text lines. */
function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
}

function inferenceCell(r: InferenceRate | null, status: string | undefined, t?: InferenceResult | { error: string }): string {
  if (r) return `${r.batch1_ms.toFixed(1)} ms batch 1, ${r.batch32_images_per_s.toFixed(1)} img/s batch ${LARGE_BATCH}`;
  if (t && 'error' in t) return `failed: ${t.error}`;
  return status?.startsWith('unavailable') ? 'unavailable' : status === undefined ? '-' : 'failed';
}

/** The inference table: convkit-native and onnxruntime side by side, with native's ratios. */
function formatInference(report: BenchReport): string[] {
  const { runtimes, timings, failed } = report.details.inference;
  const names = Object.keys(report.inference) as InferenceWorkloadName[];
  if (!names.length) return [];
  const ort = runtimes.onnxruntime;
  const lines = [
    '',
    `inference: convkit-native (TF.js predict, native backend) and onnxruntime-node${ort?.info?.onnxruntime ? ` ${ort.info.onnxruntime}` : ''} (${ONNXRUNTIME_THREADS.intraOpNumThreads} intra-op + ${ONNXRUNTIME_THREADS.interOpNumThreads} inter-op threads) on the same classifier exported to ONNX`,
  ];
  for (const r of INFERENCE_RUNTIMES) if (runtimes[r] && runtimes[r].status !== 'ok') lines.push(`  ${r}: ${runtimes[r].status}`);
  const rows = [['workload', 'convkit-native', 'onnxruntime', 'native/onnxruntime']];
  for (const name of names) {
    const row = report.inference[name]!;
    const t = timings[name] ?? {};
    const ratio =
      row.throughput_ratio === null || row.latency_ratio === null ? '-' : `img/s ${row.throughput_ratio.toFixed(2)}×, latency ${row.latency_ratio.toFixed(2)}×`;
    rows.push([
      name,
      inferenceCell(row.native, runtimes.native?.status, t.native),
      inferenceCell(row.onnxruntime, runtimes.onnxruntime?.status, t.onnxruntime),
      ratio,
    ]);
  }
  lines.push(...table(rows));
  for (const name of names) lines.push(`${name}: ${inferenceTitle(name)}${failed[name] ? ` — not run: ${failed[name]}` : ''}`);
  lines.push('native/onnxruntime: images/s above 1× and latency below 1× mean convkit-native is faster');
  return lines;
}

function cell(r: Rate | null, status: string, peak: number, t?: WorkloadResult | { error: string }): string {
  if (r) return `${r.images_per_s.toFixed(r.images_per_s < 10 ? 2 : 1)} img/s  ${r.gflops.toFixed(1)} GFLOPS (${((100 * r.gflops) / peak).toFixed(0)}%)`;
  if (t && 'error' in t) return 'failed';
  if (status.startsWith('unavailable')) return 'unavailable';
  return status === 'skipped' ? '-' : 'failed';
}

/** The measured peak and clock against the nominal ones, when the native child measured them. */
function calibrationLines(report: BenchReport): string[] {
  const c = report.details.calibration;
  if (!c) return ['measured peak: not measured (needs the native backend); percentages are of the nominal peak'];
  const perCycle = (gflops: number, ghz: number, threads: number) => (gflops / ghz / threads).toFixed(1);
  return [
    `measured peak ${c.fmaGflops.toFixed(1)} GFLOPS on ${c.threads} thread(s) (${c.fmaGflops1.toFixed(1)} on 1), from a loop of independent ${c.isa} FMAs; clock ${c.ghz.toFixed(2)} GHz (${c.ghz1.toFixed(2)} on 1 thread) from a chain of dependent adds, so ${perCycle(c.fmaGflops, c.ghz, c.threads)} FLOP/cycle per core`,
    `  percentages below are of the measured peak, which is ${((100 * c.fmaGflops) / report.peak_gflops).toFixed(0)} % of the nominal one`,
  ];
}

/** The human-readable table printed by `convkit bench`. */
export function formatBenchReport(report: BenchReport): string {
  const { cpu, backends, timings, notes } = report.details;
  const titles: Record<string, string> = Object.fromEntries(allWorkloads().map((w) => [w.name, w.title]));
  for (const name of GRAPH_WORKLOAD_NAMES) titles[name] = graphWorkloadTitle(name);
  // Percentages are of the measured peak when the native child measured one, else of the nominal one.
  const peak = report.calibrated_peak_gflops ?? report.peak_gflops;
  const lines = [
    `nominal peak ${report.peak_gflops.toFixed(1)} GFLOPS = ${cpu.cores} cores × ${cpu.flopsPerCycle} FLOP/cycle (${cpu.isa}) × ${cpu.ghz.toFixed(3)} GHz nominal (${cpu.model})`,
    ...calibrationLines(report),
  ];
  for (const b of BENCH_BACKENDS) {
    const s = backends[b];
    lines.push(
      `  ${b.padEnd(8)} ${s.status === 'ok' ? `${s.threads ?? '?'} thread(s)${s.info?.wasmModule ? `, ${s.info.wasmModule}` : ''}${s.info?.torch ? `, torch ${s.info.torch}` : ''}` : s.status}`,
    );
  }
  const header = ['workload', 'convkit-native', 'convkit-wasm', 'pytorch', 'native/pytorch'];
  const rows: string[][] = [header];
  for (const [name, row] of Object.entries(report.workloads) as [WorkloadName, WorkloadRow][]) {
    const t = timings[name] ?? {};
    rows.push([
      name,
      cell(row.native, backends.native.status, peak, t.native),
      cell(row.wasm, backends.wasm.status, peak, t.wasm),
      cell(row.pytorch, backends.pytorch.status, peak, t.pytorch),
      row.speedup_vs_pytorch === null ? '-' : `${row.speedup_vs_pytorch.toFixed(2)}×`,
    ]);
  }
  if (rows.length > 1) lines.push('', ...table(rows));
  lines.push(...formatInference(report));
  lines.push('');
  for (const name of Object.keys(report.workloads)) {
    lines.push(
      `${name}: ${titles[name]}; ${report.details.failed[name] ? `not run: ${report.details.failed[name]}` : `${((report.details.flops[name] ?? 0) / 1e9).toFixed(2)} GFLOP per ${name === 'conv3x3' || name === 'vgg16_forward' ? 'batch' : 'step'}`}`,
    );
  }
  for (const [name, epoch] of Object.entries(timings)) {
    const parts = BENCH_BACKENDS.flatMap((b) => {
      const r = epoch[b];
      return r && !('error' in r) && r.epoch_seconds ? [`${b} ${r.epoch_seconds.toFixed(0)} s`] : [];
    });
    if (parts.length) lines.push(`${name}, whole epoch (extrapolated): ${parts.join(', ')}`);
  }
  for (const [b, s] of Object.entries(backends)) {
    if (s.info?.wasmNotice) lines.push(`${b}: ${s.info.wasmNotice}`);
  }
  lines.push(...notes.map((n) => `note: ${n}`));
  return lines.join('\n');
}
