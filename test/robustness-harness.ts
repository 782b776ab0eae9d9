/**
 * Runs one robustness case: a command on bad input built in its own
 * folder, then the checks every case shares — the exit code, one line on
 * stderr naming the problem (and an optional "  fix:" line), no stack
 * trace, nothing outside the command's outputs touched, and no
 * half-written output or temporary leftover when it failed.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { isAbsolute, join, relative, sep } from 'node:path';
import { runCli, snapshot, type CliRun } from './cli-harness.js';
import { tempLeftovers } from './robustness-corpus.js';

export type CommandName = 'train' | 'evaluate' | 'predict' | 'preview' | 'classify' | 'prepare' | 'study';
export type Kind = 'images' | 'folders' | 'model' | 'flags' | 'paths' | 'disk' | 'concurrency';

/** The folders of one case; `root` is also the working directory while the command runs. */
export interface Env {
  root: string;
  /** root/data: train/, validation/, test/ with classes left and right. */
  data: string;
  /** root/model: a copy of the suite's trained model. */
  model: string;
  /** root/photos: class folders for prepare. */
  photos: string;
  /** root/pics: a few loose images for predict and classify. */
  pics: string;
  /** root/out: the default --out. */
  out: string;
  /** root/cache: the default --cache-dir. */
  cache: string;
}

export interface Expect {
  /** Allowed exit codes. */
  code: number | readonly number[];
  /** A failing command's one message line (after "convkit <command>: "). */
  error?: RegExp;
  /** Lines that must appear on stderr, each matched by exactly one line (bad files listed); no other lines allowed. */
  listed?: readonly RegExp[];
  /** Lines printed on stdout, counted (e.g. one per good image). */
  stdoutLines?: number;
  /** Extra checks of a successful run. */
  check?: (env: Env, run: CaseRun) => Promise<void>;
}

export interface Case {
  command: CommandName;
  kind: Kind;
  name: string;
  /** Builds the input (good parts copied from the suite's corpus, then made bad). */
  setup: (env: Env) => Promise<void>;
  argv: (env: Env) => string[];
  expect: Expect;
  /** What the command may write (default: env.out); a failed command must leave each as it was. */
  outputs?: (env: Env) => string[];
  /** Caches the command may fill even when it fails (default: env.cache). */
  caches?: (env: Env) => string[];
  /** Runs the command with writes to its outputs failing as on a full disk. */
  fullDisk?: boolean;
}

export interface Tally {
  add(command: string, kind: string): void;
  summary(): string;
}

export function createTally(): Tally {
  const counts = new Map<string, Map<string, number>>();
  return {
    add(command, kind) {
      const byKind = counts.get(command) ?? new Map<string, number>();
      byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
      counts.set(command, byKind);
    },
    summary() {
      let total = 0;
      const parts = [...counts].map(([command, byKind]) => {
        const n = [...byKind.values()].reduce((a, b) => a + b, 0);
        total += n;
        return `${command} ${n} (${[...byKind].map(([k, v]) => `${k} ${v}`).join(', ')})`;
      });
      return `robustness: ${total} cases — ${parts.join(', ')}`;
    },
  };
}

export const STACK = /^\s+at /;

function within(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel));
}

/** A snapshot of `root` without the entries under `skip` (absolute paths). */
async function snapshotWithout(root: string, skip: readonly string[]): Promise<Record<string, string>> {
  const all = await snapshot(root);
  return Object.fromEntries(Object.entries(all).filter(([rel]) => !skip.some((s) => within(join(root, rel), s))));
}

/** The entries added (+), removed (-) and changed (~) between two snapshots. */
export function diffSnapshots(before: Record<string, string>, after: Record<string, string>): string[] {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return keys.flatMap((k) => (!(k in before) ? [`+ ${k}`] : !(k in after) ? [`- ${k}`] : before[k] !== after[k] ? [`~ ${k}`] : []));
}

