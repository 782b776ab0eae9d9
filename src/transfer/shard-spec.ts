/**
 * Which shard of a feature extraction a process runs: "I/N" given outright,
 * or N given and I taken from JOB_COMPLETION_INDEX, which Kubernetes sets in
 * each pod of an Indexed Job, so one container command serves every pod.
 */
import { ConvkitError } from '../util/errors.js';

export interface ShardSpec {
  /** 0-based, below `count`. */
  index: number;
  count: number;
}

/** The variable an Indexed Job sets to the pod's completion index. */
export const JOB_INDEX_VARIABLE = 'JOB_COMPLETION_INDEX';

const DECIMAL = /^\d+$/;

/** "I/N" → {index: I, count: N}, with 0 ≤ I < N. */
export function parseShard(text: string, flag = '--shard'): ShardSpec {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN,
    count = m ? Number(m[2]) : NaN;
  if (!m || !Number.isSafeInteger(count) || count < 1 || index >= count) {
    throw new ConvkitError(
      `invalid ${flag}: ${JSON.stringify(text)}`,
      `give the shard as I/N with 0 ≤ I < N, e.g. ${flag} 0/4 … ${flag} 3/4 (or --shards N inside a Kubernetes Indexed Job)`,
    );
  }
  return { index, count };
}

/** The shard of this process when only the count is given: the index comes from JOB_COMPLETION_INDEX. */
export function shardFromJobIndex(count: number, env: NodeJS.ProcessEnv = process.env): ShardSpec {
  const raw = env[JOB_INDEX_VARIABLE];
  if (raw === undefined || raw === '') {
    throw new ConvkitError(
      `--shards ${count} takes the shard index from ${JOB_INDEX_VARIABLE}, which is not set`,
      `run it as a Kubernetes Indexed Job (completionMode: Indexed, completions: ${count}), or pass --shard I/${count} yourself`,
    );
  }
  const index = DECIMAL.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(index) || index >= count) {
    throw new ConvkitError(
      `${JOB_INDEX_VARIABLE}=${JSON.stringify(raw)} is not a shard index below --shards ${count}`,
      `give the Job completions: ${count} (the same N as --shards), or pass --shard I/${count}`,
    );
  }
  return { index, count };
}

/** "shard 2/4": how messages and progress bars name a shard. */
export function shardName(s: ShardSpec): string {
  return `shard ${s.index}/${s.count}`;
}
