/**
 * Sharded feature extraction on one machine: N `convkit features --shard I/N`
 * processes at once (T OpenMP threads each) vs one process over everything
 * (all cores), each followed by `convkit features merge`. Prints the wall
 * times and CPU seconds side by side and the sha256 of every merged feature
 * file of both, which must be equal. On a machine other work also loads, the
 * CPU seconds say more than the wall times.
 *
 * Run: nice -n 10 node --import tsx bench/feature-shards.ts [shards=4] [threadsPerShard=1] [imageSize=224] [data=../shared/data/cats_and_dogs_small]
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../src/util/paths.js';

const [shards = 4, threads = 1, size = 224] = process.argv.slice(2, 5).map(Number);
const data = process.argv[5] ?? join(packageRoot(), '..', 'shared', 'data', 'cats_and_dogs_small');
if (!existsSync(data)) {
  console.log(`skipped: ${data} not found`);
  process.exit(0);
}
const work = mkdtempSync(join(tmpdir(), 'convkit-feature-shards-bench-'));

/** CPU seconds (user + system, all threads) of every process `convkit` ran, by label. */
const cpu: Record<string, number> = {};

/** Runs `convkit ARGS` in a process of its own; resolves when it exits 0, adding its CPU time to `cpu[label]`. */
function convkit(label: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<void> {
  // The child reports its own CPU time (getrusage of the whole process, OpenMP threads included) on its last line.
  const script = [
    "import { main } from './src/cli/main.ts';",
    'process.exitCode = await main(process.argv.slice(1));',
    'const u = process.cpuUsage(); console.log(`cpu ${(u.user + u.system) / 1e6}`);',
  ].join(' ');
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, ...args], {
    cwd: packageRoot(),
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  return new Promise((resolve, reject) =>
    child.on('exit', (code) => {
      cpu[label] = (cpu[label] ?? 0) + Number(/cpu ([\d.]+)/.exec(out)?.[1] ?? NaN);
      if (code === 0) resolve();
      else reject(new Error(`convkit ${args.join(' ')} exited with ${code}`));
    }),
  );
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await work();
  return (performance.now() - t0) / 1000;
}

/** sha256 of each merged feature file, by cache key. */
function digests(dir: string): Record<string, string> {
  const entries = join(dir, 'features');
  return Object.fromEntries(
    readdirSync(entries)
      .filter((n) => n.endsWith('.bin'))
      .sort()
      .map((n) => [
        n,
        createHash('sha256')
          .update(readFileSync(join(entries, n)))
          .digest('hex'),
      ]),
  );
}

try {
  const extract = ['features', '--data', data, '--base', 'mobilenet_v1', '--image-size', String(size), '--quiet'];
  const single = join(work, 'single'),
    sharded = join(work, 'sharded');
  console.log(`data ${data}, mobilenet_v1 at ${size}×${size}; ${shards} shards × ${threads} thread(s) at once vs 1 process on all cores`);

  const oneExtract = await timed(() => convkit('one', [...extract, '--shard', '0/1', '--out', single]));
  const oneMerge = await timed(() => convkit('one-merge', ['features', 'merge', single, '--quiet']));
  const nExtract = await timed(() =>
    Promise.all(
      Array.from({ length: shards }, (_, i) =>
        convkit('shards', [...extract, '--shard', `${i}/${shards}`, '--out', sharded], { OMP_NUM_THREADS: String(threads) }),
      ),
    ),
  );
  const nMerge = await timed(() => convkit('shards-merge', ['features', 'merge', sharded, '--quiet']));

  const a = digests(single),
    b = digests(sharded);
  const c = (label: string) => cpu[label]!.toFixed(1);
  console.log('\n| | extract wall (s) | merge wall (s) | total wall (s) | extract CPU (s) | merge CPU (s) |\n|---|---|---|---|---|---|');
  console.log(`| 1 process | ${oneExtract.toFixed(1)} | ${oneMerge.toFixed(1)} | ${(oneExtract + oneMerge).toFixed(1)} | ${c('one')} | ${c('one-merge')} |`);
  console.log(
    `| ${shards} shards | ${nExtract.toFixed(1)} | ${nMerge.toFixed(1)} | ${(nExtract + nMerge).toFixed(1)} | ${c('shards')} (all ${shards}) | ${c('shards-merge')} |`,
  );
  console.log(`sharded / single (total): ${((nExtract + nMerge) / (oneExtract + oneMerge)).toFixed(2)}`);
  console.log('\nsha256 of the merged feature files (cache key: 1 process | shards):');
  for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])]) console.log(`${key}: ${a[key] ?? 'missing'} | ${b[key] ?? 'missing'}`);
  const same = JSON.stringify(a) === JSON.stringify(b);
  console.log(same ? 'byte-identical: yes' : 'byte-identical: NO');
  if (!same) process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
