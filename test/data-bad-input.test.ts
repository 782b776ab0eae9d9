import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import { basename, join } from 'node:path';
import sharp from 'sharp';
import { decodeImage } from '../src/data/decode.js';
import { fileErrorReason } from '../src/data/file-errors.js';
import { flowFromDirectory } from '../src/data/iterator.js';
import { prepareSplits, parseSplit } from '../src/data/prepare.js';
import { listImageFiles, scanImageFolder } from '../src/data/scan.js';
import { ConvkitError } from '../src/util/errors.js';
import { runCli } from './cli-harness.js';
import { corruptJpeg, makeClassFolder, solidPng, tempDir } from './data-fixtures.js';

/** Rejects with a one-line-plus-fix ConvkitError matching `pattern`. */
async function rejectsWith(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof ConvkitError, `expected ConvkitError, got ${String((err as Error)?.stack ?? err)}`);
    assert.match(err.message, pattern);
    assert.match(err.message, /\n {2}fix: /);
    assert.doesNotMatch(err.message, /follow-links/);
    return true;
  });
}

async function quietly(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await runCli(argv);
  return { code: r.code, out: r.out.join('\n'), err: r.err.join('\n') };
}

test('a JPEG with garbage in its middle is an error naming the file, not a garbage picture', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = join(dir, 'damaged.jpg');
    await corruptJpeg(file);
    // A lax decoder takes it without a word.
    assert.equal((await sharp(file, { failOn: 'error' }).raw().toBuffer({ resolveWithObject: true })).info.width, 96);
    await rejectsWith(decodeImage(file, { targetSize: [16, 16] }), /damaged\.jpg: (VipsJpeg: Corrupt JPEG data|damaged image data)/);

    await makeClassFolder(join(dir, 'data'), { cats: 2, dogs: 2 });
    await fs.copyFile(file, join(dir, 'data', 'dogs', 'damaged.jpg'));
    const it = await flowFromDirectory(join(dir, 'data'), { targetSize: [8, 8], batchSize: 8, shuffle: false });
    await rejectsWith(it.nextBatch(), /damaged\.jpg/);
    const skipping = await flowFromDirectory(join(dir, 'data'), { targetSize: [8, 8], batchSize: 8, shuffle: false, skipBad: true });
    const batch = await skipping.nextBatch();
    assert.equal(batch.files.length, 4);
    assert.deepEqual(
      skipping.skipped.map((s) => basename(s.path)),
      ['damaged.jpg'],
    );
    batch.x.dispose();
    batch.y?.dispose();
  } finally {
    cleanup();
  }
});

test('symbolic links are followed: linked class folders, all-link classes, a linked image beside real ones', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const data = join(dir, 'data'),
      store = join(dir, 'store');
    await makeClassFolder(store, { birds: 2, cats: 3 });
    await makeClassFolder(data, { dogs: 2 });
    await fs.symlink(join(store, 'birds'), join(data, 'birds'));
    await fs.mkdir(join(data, 'cats'));
    for (const f of await fs.readdir(join(store, 'cats'))) await fs.symlink(join(store, 'cats', f), join(data, 'cats', f));
    await fs.symlink(join(store, 'cats', 'cats.0.png'), join(data, 'dogs', 'extra.png'));
    const folder = await scanImageFolder(data);
    assert.deepEqual(folder.classNames, ['birds', 'cats', 'dogs']);
    assert.deepEqual(
      folder.files.map((f) => `${f.className}/${basename(f.path)}`),
      [
        'birds/birds.0.png',
        'birds/birds.1.png',
        'cats/cats.0.png',
        'cats/cats.1.png',
        'cats/cats.2.png',
        'dogs/dogs.0.png',
        'dogs/dogs.1.png',
        'dogs/extra.png',
      ],
    );
    assert.deepEqual(folder.skipped, []);
  } finally {
    cleanup();
  }
});

