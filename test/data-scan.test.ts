import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { scanImageFolder } from '../src/data/scan.js';
import { ConvkitError } from '../src/util/errors.js';
import { makeClassFolder, solidPng, tempDir } from './data-fixtures.js';

test('classes are the sorted sub-folder names, labels their indices, files sorted', async () => {
  const { dir, cleanup } = tempDir();
  try {
    await makeClassFolder(dir, { zebra: 2, ant: 3, Moth: 1 });
    await fs.writeFile(join(dir, 'notes.txt'), 'files at the top level are ignored');
    await fs.writeFile(join(dir, 'ant', '.DS_Store'), '');
    const folder = await scanImageFolder(dir);
    assert.deepEqual(folder.classNames, ['Moth', 'ant', 'zebra']);
    assert.deepEqual(
      folder.files.map((f) => [f.className, f.label]),
      [
        ['Moth', 0],
        ['ant', 1],
        ['ant', 1],
        ['ant', 1],
        ['zebra', 2],
        ['zebra', 2],
      ],
    );
    assert.deepEqual(
      folder.files.filter((f) => f.className === 'ant').map((f) => f.path),
      [0, 1, 2].map((i) => join(dir, 'ant', `ant.${i}.png`)),
    );
    assert.deepEqual(folder.skipped, []);
  } finally {
    cleanup();
  }
});

async function rejectsNaming(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof ConvkitError, `expected ConvkitError, got ${String(err)}`);
    assert.match(err.message, pattern);
    assert.match(err.message, /fix: /);
    return true;
  });
}

test('bad folders give one clear error naming the path', async () => {
  const { dir, cleanup } = tempDir();
  try {
    await rejectsNaming(scanImageFolder(join(dir, 'missing')), /missing does not exist/);
    await fs.writeFile(join(dir, 'file.png'), 'x');
    await rejectsNaming(scanImageFolder(join(dir, 'file.png')), /file\.png is not a folder/);
    await makeClassFolder(join(dir, 'one'), { cats: 2 });
    await rejectsNaming(scanImageFolder(join(dir, 'one')), /has 1 class sub-folder \(cats\); at least two/);
    await makeClassFolder(join(dir, 'empty'), { cats: 2 });
    await fs.mkdir(join(dir, 'empty', 'dogs'));
    await rejectsNaming(scanImageFolder(join(dir, 'empty')), /empty[/\\]dogs holds no images/);
  } finally {
    cleanup();
  }
});

test('a non-image file fails, or is listed in skipped with skipBad', async () => {
  const { dir, cleanup } = tempDir();
  try {
    await makeClassFolder(dir, { cats: 2, dogs: 2 });
    await fs.writeFile(join(dir, 'dogs', 'readme.txt'), 'hello');
    await fs.writeFile(join(dir, 'dogs', 'scan.bmp'), 'BM');
    await rejectsNaming(
      scanImageFolder(dir),
      /dogs[/\\]readme\.txt: not an image file: \.txt files are not read; convkit reads JPEG \(\.jpg \.jpeg \.jpe\), PNG/,
    );
    const folder = await scanImageFolder(dir, { skipBad: true });
    assert.equal(folder.files.length, 4);
    assert.deepEqual(folder.skipped.map((s) => s.path).sort(), [join(dir, 'dogs', 'readme.txt'), join(dir, 'dogs', 'scan.bmp')]);
    assert.ok(folder.skipped.every((s) => s.reason.startsWith('not an image file')));
  } finally {
    cleanup();
  }
});

test('symbolic links to class folders and images are followed', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const data = join(dir, 'data');
    await makeClassFolder(data, { cats: 2, dogs: 1 });
    await makeClassFolder(join(dir, 'elsewhere'), { birds: 2 });
    await fs.symlink(join(dir, 'elsewhere', 'birds'), join(data, 'birds'));
    await solidPng(join(dir, 'extra.png'), [1, 2, 3]);
    await fs.symlink(join(dir, 'extra.png'), join(data, 'cats', 'linked.png'));
    const folder = await scanImageFolder(data);
    assert.deepEqual(folder.classNames, ['birds', 'cats', 'dogs']);
    assert.equal(folder.files.length, 6);
    assert.ok(folder.files.some((f) => f.path === join(data, 'cats', 'linked.png') && f.className === 'cats'));
    assert.deepEqual(folder.skipped, []);
  } finally {
    cleanup();
  }
});
