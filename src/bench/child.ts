/**
 * Child process of `convkit bench`: starts the backend named by
 * CONVKIT_BACKEND, times the workloads passed as JSON in argv[2] and prints
 * one JSON line on stdout. Progress goes to stderr.
 *
 * An entry point only: importing it runs the bench and exits the process.
 */
import { initBackend, type BackendName } from '../backend/index.js';
import { runWorkload, type ChildReply, type ChildRequest } from './run.js';
import { Progress } from '../util/progress.js';

async function main(): Promise<void> {
  const request = JSON.parse(process.argv[2] ?? '{}') as ChildRequest;
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
  for (const w of request.workloads) {
    const opts = w.mode === 'forward' ? request.forward : request.train;
    const progress = new Progress({ total: opts.warmup + opts.reps, label: `${name} ${w.name}`, unit: 'rep', silent: request.quiet });
    try {
      reply.results[w.name] = await runWorkload(w, opts, () => progress.tick());
      progress.finish();
    } catch (err) {
      progress.finish('failed');
      reply.results[w.name] = { error: (err as Error).message.split('\n')[0] };
    }
  }
  console.log(JSON.stringify(reply));
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