test('a link loop or a dangling link is an error naming the link, or skipped and listed', async () => {
  const { dir, cleanup } = tempDir();
  try {
    await makeClassFolder(dir, { cats: 2, dogs: 2 });
    const loop = join(dir, 'cats', 'loop.jpg'),
      up = join(dir, 'dogs', 'up'),
      gone = join(dir, 'dogs', 'gone.png'),
      self = join(dir, 'dogs', 'self.png');
    await fs.symlink('.', loop);
    await rejectsWith(scanImageFolder(dir), /cats[/\\]loop\.jpg: symbolic link loop \(it leads back to .*cats\)/);
    await fs.rm(loop);
    await fs.symlink('..', up);
    await rejectsWith(scanImageFolder(dir), /dogs[/\\]up: symbolic link loop \(it leads back to /);
    await fs.rm(up);
    await fs.symlink(join(dir, 'nowhere.png'), gone);
    await rejectsWith(scanImageFolder(dir), /gone\.png: dangling symbolic link \(its target .*nowhere\.png does not exist\)/);
    await fs.symlink('self.png', self);
    await fs.symlink('.', loop);
    await fs.symlink('..', up);
    const folder = await scanImageFolder(dir, { skipBad: true });
    assert.equal(folder.files.length, 4);
    assert.deepEqual(
      folder.skipped.map((s) => basename(s.path)),
      ['loop.jpg', 'gone.png', 'self.png', 'up'],
    );
    assert.match(folder.skipped[2]!.reason, /loop/);
    // predict's listing of a folder stops at the loop too, instead of following it 40 levels deep.
    const listed = await listImageFiles([join(dir, 'cats')], { skipBad: true });
    assert.deepEqual(
      listed.files.map((f) => basename(f)),
      ['cats.0.png', 'cats.1.png'],
    );
    assert.deepEqual(
      listed.skipped.map((s) => basename(s.path)),
      ['loop.jpg'],
    );
  } finally {
    cleanup();
  }
});

test("images in nested folders of a class are read, in Keras's order", async () => {
  const { dir, cleanup } = tempDir();
  try {
    await makeClassFolder(dir, { cats: 2, dogs: 2 });
    for (const sub of ['2019', join('2019', 'summer'), '2020']) {
      await fs.mkdir(join(dir, 'cats', sub), { recursive: true });
      for (let i = 0; i < (sub === '2020' ? 4 : 3); i++) await solidPng(join(dir, 'cats', sub, `p${i}.png`), [i, 1, 2]);
    }
    const folder = await scanImageFolder(dir);
    const cats = folder.files.filter((f) => f.className === 'cats').map((f) => f.path.slice(join(dir, 'cats').length + 1));
    assert.equal(cats.length, 12);
    assert.deepEqual(
      cats,
      [
        'cats.0.png',
        'cats.1.png',
        '2019/p0.png',
        '2019/p1.png',
        '2019/p2.png',
        '2019/summer/p0.png',
        '2019/summer/p1.png',
        '2019/summer/p2.png',
        '2020/p0.png',
        '2020/p1.png',
        '2020/p2.png',
        '2020/p3.png',
      ].map((p) => join(...p.split('/'))),
    );
    assert.ok(folder.files.filter((f) => f.className === 'cats').every((f) => f.label === 0));
  } finally {
    cleanup();
  }
});

test('unsupported formats are named with the formats convkit reads, whatever the file name says', async () => {
  const { dir, cleanup } = tempDir();
  try {
    await makeClassFolder(dir, { cats: 2, dogs: 2 });
    for (const name of ['photo.heic', 'logo.svg', 'scan.bmp']) {
      await fs.writeFile(join(dir, 'dogs', name), 'x');
      await rejectsWith(
        scanImageFolder(dir),
        new RegExp(
          `${name.replace('.', '\\.')}: not an image file: \\.${name.split('.')[1]} files are not read; convkit reads JPEG .*PNG .*WebP .*GIF .*TIFF .*AVIF`,
        ),
      );
      const folder = await scanImageFolder(dir, { skipBad: true });
      assert.deepEqual(
        folder.skipped.map((s) => basename(s.path)),
        [name],
      );
      await fs.rm(join(dir, 'dogs', name));
    }
    // Content decides too: an SVG named .png is refused by every command, as a .bmp name is.
    const svg = join(dir, 'drawing.png');
    await fs.writeFile(svg, '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8" fill="red"/></svg>');
    await rejectsWith(decodeImage(svg), /drawing\.png holds SVG image data, which convkit does not read; it reads JPEG/);
    const bmpNamed = join(dir, 'photo.bmp');
    await solidPng(bmpNamed, [1, 2, 3]);
    await rejectsWith(listImageFiles([bmpNamed]), /photo\.bmp: not an image file: \.bmp files are not read/);
  } finally {
    cleanup();
  }
});

test('prepare decodes every file before writing: zero-byte, truncated and text .jpg files are named, or left out and listed', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const src = join(dir, 'kaggle'),
      dest = join(dir, 'out');
    await fs.mkdir(src);
    for (const cls of ['cat', 'dog'])
      for (let i = 0; i < 6; i++)
        await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: i * 9, g: 3, b: 4 } } })
          .jpeg()
          .toFile(join(src, `${cls}.${i}.jpg`));
    const good = await fs.readFile(join(src, 'cat.0.jpg'));
    await fs.writeFile(join(src, 'cat.1.jpg'), '');
    await fs.writeFile(join(src, 'dog.2.jpg'), good.subarray(0, good.length >> 1));
    await fs.writeFile(join(src, 'dog.4.jpg'), 'just some text');
    const split = parseSplit('2,1');
    await rejectsWith(prepareSplits({ source: src, dest, split }), /cat\.1\.jpg is empty/);
    assert.ok(!existsSync(dest), 'nothing written');
    const r = await prepareSplits({ source: src, dest, split, skipBad: true });
    assert.deepEqual(
      r.skipped.map((s) => basename(s.path)),
      ['cat.1.jpg', 'dog.2.jpg', 'dog.4.jpg'],
    );
    assert.match(r.skipped[1]!.reason, /dog\.2\.jpg: .*premature end of JPEG/);
    assert.match(r.skipped[2]!.reason, /dog\.4\.jpg: .*unsupported image format/);
    const written = (await fs.readdir(join(dest, 'train', 'dog'))).concat(await fs.readdir(join(dest, 'validation', 'dog')));
    assert.ok(!written.includes('dog.2.jpg') && !written.includes('dog.4.jpg'));

    const cli = await quietly(['prepare', src, join(dir, 'out2'), '--split', '2,1', '--json', '--skip-bad']);
    assert.equal(cli.code, 0, cli.err);
    assert.deepEqual(
      JSON.parse(cli.out).skipped.map((s: { path: string }) => basename(s.path)),
      ['cat.1.jpg', 'dog.2.jpg', 'dog.4.jpg'],
    );
    assert.match(cli.err, /convkit prepare: skipped .*cat\.1\.jpg/);
    const refused = await quietly(['prepare', src, join(dir, 'out3'), '--split', '2,1']);
    assert.equal(refused.code, 2);
    assert.match(refused.err, /^convkit prepare: image .*cat\.1\.jpg is empty \(0 bytes\)\n {2}fix: .*--skip-bad/);
  } finally {
    cleanup();
  }
});

