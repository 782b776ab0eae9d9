import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { applyPlan, readPlan, undoPlan, type ApplyResult } from '../src/audit/apply.js';
import { PLAN_FORMAT, type AuditPlan, type PlanAction } from '../src/audit/plan.js';
import { solidPng, tempDir } from './data-fixtures.js';

/** A whole-second mtime, so a copy's restored time compares exactly. */
const PHOTO_TIME = new Date('2021-03-04T05:06:07Z');

const SPLIT_FILES = [
  'train/cat/c1.png',
  'train/cat/c2.png',
  'train/cat/old/c2.png',
  'train/cat/same.png',
  'train/dog/d1.png',
  'train/dog/same.png',
  'validation/cat/c3.png',
  'validation/dog/d3.png',
  'test/cat/c4.png',
  'test/dog/d4.png',
];
const CLASS_FILES = ['cat/a.png', 'cat/b.png', 'cat/nested/n.png', 'dog/d.png', 'dog/e.png'];

interface Fixture {
  root: string;
  data: string;
  quarantine: string;
  undoLog: string;
}

/** root/photos holding `files`, tiny PNGs of distinct colours; the quarantine and undo log go beside it in root. */
async function withData(files: string[], work: (f: Fixture) => Promise<void>): Promise<void> {
  const { dir: root, cleanup } = tempDir('convkit-audit-apply-');
  try {
    const data = join(root, 'photos');
    for (const [i, file] of files.entries()) {
      const path = join(data, file);
      await fs.mkdir(dirname(path), { recursive: true });
      await solidPng(path, [i * 25, 255 - i * 25, (i * 67) % 256], 4, 4);
      await fs.utimes(path, PHOTO_TIME, PHOTO_TIME);
    }
    await work({ root, data, quarantine: join(root, 'photos.quarantine'), undoLog: join(root, 'photos.audit-undo.json') });
  } finally {
    cleanup();
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Every folder and file below `root` (hidden ones too), each file as sha256, mtime and mode. */
async function snapshot(root: string): Promise<Record<string, string>> {
  const entries: Record<string, string> = {};
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        entries[relative(root, path) + '/'] = 'folder';
        await walk(path);
      } else {
        const st = await fs.stat(path);
        entries[relative(root, path)] = `${sha256(await fs.readFile(path))} ${st.mtimeMs} ${st.mode}`;
      }
    }
  };
  await walk(root);
  return entries;
}

function planFor(data: string, actions: PlanAction[]): AuditPlan {
  return { format: PLAN_FORMAT, version: 1, data, actions };
}

async function writePlan(root: string, plan: unknown, name = 'plan.json'): Promise<string> {
  const path = join(root, name);
  await fs.writeFile(path, typeof plan === 'string' ? plan : JSON.stringify(plan));
  return path;
}

/** Asserts that `work` is refused with a message matching every pattern and that nothing below `root` changed. */
async function assertRefused(root: string, work: () => Promise<unknown>, ...patterns: RegExp[]): Promise<void> {
  const before = await snapshot(root);
  await assert.rejects(work, (err: Error) => {
    for (const pattern of patterns) assert.match(err.message, pattern);
    return true;
  });
  assert.deepEqual(await snapshot(root), before, 'a refusal changes nothing');
}

/** Runs `work` with fs.promises.rename replaced (the module under test calls it through the same object). */
async function withRename(replacement: (real: typeof fs.rename) => typeof fs.rename, work: () => Promise<void>): Promise<void> {
  const mutable = fs as { rename: typeof fs.rename };
  const real = fs.rename;
  mutable.rename = replacement(real);
  try {
    await work();
  } finally {
    mutable.rename = real;
  }
}

const FIRST_OK: PlanAction = { action: 'exclude', file: 'train/cat/c1.png' };

