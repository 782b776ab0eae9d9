import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { writeDirAtomic, writeFileAtomic } from '../src/util/atomic.js';
import { ownedBy } from '../src/util/output-guard.js';

const OWN = { what: 'a test folder', owns: ownedBy('stamp') };

test('concurrent writers into one folder: each write is whole, the folder ends complete, no temp left', async () => {
  // A folder swapped out between two looks happens in a few rounds in a hundred: run enough rounds to see it.
  for (let round = 0; round < 40; round++) {
    const root = await mkdtemp(join(tmpdir(), 'convkit-atomic-'));
    try {
      const dir = join(root, 'out');
      const writes = Array.from({ length: 8 }, (_, i) =>
        writeDirAtomic(
          dir,
          async (tmp) => {
            await writeFile(join(tmp, 'stamp'), String(i));
            await writeFile(join(tmp, 'payload'), String(i).repeat(10_000));
          },
          OWN,
        ),
      );
      await Promise.all(writes);
      const stamp = await readFile(join(dir, 'stamp'), 'utf8');
      assert.equal(await readFile(join(dir, 'payload'), 'utf8'), stamp.repeat(10_000), 'stamp and payload from the same writer');
      assert.deepEqual(await readdir(root), ['out'], 'no temp or old folders left');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }
});

test('two processes writing one file: readers see one whole version, never a mix', async () => {
  const root = await mkdtemp(join(tmpdir(), 'convkit-atomic-'));
  try {
    const target = join(root, 'entry.bin');
    const script = `import { writeFileAtomic } from ${JSON.stringify(new URL('../src/util/atomic.ts', import.meta.url).href)};
      const v = process.argv[1];
      for (let i = 0; i < 30; i++) await writeFileAtomic(${JSON.stringify(target)}, v.repeat(200_000));`;
    const child = (v: string) =>
      new Promise<number>((res) =>
        spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, v], { stdio: 'inherit' }).on('exit', (c) => res(c ?? 1)),
      );
    const reads: string[] = [];
    const running = Promise.all([child('a'), child('b')]);
    let done = false;
    void running.then(() => {
      done = true;
    });
    while (!done) {
      const text = await readFile(target, 'utf8').catch(() => '');
      if (text) reads.push(text);
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.deepEqual(await running, [0, 0]);
    for (const text of [...reads, await readFile(target, 'utf8')]) {
      assert.equal(text.length, 200_000);
      assert.ok(text === 'a'.repeat(200_000) || text === 'b'.repeat(200_000), 'a whole version');
    }
    assert.deepEqual(await readdir(root), ['entry.bin']);
    await writeFileAtomic(target, 'x');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
