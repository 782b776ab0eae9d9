/**
 * Runs tfjs-backend-wasm's threaded-SIMD module in Node.
 *
 * The package's own loader refuses threads in Node (its
 * WASM_HAS_MULTITHREAD_SUPPORT flag is hard-wired false there) and would hand
 * the Emscripten pthread pool blob: URLs that worker_threads cannot load. So
 * this file instantiates the shipped Emscripten glue
 * (wasm-out/tfjs-backend-wasm-threaded-simd.js) itself: the worker script the
 * package embeds as a string is written to a file, the glue is loaded from a
 * file in both the main thread and the workers, and the pool is sized to the
 * thread count (the glue pre-starts 8 workers; XNNPACK's pool must not ask
 * for more than were started, or the main thread would wait on a worker that
 * can only start once it returns to the event loop).
 *
 * The 'wasm' backend factory is replaced by one that builds BackendWasm on
 * that module; all kernels registered for 'wasm' work unchanged.
 */
import * as tf from '@tensorflow/tfjs';
import { BackendWasm, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const WASM_PRIORITY = 2;
/** tfjs-backend-wasm caps its XNNPACK pool at 8 threads. */
export const MAX_THREADS = 8;
/** Starting the module and its workers takes well under a second; a stall means the workers cannot run. */
const START_TIMEOUT_MS = 30_000;

let shippedFactory: (() => tf.KernelBackend | Promise<tf.KernelBackend>) | undefined;

interface EmscriptenModule {
  cwrap(name: string, ret: string | null, args: string[]): (...a: number[]) => number;
  tfjs?: Record<string, unknown>;
  [key: string]: unknown;
}

function packageDir(): string {
  return dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
}

/** Writes `text` to `path` unless an identical file is there (content-hashed names). */
function writeOnce(path: string, text: string): void {
  if (existsSync(path)) return;
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** The glue and worker script as files, in a per-version, per-content temp folder. */
function prepareThreadedFiles(threads: number): { glue: string; worker: string; wasm: string } {
  const dir = join(packageDir(), 'wasm-out');
  const glueSource = readFileSync(join(dir, 'tfjs-backend-wasm-threaded-simd.js'), 'utf8');
  const poolPattern = /pthreadPoolSize=\d+/;
  if (!poolPattern.test(glueSource)) throw new Error('unrecognised tfjs-backend-wasm threaded glue (no pthread pool size)');
  // The backend caps XNNPACK's pool at emscripten_num_logical_cores()/2
  // (it assumes hyper-threading); report 2 × threads so `threads` is used.
  const coresPattern = /function _emscripten_num_logical_cores\(\)\{[^}]*\}/;
  if (!coresPattern.test(glueSource)) throw new Error('unrecognised tfjs-backend-wasm threaded glue (no core count)');
  // A running pthread holds a ref on its worker, and XNNPACK's pool threads
  // never finish, so Node would never exit; the main thread drives all work
  // synchronously, so unref'd workers lose nothing.
  const refPattern = 'if(ENVIRONMENT_IS_NODE){worker.ref()}';
  if (!glueSource.includes(refPattern)) throw new Error('unrecognised tfjs-backend-wasm threaded glue (no worker ref)');
  const glue = glueSource
    .replace(poolPattern, `pthreadPoolSize=${threads}`)
    .replace(coresPattern, `function _emscripten_num_logical_cores(){return ${2 * threads}}`)
    .replace(refPattern, '');
  const workerModule = require(join(dir, 'tfjs-backend-wasm-threaded-simd.worker.js')) as { wasmWorkerContents?: string };
  if (typeof workerModule.wasmWorkerContents !== 'string') throw new Error('unrecognised tfjs-backend-wasm worker script');
  // The embedded source has raw newlines inside string literals (as the package itself escapes before use).
  const worker = workerModule.wasmWorkerContents.replace(/\n/g, '\\n');
  const hash = createHash('sha256').update(glue).update(worker).digest('hex').slice(0, 16);
  // .cjs: the worker needs require/__filename, whatever package.json says.
  const base = join(os.tmpdir(), `convkit-wasm-${hash}`);
  writeOnce(`${base}/glue.cjs`, glue);
  writeOnce(`${base}/worker.cjs`, worker);
  return { glue: `${base}/glue.cjs`, worker: `${base}/worker.cjs`, wasm: join(dir, 'tfjs-backend-wasm-threaded-simd.wasm') };
}

async function createThreadedModule(threads: number): Promise<EmscriptenModule> {
  const files = prepareThreadedFiles(threads);
  const factory = require(files.glue) as (config: object) => Promise<EmscriptenModule>;
  const config = {
    locateFile: (path: string, prefix: string) => {
      if (path.endsWith('.worker.js')) return files.worker;
      if (path.endsWith('.wasm')) return files.wasm;
      return prefix + path;
    },
    // Workers importScripts() this file: a path, not the Blob the package uses.
    mainScriptUrlOrBlob: files.glue,
  };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`threaded wasm module did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
  });
  try {
    const module = await Promise.race([factory(config), timeout]);
    // The bridge BackendWasm expects (what the package's own init() adds).
    module.tfjs = {
      init: module.cwrap('init', null, []),
      initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
      getThreadsCount: module.cwrap('get_threads_count', 'number', []),
      registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
      disposeData: module.cwrap('dispose_data', null, ['number']),
      dispose: module.cwrap('dispose', null, []),
    };
    return module;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Replaces the 'wasm' backend factory with the threaded one (takes effect at
 * the next tf.setBackend('wasm')). Throws if the files cannot be prepared.
 */
export async function registerThreadedWasm(threads: number): Promise<void> {
  if (threads > MAX_THREADS) throw new Error(`at most ${MAX_THREADS} wasm threads (asked for ${threads})`);
  prepareThreadedFiles(threads);
  shippedFactory ??= tf.findBackendFactory('wasm') ?? undefined;
  if (tf.findBackend('wasm')) throw new Error('the wasm backend is already running');
  tf.removeBackend('wasm');
  tf.registerBackend(
    'wasm',
    async () => {
      const module = await createThreadedModule(threads);
      setThreadsCount(threads);
      return new BackendWasm(module as unknown as ConstructorParameters<typeof BackendWasm>[0]);
    },
    WASM_PRIORITY,
  );
}

/** Puts the package's own (single-threaded in Node) factory back. */
export function restoreShippedWasm(): void {
  if (!shippedFactory) return;
  tf.removeBackend('wasm');
  tf.registerBackend('wasm', shippedFactory, WASM_PRIORITY);
}