test('splits layout: apply quarantines beside the data, relabels into the new class, logs each move; undo restores every byte', async () => {
  await withData(SPLIT_FILES, async ({ root, data, quarantine, undoLog }) => {
    const planPath = await writePlan(
      root,
      planFor(data, [
        { action: 'exclude', file: 'validation/cat/c3.png', reason: 'near duplicate of train/cat/c1.png' },
        { action: 'exclude', file: 'test/dog/d4.png' },
        { action: 'move', file: 'train/cat/c2.png', toClass: 'dog' },
      ]),
    );
    const before = await snapshot(root);
    const lines: string[] = [];
    const result: ApplyResult = await applyPlan(await readPlan(planPath), { log: (line) => lines.push(line) });
    assert.deepEqual(result, { moved: 3, quarantine, undoLog });
    assert.equal(lines.length, 3);

    const after = await snapshot(root);
    assert.equal(after['photos.quarantine/validation/cat/c3.png'], before['photos/validation/cat/c3.png'], 'same bytes, mtime and mode');
    assert.equal(after['photos.quarantine/test/dog/d4.png'], before['photos/test/dog/d4.png']);
    assert.equal(after['photos/train/dog/c2.png'], before['photos/train/cat/c2.png']);
    for (const gone of ['photos/validation/cat/c3.png', 'photos/test/dog/d4.png', 'photos/train/cat/c2.png']) assert.equal(after[gone], undefined, gone);
    assert.equal(after['photos.quarantine/train/'], undefined, 'only the folders excluded files need');

    const log = JSON.parse(await fs.readFile(undoLog, 'utf8')) as { moves: { from: string; to: string; sha256: string }[] };
    assert.deepEqual(
      log.moves.map((m) => [m.from, m.to]),
      [
        ['photos/validation/cat/c3.png', 'photos.quarantine/validation/cat/c3.png'],
        ['photos/test/dog/d4.png', 'photos.quarantine/test/dog/d4.png'],
        ['photos/train/cat/c2.png', 'photos/train/dog/c2.png'],
      ],
    );
    assert.equal(log.moves[2]!.sha256, sha256(await fs.readFile(join(data, 'train/dog/c2.png'))));

    assert.deepEqual(await undoPlan(data), { restored: 3 });
    assert.deepEqual(await snapshot(root), before, 'the folder is as before; the quarantine and the undo log are gone');
  });
});

test('class layout: a file in a nested folder moves to the new class by name; `data` overrides the plan’s; undo is exact', async () => {
  await withData(CLASS_FILES, async ({ root, data, quarantine, undoLog }) => {
    const before = await snapshot(root);
    const plan = planFor('/somewhere/it/was/audited', [
      { action: 'move', file: 'cat/nested/n.png', toClass: 'dog' },
      { action: 'exclude', file: 'dog/e.png' },
    ]);
    assert.deepEqual(await applyPlan(plan, { data }), { moved: 2, quarantine, undoLog });
    const after = await snapshot(root);
    assert.equal(after['photos/dog/n.png'], before['photos/cat/nested/n.png']);
    assert.equal(after['photos.quarantine/dog/e.png'], before['photos/dog/e.png']);
    assert.equal(after['photos/cat/nested/'], 'folder', 'the emptied folder stays: undo needs it');
    assert.deepEqual(await undoPlan(data), { restored: 2 });
    assert.deepEqual(await snapshot(root), before);
  });
});

test('refusals leave everything untouched and name the problem', async () => {
  await withData(SPLIT_FILES, async ({ root, data }) => {
    const refuse = (action: PlanAction, ...patterns: RegExp[]) => assertRefused(root, () => applyPlan(planFor(data, [FIRST_OK, action])), ...patterns);
    await refuse(
      { action: 'move', file: 'train/dog/same.png', toClass: 'cat' },
      /plan action 1 \(move train\/dog\/same\.png\)/,
      /photos\/train\/cat\/same\.png already exists/,
    );
    await refuse({ action: 'move', file: 'train/dog/d1.png', toClass: 'bird' }, /class bird is not a class folder of .*photos\/train \(classes: cat, dog\)/);
    await refuse({ action: 'exclude', file: '../x.png' }, /actions\[1\] \(exclude\) file "\.\.\/x\.png" leads outside the data folder/);
    await refuse({ action: 'exclude', file: 'train/../../x.png' }, /leads outside the data folder/);
    await refuse({ action: 'exclude', file: join(data, 'train/dog/d1.png') }, /is absolute/);
    await refuse({ action: 'exclude', file: 'train/cat/ghost.png' }, /photos\/train\/cat\/ghost\.png does not exist/);
    await refuse({ action: 'exclude', file: 'train/cat' }, /photos\/train\/cat is not a file/);
    await refuse(
      { action: 'move', file: 'train/cat/c1.png', toClass: 'dog' },
      /plan action 0 \(exclude train\/cat\/c1\.png\) and plan action 1 .* name the same file/,
    );
    await refuse({ action: 'move', file: 'train/cat/c2.png', toClass: 'cat' }, /already in class cat/);
    await assertRefused(
      root,
      () =>
        applyPlan(
          planFor(data, [
            FIRST_OK,
            { action: 'move', file: 'train/cat/c2.png', toClass: 'dog' },
            { action: 'move', file: 'train/cat/old/c2.png', toClass: 'dog' },
          ]),
        ),
      /plan action 1 .* and plan action 2 .* would both move a file to .*photos\/train\/dog\/c2\.png/,
    );
  });
});