/** A snapshot of an output path: a tree, a file's hash, or undefined when absent. */
async function outputState(path: string): Promise<unknown> {
  const st = await fs.lstat(path).catch(() => undefined);
  if (!st) return undefined;
  if (st.isDirectory()) return { dir: await snapshot(path) };
  if (st.isFile()) return { file: (await fs.readFile(path)).toString('base64') };
  return { other: true };
}

export interface CaseRun extends CliRun {
  /** What was written straight to process.stderr (progress lines) and through console.warn. */
  raw: string[];
  errLines: string[];
  outLines: string[];
}

/**
 * Writes to paths under `dirs` fail with ENOSPC while `fn` runs, as on a full disk
 * (fs.promises, and the node:fs/promises named exports, are patched).
 */
async function withFullDisk<T>(dirs: readonly string[], fn: () => Promise<T>): Promise<T> {
  const p = fs as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  const names = ['writeFile', 'copyFile', 'appendFile'] as const;
  const saved = names.map((n) => p[n]!);
  const full = (name: string, target: unknown) => {
    const path = String(target);
    return Object.assign(new Error(`ENOSPC: no space left on device, ${name} '${path}'`), {
      code: 'ENOSPC',
      errno: -28,
      syscall: name === 'copyFile' ? 'copyfile' : 'write',
      path,
    });
  };
  names.forEach((n, i) => {
    const original = saved[i]!;
    p[n] = async (...args: unknown[]) => {
      const target = n === 'copyFile' ? args[1] : args[0];
      if (typeof target === 'string' && dirs.some((d) => within(target, d))) throw full(n, target);
      return original.apply(fs, args);
    };
  });
  syncBuiltinESMExports();
  try {
    return await fn();
  } finally {
    names.forEach((n, i) => {
      p[n] = saved[i]!;
    });
    syncBuiltinESMExports();
  }
}

