/**
 * bench/models-forward.ts measures on the backend convkit picks by default
 * (native when it loads), the one the README's numbers are for.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '../src/util/paths.js';

/** Runs `node --import tsx ARGS` in the package without CONVKIT_BACKEND; its stdout. */
function node(args: string[]): Promise<string> {
  const env = { ...process.env };
  delete env.CONVKIT_BACKEND;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: packageRoot(), env, stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    child.on('error', reject);
    child.on('close', () => resolve(out));
  });
}

test('bench/models-forward.ts runs on the backend convkit picks by default', async () => {
  const picked = `import { initBackend } from './src/backend/index.js'; console.log((await initBackend()).name);`;
  // An unknown base ends the bench right after it has named its backend.
  const [bench, expected] = await Promise.all([node([join('bench', 'models-forward.ts'), 'no_such_base']), node(['--input-type=module', '-e', picked])]);
  const backend = /^backend (\w+)/m.exec(bench)?.[1];
  assert.ok(backend, `no backend line in:\n${bench}`);
  assert.equal(backend, expected.trim());
});