test('a file already in the quarantine is never overwritten', async () => {
  await withData(CLASS_FILES, async ({ root, data, quarantine }) => {
    await fs.mkdir(join(quarantine, 'cat'), { recursive: true });
    await fs.writeFile(join(quarantine, 'cat/b.png'), 'excluded by an earlier plan');
    await assertRefused(
      root,
      () =>
        applyPlan(
          planFor(data, [
            { action: 'exclude', file: 'cat/a.png' },
            { action: 'exclude', file: 'cat/b.png' },
          ]),
        ),
      /photos\.quarantine\/cat\/b\.png already exists/,
    );
  });
});

test('malformed plans are refused naming the plan file and the entry', async () => {
  await withData(CLASS_FILES, async ({ root, data }) => {
    const ok = { action: 'exclude', file: 'cat/a.png' };
    const cases: [unknown, RegExp][] = [
      ['{ "format": ', /is not valid JSON/],
      [{ ...planFor(data, []), format: 'something-else' }, /format is "something-else", not "convkit-audit-plan"/],
      [{ ...planFor(data, []), version: 2 }, /version 2 is not supported/],
      [{ ...planFor(data, []), data: 7 }, /"data" must name the data folder/],
      [{ ...planFor(data, []), actions: {} }, /"actions" must be a list/],
      [{ ...planFor(data, []), actions: [ok, { action: 'delete', file: 'cat/b.png' }] }, /actions\[1\] has action "delete"; it must be "exclude" or "move"/],
      [{ ...planFor(data, []), actions: [ok, { action: 'move', file: 'cat/b.png' }] }, /actions\[1\] \(move cat\/b\.png\) has toClass undefined/],
      [{ ...planFor(data, []), actions: [ok, { action: 'move', file: 'cat/b.png', toClass: '../dog' }] }, /actions\[1\] .* toClass "\.\.\/dog"/],
      [{ ...planFor(data, []), actions: [ok, { action: 'exclude' }] }, /actions\[1\] \(exclude\) has no "file"/],
      [{ ...planFor(data, []), actions: [ok, { action: 'exclude', file: '../x.png' }] }, /actions\[1\] .* leads outside the data folder/],
    ];
    for (const [i, [plan, pattern]] of cases.entries()) {
      const path = await writePlan(root, plan, `plan-${i}.json`);
      await assertRefused(root, () => readPlan(path), new RegExp(`plan ${path}`), pattern);
    }
    await assertRefused(root, () => readPlan(join(root, 'no-such-plan.json')), /no-such-plan\.json cannot be read/);
  });
});

test('a second apply is refused while an undo log exists; undo without a log is refused', async () => {
  await withData(CLASS_FILES, async ({ root, data, undoLog }) => {
    const before = await snapshot(root);
    await applyPlan(planFor(data, [{ action: 'exclude', file: 'cat/a.png' }]));
    await assertRefused(
      root,
      () => applyPlan(planFor(data, [{ action: 'exclude', file: 'dog/d.png' }])),
      new RegExp(`undo log ${undoLog} already exists`),
      /undo that apply first, or move the log away/,
    );
    await undoPlan(data);
    assert.deepEqual(await snapshot(root), before);
    await assertRefused(root, () => undoPlan(data), /there is no undo log .*photos\.audit-undo\.json/);
  });
});

