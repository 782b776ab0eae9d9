/**
 * `convkit bench`: the same four workloads on convkit-native, convkit-wasm
 * and PyTorch, each backend in its own child process so they cannot share
 * threads, memory or kernel caches. Results are images/s, GFLOPS (from layer
 * shapes, see ./workloads.js) and native's speed-up over PyTorch.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../util/paths.js';
import type { ChildReply, ChildRequest, RunOptions, WorkloadResult } from './run.js';
import { type Workload, type WorkloadName, WORKLOAD_NAMES, workloadFlops, workloads as allWorkloads } from './workloads.js';

export type BenchBackend = 'native' | 'wasm' | 'pytorch';
export const BENCH_BACKENDS: readonly BenchBackend[] = ['native', 'wasm', 'pytorch'];

export interface BenchOptions {
  /** Fewer repetitions (1 warm-up + 2 timed instead of 1 + 5). */
  quick?: boolean;
  backends?: readonly BenchBackend[];
  workloads?: readonly WorkloadName[];
  /** Python with torch; default /usr/bin/python3 (Debian's python3-torch). */
  python?: string;
  /** Silence the children's progress lines. */
  quiet?: boolean;
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

export interface BenchReport {
  peak_gflops: number;
  workloads: Record<WorkloadName, WorkloadRow>;
  /** Everything else: CPU, per-backend threads and notices, timing details. */
  details: {
    cpu: { model: string; cores: number; ghz: number; flopsPerCycle: number; isa: string };
    flops: Record<string, number>;
    backends: Record<BenchBackend, { status: string; threads?: number; info?: Record<string, string> }>;
    timings: Record<string, Partial<Record<BenchBackend, WorkloadResult | { error: string }>>>;
    notes: string[];
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

async function runBackend(backend: BenchBackend, request: ChildRequest, opts: BenchOptions): Promise<ChildReply> {
  const quiet = Boolean(opts.quiet);
  if (backend === 'pytorch') {
    const python = opts.python ?? '/usr/bin/python3';
    const script = join(packageRoot(), 'bench', 'pytorch_workloads.py');
    if (!existsSync(python)) return { backend, unavailable: `${python} not found`, results: {} };
    if (!existsSync(script)) return { backend, unavailable: `${script} missing`, results: {} };
    return runJsonChild(python, [script, JSON.stringify(request)], process.env, quiet);
  }
  const env = { ...process.env, CONVKIT_BACKEND: backend };
  return runJsonChild(process.execPath, [...process.execArgv, childScript(), JSON.stringify(request)], env, quiet);
}

function rate(r: WorkloadResult | { error: string } | undefined): Rate | null {
  if (!r || 'error' in r) return null;
  return { images_per_s: r.images_per_s, gflops: r.gflops };
}

export async function runBench(opts: BenchOptions = {}): Promise<BenchReport> {
  const names = opts.workloads ?? WORKLOAD_NAMES;
  const chosen: (Workload & { flops: number })[] = allWorkloads()
    .filter((w) => names.includes(w.name))
    .map((w) => ({ ...w, flops: workloadFlops(w) }));
  const request: ChildRequest = { workloads: chosen, ...repOptions(Boolean(opts.quick)), quiet: opts.quiet };
  const cpu = peakFlops();
  const backends = opts.backends ?? BENCH_BACKENDS;
  const replies: Partial<Record<BenchBackend, ChildReply>> = {};
  const report: BenchReport = {
    peak_gflops: cpu.gflops,
    workloads: {} as Record<WorkloadName, WorkloadRow>,
    details: {
      cpu: { model: cpu.model, cores: cpu.cores, ghz: cpu.ghz, flopsPerCycle: cpu.flopsPerCycle, isa: cpu.isa },
      flops: Object.fromEntries(chosen.map((w) => [w.name, w.flops])),
      backends: {} as BenchReport['details']['backends'],
      timings: {},
      notes: [
        `median of ${request.forward.reps} timed runs after ${request.forward.warmup} warm-up (forward) / ${request.train.reps} after ${request.train.warmup} (training)`,
        'small_cnn_epoch: images/s from the median training step; the epoch time is extrapolated to 100 steps of 20 images',
        'GFLOPS count Conv2D/Dense multiply-adds × 2; training adds the weight gradient of trainable layers and the input gradient of layers after the first trainable one',
      ],
    },
  };
  // One backend at a time: they would otherwise compete for the same cores.
  for (const b of BENCH_BACKENDS) {
    if (!backends.includes(b)) {
      report.details.backends[b] = { status: 'skipped' };
      continue;
    }
    try {
      const reply = await runBackend(b, request, opts);
      replies[b] = reply;
      report.details.backends[b] = reply.unavailable
        ? { status: `unavailable: ${reply.unavailable}` }
        : { status: 'ok', threads: reply.threads, info: reply.details };
    } catch (err) {
      report.details.backends[b] = { status: `failed: ${(err as Error).message}` };
    }
  }
  for (const w of chosen) {
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
  return report;
}

function cell(r: Rate | null, status: string, peak: number, t?: WorkloadResult | { error: string }): string {
  if (r) return `${r.images_per_s.toFixed(r.images_per_s < 10 ? 2 : 1)} img/s  ${r.gflops.toFixed(1)} GFLOPS (${((100 * r.gflops) / peak).toFixed(0)}%)`;
  if (t && 'error' in t) return 'failed';
  if (status.startsWith('unavailable')) return 'unavailable';
  return status === 'skipped' ? '-' : 'failed';
}

/** The human-readable table printed by `convkit bench`. */
export function formatBenchReport(report: BenchReport): string {
  const { cpu, backends, timings, notes } = report.details;
  const titles = Object.fromEntries(allWorkloads().map((w) => [w.name, w.title]));
  const lines = [
    `peak ${report.peak_gflops.toFixed(1)} GFLOPS = ${cpu.cores} cores × ${cpu.flopsPerCycle} FLOP/cycle (${cpu.isa}) × ${cpu.ghz.toFixed(3)} GHz nominal (${cpu.model})`,
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
      cell(row.native, backends.native.status, report.peak_gflops, t.native),
      cell(row.wasm, backends.wasm.status, report.peak_gflops, t.wasm),
      cell(row.pytorch, backends.pytorch.status, report.peak_gflops, t.pytorch),
      row.speedup_vs_pytorch === null ? '-' : `${row.speedup_vs_pytorch.toFixed(2)}×`,
    ]);
  }
  const widths = header.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  lines.push(
    '',
    ...rows.map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    ),
  );
  lines.push('');
  for (const name of Object.keys(report.workloads)) {
    lines.push(
      `${name}: ${titles[name]}; ${(report.details.flops[name] / 1e9).toFixed(2)} GFLOP per ${name === 'conv3x3' || name === 'vgg16_forward' ? 'batch' : 'step'}`,
    );
  }
  const epoch = timings.small_cnn_epoch;
  if (epoch) {
    const parts = BENCH_BACKENDS.flatMap((b) => {
      const r = epoch[b];
      return r && !('error' in r) && r.epoch_seconds ? [`${b} ${r.epoch_seconds.toFixed(0)} s`] : [];
    });
    if (parts.length) lines.push(`small_cnn_epoch, whole epoch (extrapolated): ${parts.join(', ')}`);
  }
  for (const [b, s] of Object.entries(backends)) {
    if (s.info?.wasmNotice) lines.push(`${b}: ${s.info.wasmNotice}`);
  }
  lines.push(...notes.map((n) => `note: ${n}`));
  return lines.join('\n');
}
