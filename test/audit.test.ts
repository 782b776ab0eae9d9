/**
 * convkit audit on real cats-vs-dogs photos with planted problems: a
 * corrupt file, re-encoded/resized and mirrored copies across splits, a
 * same-bytes copy in the other class, label flips and a blank frame are
 * each found; the untouched folder gives no findings at all; the command
 * writes its page and results, a second audit comes from the caches, and a
 * plan applied from the command line is undone byte for byte.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auditFolder } from '../src/audit/audit.js';
import type { AuditResult } from '../src/audit/types.js';
import { initBackend } from '../src/backend/index.js';
import { CATS_DOGS, cleanSet, plantedSet, type PlantedSet } from './audit-fixtures.js';
import { runCli, snapshot } from './cli-harness.js';

const skip = !existsSync(CATS_DOGS) && `${CATS_DOGS} is not here`;
let planted: PlantedSet;
let work: string;
let result: AuditResult;

before(async () => {
  if (skip) return;
  await initBackend();
  planted = await plantedSet();
  work = await mkdtemp(join(tmpdir(), 'convkit-audit-work-'));
  result = await auditFolder({ data: planted.root, cacheDir: join(work, 'cache'), silent: true });
});
after(async () => {
  await planted?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

test('a corrupt file is a finding naming it, not an error', { skip }, () => {
  assert.deepEqual(
    result.unreadable.map((u) => u.file),
    [planted.corrupt],
  );
  assert.match(result.unreadable[0]!.reason, /corrupt\.jpg/);
});

test('re-encoded, resized and mirrored copies across splits are leaks, reported first', { skip }, () => {
  const leaks = result.duplicates.filter((d) => d.relation === 'cross-split');
  assert.deepEqual(leaks.map((d) => [d.a, d.b]).sort(), [...planted.leaks].sort());
  assert.deepEqual(
    result.duplicates.slice(0, 2).map((d) => d.relation),
    ['cross-split', 'cross-split'],
  );
  assert.ok(leaks.find((d) => d.b.includes('mirrored'))!.mirrored);
});

test('the same photo in two classes is a label conflict', { skip }, () => {
  const conflicts = result.duplicates.filter((d) => d.relation === 'cross-class');
  assert.deepEqual(
    conflicts.map((d) => [d.a, d.b].sort()),
    [[...planted.conflict].sort()],
  );
  assert.equal(conflicts[0]!.kind, 'exact');
});

test('label flips are found at the top, each with the class it belongs to', { skip }, () => {
  const top = result.labelIssues.slice(0, 2 * planted.flipped.length + 1).map((i) => i.file);
  for (const f of planted.flipped) assert.ok(top.includes(f), `${f} is not among the top issues: ${top.join(', ')}`);
  for (const i of result.labelIssues.filter((x) => planted.flipped.includes(x.file))) assert.equal(i.suggestedClass, i.givenClass === 'cats' ? 'dogs' : 'cats');
});

test('a blank frame among photos is the outlier', { skip }, () => {
  assert.deepEqual(
    result.outliers.map((o) => o.file),
    [planted.blank],
  );
});

test('an untouched folder of photos gives no findings', { skip }, async () => {
  const clean = await cleanSet(40, 10);
  try {
    const r = await auditFolder({ data: clean, cacheDir: join(work, 'cache'), silent: true });
    assert.deepEqual([r.unreadable, r.duplicates, r.labelIssues, r.outliers, r.balance.warnings], [[], [], [], [], []]);
    assert.equal(r.images, 100);
  } finally {
    await rm(clean, { recursive: true, force: true });
  }
});

test('convkit audit writes the page and results; a second run comes from the caches; --apply and --undo round-trip', { skip, timeout: 300_000 }, async () => {
  const out = join(work, 'audit');
  const argv = ['audit', '--data', planted.root, '--out', out, '--cache-dir', join(work, 'cache'), '--quiet', '--json'];
  const first = await runCli(argv);
  assert.equal(first.code, 0, first.err.join('\n'));
  const counts = JSON.parse(first.out.at(-1)!);
  assert.deepEqual([counts.unreadable, counts.leaks, counts.labelConflicts, counts.outliers], [1, 2, 1, 1]);
  const written = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as AuditResult;
  assert.equal(written.cacheHit, true, 'the embeddings came from the cache the library run filled');
  assert.match(readFileSync(join(out, 'index.html'), 'utf8'), /leak/i);

  const before = await snapshot(planted.root);
  const plan = join(work, 'plan.json');
  const actions = [
    { action: 'exclude', file: planted.leaks[0]![1] },
    { action: 'move', file: planted.flipped[0]!, toClass: 'cats' },
  ];
  await writeFile(plan, JSON.stringify({ format: 'convkit-audit-plan', version: 1, data: written.data, actions }));
  const applied = await runCli(['audit', '--apply', plan]);
  assert.equal(applied.code, 0, applied.err.join('\n'));
  assert.ok(!existsSync(join(planted.root, planted.leaks[0]![1])));
  assert.ok(existsSync(join(`${planted.root}.quarantine`, planted.leaks[0]![1])));
  const undone = await runCli(['audit', '--undo', '--data', planted.root]);
  assert.equal(undone.code, 0, undone.err.join('\n'));
  assert.deepEqual(await snapshot(planted.root), before);
});

test('audit refuses an --out inside --data and flags of another mode', { skip }, async () => {
  const inside = await runCli(['audit', '--data', planted.root, '--out', join(planted.root, 'audit')]);
  assert.equal(inside.code, 2);
  assert.match(inside.err.join('\n'), /--out .* lies inside --data/);
  const mixed = await runCli(['audit', '--undo', '--data', planted.root, '--out', join(work, 'x')]);
  assert.match(mixed.err.join('\n'), /--out has no meaning with --undo/);
});