test('a file that cannot be opened says why: a folder, a named pipe, permission denied', async () => {
  const { dir, cleanup } = tempDir();
  try {
    await fs.mkdir(join(dir, 'x.jpg'));
    await rejectsWith(decodeImage(join(dir, 'x.jpg')), /cannot read image .*x\.jpg: it is a folder, not a file/);
    execFileSync('mkfifo', [join(dir, 'pipe.jpg')]);
    await rejectsWith(decodeImage(join(dir, 'pipe.jpg')), /pipe\.jpg: it is a named pipe, not a regular file/);
    await makeClassFolder(join(dir, 'data'), { cats: 2, dogs: 2 });
    execFileSync('mkfifo', [join(dir, 'data', 'cats', 'pipe.jpg')]);
    await rejectsWith(scanImageFolder(join(dir, 'data')), /cats[/\\]pipe\.jpg: it is a named pipe, not a regular file/);
    await fs.rm(join(dir, 'data', 'cats', 'pipe.jpg'));

    // Running as root, chmod 000 does not stop a read: the errors are simulated.
    const denied = (path: string) => Object.assign(new Error(`EACCES: permission denied, open '${path}'`), { code: 'EACCES', path });
    assert.equal(fileErrorReason(denied('/x')), 'permission denied');
    const file = join(dir, 'data', 'cats', 'cats.0.png');
    const readFile = fs.readFile;
    const m1 = mock.method(fs, 'readFile', (async (p: string, ...rest: unknown[]) =>
      p === file ? Promise.reject(denied(p)) : (readFile as (...a: unknown[]) => Promise<unknown>)(p, ...rest)) as typeof fs.readFile);
    try {
      await rejectsWith(decodeImage(file), /cannot read image .*cats\.0\.png: permission denied/);
    } finally {
      m1.mock.restore();
    }
    const classDir = join(dir, 'data', 'dogs');
    const readdir = fs.readdir;
    const m2 = mock.method(fs, 'readdir', (async (p: string, ...rest: unknown[]) =>
      p === classDir ? Promise.reject(denied(p)) : (readdir as (...a: unknown[]) => Promise<unknown>)(p, ...rest)) as typeof fs.readdir);
    try {
      await rejectsWith(scanImageFolder(join(dir, 'data')), /dogs: cannot read the folder: permission denied/);
      const scan = await quietly(['preview', '--data', join(dir, 'data'), '--out', join(dir, 'p.png'), '--image-size', '8', '--count', '1']);
      assert.equal(scan.code, 2);
      assert.match(scan.err, /^convkit preview: .*dogs: cannot read the folder: permission denied\n {2}fix: [^\n]*$/);
    } finally {
      m2.mock.restore();
    }
  } finally {
    cleanup();
  }
});