/** Runs the CLI with stdout, stderr and warnings captured. */
export async function runCaptured(argv: string[]): Promise<CaseRun> {
  const raw: string[] = [];
  const write = process.stderr.write,
    warn = console.warn;
  process.stderr.write = ((chunk: unknown) => {
    raw.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  console.warn = (...a: unknown[]) => {
    raw.push(a.join(' '));
  };
  try {
    const run = await runCli(argv);
    const split = (lines: string[]) => lines.flatMap((l) => l.split('\n'));
    return { ...run, raw, errLines: split(run.err), outLines: split(run.out).filter((l) => l !== '') };
  } finally {
    process.stderr.write = write;
    console.warn = warn;
  }
}

function show(run: CaseRun): string {
  return `exit ${run.code}\n--- stderr ---\n${run.errLines.join('\n')}\n--- stdout ---\n${run.outLines.slice(0, 10).join('\n')}`;
}

/**
 * The lines of a failure message: "convkit <command>: …", then at most a
 * "  fix: …" line. The command's usage text after a blank line (printed
 * for a bad or missing argument) is allowed.
 */
function messageLines(lines: string[], command: string): string[] {
  const blank = lines.indexOf('');
  return blank > 0 && (lines[blank + 1] ?? '').startsWith(`convkit ${command} `) ? lines.slice(0, blank) : lines;
}

/** Runs case `c` in `env` and asserts everything a robust command must do with that input. */
export async function runCase(c: Case, env: Env): Promise<CaseRun> {
  await c.setup(env);
  const outputs = c.outputs?.(env) ?? [env.out];
  const caches = c.caches?.(env) ?? [env.cache];
  const before = await snapshotWithout(env.root, caches);
  const outBefore = await Promise.all(outputs.map(outputState));
  const argv = c.argv(env);
  const cwd = process.cwd();
  process.chdir(env.root);
  let run: CaseRun;
  try {
    run = c.fullDisk
      ? await withFullDisk(
          outputs.map((o) => join(o, '..')),
          () => runCaptured(argv),
        )
      : await runCaptured(argv);
  } finally {
    process.chdir(cwd);
  }
  const context = `convkit ${argv.join(' ')}\n${show(run)}`;
  if (process.env.CONVKIT_ROBUSTNESS_LOG) await fs.appendFile(process.env.CONVKIT_ROBUSTNESS_LOG, `### ${c.command} · ${c.kind} · ${c.name}\n$ ${context}\n\n`);
  const codes: readonly number[] = typeof c.expect.code === 'number' ? [c.expect.code] : c.expect.code;

  // No stack trace anywhere, and no "internal error" for bad input.
  const stack = [...run.errLines, ...run.outLines, ...run.raw.flatMap((r) => r.split('\n'))].find((l) => STACK.test(l));
  assert.equal(stack, undefined, `a stack trace was printed\n${context}`);
  assert.ok(!run.errLines.some((l) => /internal error/.test(l)), `bad input reported as an internal error\n${context}`);
  assert.ok(codes.includes(run.code), `exit code ${run.code}, expected ${codes.join(' or ')}\n${context}`);

  if (c.expect.error) {
    const lines = messageLines(run.errLines, c.command);
    const prefix = `convkit ${c.command}: `;
    assert.ok(lines.length >= 1 && lines.length <= 2, `expected one message line (and a fix line), got ${lines.length}\n${context}`);
    assert.ok(lines[0]!.startsWith(prefix), `the message does not start with "${prefix}"\n${context}`);
    assert.match(lines[0]!, c.expect.error, `the message does not name the problem\n${context}`);
    if (lines[1] !== undefined) assert.match(lines[1], /^ {2}fix: \S/, `the second line is not a fix hint\n${context}`);
  }
  if (c.expect.listed) {
    const lines = run.errLines.filter((l) => l.trim() !== '');
    for (const re of c.expect.listed) {
      const hits = lines.filter((l) => re.test(l));
      assert.equal(hits.length, 1, `expected one stderr line matching ${re}, got ${hits.length}\n${context}`);
    }
    const unexpected = lines.filter((l) => !c.expect.listed!.some((re) => re.test(l)) && !/^ {2}fix: /.test(l));
    assert.deepEqual(unexpected, [], `unexpected stderr lines\n${context}`);
    for (const l of lines.filter((x) => !/^ {2}fix: /.test(x)))
      assert.ok(l.startsWith(`convkit ${c.command}: `), `stderr line without the command's prefix: ${l}\n${context}`);
  }
  if (c.expect.stdoutLines !== undefined) assert.equal(run.outLines.length, c.expect.stdoutLines, `stdout lines\n${context}`);

  const failed = run.code !== 0;
  // Nothing outside the outputs (and caches) changed.
  const after = await snapshotWithout(env.root, caches);
  const outside = (s: Record<string, string>) => Object.fromEntries(Object.entries(s).filter(([rel]) => !outputs.some((o) => within(join(env.root, rel), o))));
  assert.deepEqual(diffSnapshots(outside(before), outside(after)), [], `files outside the outputs changed\n${context}`);
  // A failed run leaves its outputs as they were: no new folder or file, no half-written one.
  if (failed) {
    const outAfter = await Promise.all(outputs.map(outputState));
    outputs.forEach((o, i) => {
      const was = outBefore[i],
        now = outAfter[i];
      const changes =
        was && now && typeof was === 'object' && typeof now === 'object' && 'dir' in was && 'dir' in now
          ? diffSnapshots(was.dir as Record<string, string>, now.dir as Record<string, string>)
          : JSON.stringify(was) === JSON.stringify(now)
            ? []
            : [now === undefined ? `- ${o}` : was === undefined ? `+ ${o}` : `~ ${o}`];
      assert.deepEqual(changes, [], `${o} was ${was === undefined ? 'created' : 'changed'} by a failed run\n${context}`);
    });
  }
  // Leftovers of atomic writes: anywhere in the case folder (outputs elsewhere, such as /proc, were checked above).
  assert.deepEqual(await tempLeftovers(env.root), [], `temporary files left behind\n${context}`);
  await c.expect.check?.(env, run);
  return run;
}
