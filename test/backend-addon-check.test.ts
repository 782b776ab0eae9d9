/**
 * A native addon cut short (an interrupted build or copy) must not kill the
 * process with SIGBUS: it is refused with a message naming the file and how
 * to rebuild it, and the backend falls back to wasm.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { closeSync, openSync, readSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { elfShortfall } from '../src/backend/elf-check.js';
import { addonBuilt, addonPath, loadAddon } from '../src/backend/native-addon.js';
import { ConvkitError } from '../src/util/errors.js';

// The addon when built, else node itself: both are ELF files.
const SOURCE = addonBuilt() ? addonPath : process.execPath;
let dir = '';
let cut = '';

/** The first `n` bytes of `path`. */
function head(path: string, n: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    return buf.subarray(0, readSync(fd, buf, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'convkit-addon-'));
  cut = join(dir, 'convkit_native.node');
  await writeFile(cut, head(SOURCE, 200_000));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('elfShortfall: a whole ELF file passes, one cut anywhere is short, other files are not judged', async () => {
  assert.equal(elfShortfall(SOURCE), undefined);
  assert.deepEqual(elfShortfall(cut)?.size, 200_000);
  assert.ok(elfShortfall(cut)!.needed > 200_000);
  for (const n of [3, 40, 63, 1000]) {
    const part = join(dir, `part-${n}.node`);
    await writeFile(part, head(SOURCE, n));
    // Fewer than 4 bytes cannot even be told apart from another format: dlopen reports those.
    if (n >= 4) assert.ok(elfShortfall(part), `cut at ${n} bytes`);
  }
  const text = join(dir, 'text.node');
  await writeFile(text, 'not an ELF file');
  assert.equal(elfShortfall(text), undefined);
});

test('loadAddon refuses a cut file with a message naming it and the rebuild command', () => {
  assert.throws(
    () => loadAddon(cut),
    (e: Error) => e instanceof ConvkitError && e.message.includes(cut) && e.message.includes('node scripts/build-native.mjs'),
  );
});

test('every command still runs on a cut addon: one notice, then the wasm backend', async () => {
  const script = join(dir, 'doctor.mjs');
  const main = pathToFileURL(join(import.meta.dirname, '..', 'src', 'cli', 'main.ts')).href;
  // Then a write on the JS cpu backend (wasm's helper kernels use it), which would suggest installing tfjs-node.
  await writeFile(
    script,
    `const { main } = await import(${JSON.stringify(main)});\nprocess.exitCode = await main(['doctor', '--json']);\n` +
      `const tf = await import(${JSON.stringify(pathToFileURL(createRequire(import.meta.url).resolve('@tensorflow/tfjs')).href)});\n` +
      `await tf.setBackend('cpu');\ntf.add(tf.ones([2]), tf.ones([2])).dataSync();\n`,
  );
  const env: NodeJS.ProcessEnv = { ...process.env, CONVKIT_NATIVE_ADDON: cut };
  delete env.CONVKIT_BACKEND;
  delete env.CONVKIT_REQUIRE_NATIVE; // this child is meant to fall back
  const r = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: join(import.meta.dirname, '..'), env, encoding: 'utf8' });
  assert.equal(r.signal, null, `killed by ${r.signal}`);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout.trim().split('\n').at(-1)!).backend, 'wasm');
  const notices = r.stderr.split('\n').filter((l) => l.includes(cut));
  assert.equal(notices.length, 1, r.stderr);
  assert.match(notices[0]!, /native backend unavailable .*cut short .*node scripts\/build-native\.mjs.*falling back/);
  assert.doesNotMatch(r.stderr, /tfjs-node/, 'no advice to install a backend convkit replaces');
});