test('undo is refused, naming the file, when a moved file changed, vanished or its place was taken; then succeeds once fixed', async () => {
  await withData(SPLIT_FILES, async ({ root, data, quarantine }) => {
    const before = await snapshot(root);
    await applyPlan(planFor(data, [FIRST_OK, { action: 'move', file: 'validation/cat/c3.png', toClass: 'dog' }]));
    const moved = join(data, 'validation/dog/c3.png');
    const original = await fs.readFile(moved);

    await fs.writeFile(moved, Buffer.concat([original, Buffer.from([0])]));
    await assertRefused(root, () => undoPlan(data), /photos\/validation\/dog\/c3\.png has changed since the plan was applied/);
    await fs.rm(moved);
    await assertRefused(root, () => undoPlan(data), /photos\/validation\/dog\/c3\.png is missing/);
    await fs.writeFile(moved, original);
    await fs.utimes(moved, PHOTO_TIME, PHOTO_TIME);
    await fs.writeFile(join(data, 'train/cat/c1.png'), 'a new file in the old place');
    await assertRefused(root, () => undoPlan(data), /photos\/train\/cat\/c1\.png already exists/);
    await fs.rm(join(data, 'train/cat/c1.png'));

    assert.deepEqual(await undoPlan(data), { restored: 2 });
    assert.deepEqual(await snapshot(root), before);
    await assert.rejects(fs.stat(quarantine));
  });
});

test('a move that fails midway puts back the files already moved', async () => {
  await withData(SPLIT_FILES, async ({ root, data }) => {
    const before = await snapshot(root);
    const failing = (real: typeof fs.rename) =>
      (async (from, to) => {
        if (String(from).endsWith('c2.png')) throw Object.assign(new Error(`EACCES: permission denied, rename '${String(from)}'`), { code: 'EACCES' });
        return real(from, to);
      }) as typeof fs.rename;
    await withRename(failing, async () => {
      await assert.rejects(applyPlan(planFor(data, [FIRST_OK, { action: 'exclude', file: 'train/cat/c2.png' }])), /EACCES/);
    });
    assert.deepEqual(await snapshot(root), before, 'first move undone; no quarantine, no undo log');
  });
});

test('across file systems (EXDEV) a move copies, verifies and keeps the mtime; undo is still exact', async () => {
  await withData(CLASS_FILES, async ({ root, data }) => {
    const before = await snapshot(root);
    const crossDevice = (real: typeof fs.rename) =>
      (async (from, to) => {
        // Temp files (a leading dot) rename within their folder; only the photos cross.
        if (!String(from).split('/').pop()!.startsWith('.')) throw Object.assign(new Error('EXDEV: cross-device link not permitted'), { code: 'EXDEV' });
        return real(from, to);
      }) as typeof fs.rename;
    await withRename(crossDevice, async () => {
      await applyPlan(
        planFor(data, [
          { action: 'exclude', file: 'cat/a.png' },
          { action: 'move', file: 'dog/d.png', toClass: 'cat' },
        ]),
      );
      const after = await snapshot(root);
      assert.equal(after['photos.quarantine/cat/a.png'], before['photos/cat/a.png']);
      assert.equal(after['photos/cat/d.png'], before['photos/dog/d.png']);
      assert.equal(after['photos/dog/d.png'], undefined);
      assert.deepEqual(await undoPlan(data), { restored: 2 });
    });
    assert.deepEqual(await snapshot(root), before);
  });
});

test('an apply interrupted before its last logged move can still be undone', async () => {
  await withData(CLASS_FILES, async ({ root, data, quarantine }) => {
    const before = await snapshot(root);
    await applyPlan(
      planFor(data, [
        { action: 'move', file: 'cat/a.png', toClass: 'dog' },
        { action: 'exclude', file: 'cat/b.png' },
      ]),
    );
    // As if the process died after logging the second move but before making it.
    await fs.rename(join(quarantine, 'cat/b.png'), join(data, 'cat/b.png'));
    assert.deepEqual(await undoPlan(data), { restored: 1 });
    assert.deepEqual(await snapshot(root), before);
  });
});
