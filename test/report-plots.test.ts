import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import {
  confusionMatrixChart,
  imageGrid,
  learningCurves,
  normalizeHistory,
  svgSize,
  svgToPng,
  uniquifySvgIds,
  writeFigure,
  accuracySummaryChart,
  fontsRender,
} from '../src/report/index.js';
import { ConvkitError } from '../src/util/errors.js';

const HISTORY = {
  loss: [0.69, 0.6, 0.52, 0.45, 0.4],
  acc: [0.52, 0.64, 0.72, 0.78, 0.81],
  val_loss: [0.68, 0.62, 0.58, 0.57, 0.6],
  val_acc: [0.55, 0.63, 0.68, 0.7, 0.69],
};

/** The contents of the first `<g class="CLASS...">…</g>` that holds no nested group. */
function markGroup(svg: string, cls: string): string {
  const m = new RegExp(`<g class="${cls}[^"]*"[^>]*>((?:(?!<g[ >]).)*?)</g>`, 's').exec(svg);
  assert.ok(m, `no ${cls} group in the SVG`);
  return m[1]!;
}

function translates(group: string): [number, number][] {
  return [...group.matchAll(/transform="translate\(([-\d.e]+),([-\d.e]+)\)"/g)].map((m) => [Number(m[1]), Number(m[2])]);
}

/** Mean absolute difference between two same-size PNGs' RGB pixels. */
async function pixelDifference(a: Buffer, b: Buffer): Promise<number> {
  const [ra, rb] = await Promise.all([a, b].map((x) => sharp(x).removeAlpha().raw().toBuffer()));
  assert.equal(ra!.length, rb!.length);
  let sum = 0;
  for (let i = 0; i < ra!.length; i++) sum += Math.abs(ra![i]! - rb![i]!);
  return sum / ra!.length;
}

test('normalizeHistory pairs val_ metrics, counts epochs from 1 and rejects ragged input', () => {
  const h = normalizeHistory({
    epoch: [0, 1, 2],
    history: { loss: [1, 0.5, NaN], val_loss: [1.1, 0.7, 0.6], accuracy: [0.5, 0.6, 0.7], val_accuracy: [0.4, 0.5, 0.6] },
  });
  assert.deepEqual(h.epochs, [1, 2, 3]);
  assert.equal(h.accuracyKey, 'accuracy');
  assert.deepEqual(
    h.metrics.map((m) => m.metric),
    ['loss', 'accuracy'],
  );
  assert.deepEqual(h.metrics[0]!.train, [1, 0.5, null]);
  assert.deepEqual(h.metrics[0]!.val, [1.1, 0.7, 0.6]);
  assert.throws(() => normalizeHistory({ loss: [1, 2], acc: [1] }), ConvkitError);
  assert.throws(() => normalizeHistory({}), /no epochs/);
});

test('learningCurves draws training dots and a validation line per metric, at the right places', async () => {
  const fig = await learningCurves(HISTORY, { title: 'Small convnet' });
  assert.match(fig.svg, /Training and validation accuracy/);
  assert.match(fig.svg, /Training and validation loss/);
  assert.match(fig.svg, /Small convnet/);
  // Accuracy panel: one dot per epoch for training.
  const dots = translates(markGroup(fig.svg, 'mark-symbol role-mark concat_0_layer_0_marks'));
  assert.equal(dots.length, 5);
  // Dots are evenly spaced in x and placed linearly in y by value (y grows downward).
  const dx = dots[1]![0] - dots[0]![0];
  assert.ok(dx > 0);
  dots.forEach(([x], i) => assert.ok(Math.abs(x - dots[0]![0] - i * dx) < 1e-6));
  const slope = (dots[4]![1] - dots[0]![1]) / (HISTORY.acc[4]! - HISTORY.acc[0]!);
  assert.ok(slope < 0);
  dots.forEach(([, y], i) => assert.ok(Math.abs(y - dots[0]![1] - slope * (HISTORY.acc[i]! - HISTORY.acc[0]!)) < 1e-6, `dot ${i} off its value`));
  // Validation line: one path through 5 points in each panel.
  for (const panel of [0, 1]) {
    const line = markGroup(fig.svg, `mark-line role-mark concat_${panel}_layer_1_marks`);
    const d = /d="([^"]+)"/.exec(line)?.[1] ?? '';
    assert.equal((d.match(/[ML]/g) ?? []).length, 5, `panel ${panel} line has 5 vertices`);
  }
  assert.match(fig.svg, /training/);
  assert.match(fig.svg, /validation/);
});

test('learningCurves PNG is the SVG at twice the size, with its text rendered', async () => {
  const fig = await learningCurves(HISTORY);
  const { width, height } = svgSize(fig.svg);
  const meta = await sharp(fig.png).metadata();
  assert.equal(meta.format, 'png');
  assert.equal(meta.width, Math.round(width * 2));
  assert.equal(meta.height, Math.round(height * 2));
  // Removing every text element must change the picture: fonts render.
  const noText = fig.svg.replace(/<text\b[^>]*>.*?<\/text>/gs, '');
  assert.notEqual(noText, fig.svg);
  const diff = await pixelDifference(fig.png, await svgToPng(noText));
  assert.ok(diff > 0.5, `text adds only ${diff.toFixed(3)} mean intensity`);
});

test('PNG text is drawn with real glyphs, not missing-glyph boxes', async () => {
  assert.ok(await fontsRender(), 'every character renders as the same box: install a font (Debian: fonts-dejavu-core fontconfig-config)');
});

test('learningCurves with only training loss draws a single panel; unknown metric is an error', async () => {
  const fig = await learningCurves({ loss: [1, 0.8, 0.7] });
  assert.match(fig.svg, /Training loss/);
  assert.doesNotMatch(fig.svg, /concat_1/);
  await assert.rejects(learningCurves(HISTORY, { metrics: ['auc'] }), /no metric "auc"/);
});

test('confusionMatrixChart draws n×n cells with counts, darker where the share is higher', async () => {
  const fig = await confusionMatrixChart(
    [
      [420, 80],
      [130, 370],
    ],
    ['cats', 'dogs'],
  );
  const rects = markGroup(fig.svg, 'mark-rect role-mark');
  const cells = [...rects.matchAll(/aria-label="([^"]*)"[^>]*fill="rgb\((\d+), (\d+), (\d+)\)"/g)];
  assert.equal(cells.length, 4);
  const brightness = (m: RegExpMatchArray): number => Number(m[2]) + Number(m[3]) + Number(m[4]);
  const cell = (t: string, p: string): RegExpMatchArray => cells.find((c) => c[1]!.includes(`true: ${t};`) && c[1]!.includes(`predicted: ${p};`))!;
  assert.match(cell('cats', 'cats')[1]!, /count: 420/);
  assert.match(cell('dogs', 'cats')[1]!, /count: 130/);
  assert.ok(brightness(cell('cats', 'cats')) < brightness(cell('cats', 'dogs')));
  assert.ok(brightness(cell('dogs', 'dogs')) < brightness(cell('dogs', 'cats')));
  const texts = [...markGroup(fig.svg, 'mark-text role-mark').matchAll(/>([^<]+)<\/text>/g)].map((m) => m[1]).sort();
  assert.deepEqual(texts, ['130', '370', '420', '80']);
  assert.match(fig.svg, /predicted class/);
  assert.match(fig.svg, /true class/);
  const meta = await sharp(fig.png).metadata();
  assert.equal(meta.width, Math.round(svgSize(fig.svg).width * 2));
});

test('confusionMatrixChart rejects a matrix that does not match the classes', async () => {
  await assert.rejects(confusionMatrixChart([[1, 2]], ['a', 'b']), ConvkitError);
  await assert.rejects(
    confusionMatrixChart(
      [
        [1, -2],
        [0, 1],
      ],
      ['a', 'b'],
    ),
    /negative/,
  );
});

test('accuracySummaryChart places a point per measured accuracy and a band per book range', async () => {
  const fig = await accuracySummaryChart([
    { name: 'small convnet', testAccuracy: 0.71, valAccuracy: 0.72, bookAccuracy: [0.7, 0.72] },
    { name: 'feature extraction', testAccuracy: 0.9, bookAccuracy: [0.9, 0.9] },
  ]);
  const points = markGroup(fig.svg, 'mark-symbol role-mark');
  assert.equal((points.match(/<path/g) ?? []).length, 3);
  const bars = markGroup(fig.svg, 'mark-rect role-mark');
  assert.equal((bars.match(/<path/g) ?? []).length, 2);
  assert.match(fig.svg, /feature extraction/);
});

test('uniquifySvgIds prefixes ids and the references to them', () => {
  const svg = '<svg><defs><clipPath id="clip1"><rect/></clipPath></defs><g clip-path="url(#clip1)"/><rect fill="url(#other)"/></svg>';
  const out = uniquifySvgIds(svg, 'p');
  assert.match(out, /id="p-clip1"/);
  assert.match(out, /url\(#p-clip1\)/);
  assert.match(out, /url\(#other\)/);
});

test('writeFigure writes .svg and .png atomically and leaves no temp files', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'convkit-fig-'));
  try {
    const fig = await learningCurves(HISTORY);
    const { svgPath, pngPath } = await writeFigure(join(dir, 'curves.svg'), fig.svg);
    assert.equal(svgPath, join(dir, 'curves.svg'));
    assert.equal(pngPath, join(dir, 'curves.png'));
    assert.equal(await readFile(svgPath, 'utf8'), fig.svg);
    const meta = await sharp(await readFile(pngPath)).metadata();
    assert.equal(meta.width, Math.round(svgSize(fig.svg).width * 2));
    await writeFigure(join(dir, 'again'), fig);
    assert.deepEqual((await readdir(dir)).sort(), ['again.png', 'again.svg', 'curves.png', 'curves.svg']);
    await assert.rejects(writeFigure(join(dir, 'bad'), 'not svg'), ConvkitError);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('imageGrid lays tiles out in columns with captions under them', async () => {
  const red = await sharp({ create: { width: 20, height: 20, channels: 3, background: { r: 255, g: 0, b: 0 } } })
    .png()
    .toBuffer();
  const blue = new Uint8Array(20 * 20 * 3);
  for (let i = 0; i < blue.length; i += 3) blue[i + 2] = 255;
  const gray = new Uint8Array(20 * 20).fill(128);
  const png = await imageGrid(
    [
      { data: red, caption: 'true cat\npred dog 0.97' },
      { data: blue, width: 20, height: 20 },
      { data: gray, width: 20, height: 20, caption: 'gray' },
    ],
    { columns: 2, tileSize: 40, gap: 10, fontSize: 12 },
  );
  const lineH = Math.round(12 * 1.3),
    captionH = 2 * lineH + 6;
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.width, 10 + 2 * (40 + 10));
  assert.equal(info.height, 10 + 2 * (40 + captionH + 10));
  const px = (x: number, y: number): number[] => Array.from(data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3));
  // Each 20 px tile is scaled to fill its 40 px cell.
  assert.deepEqual(px(30, 30), [255, 0, 0]);
  assert.deepEqual(px(80, 30), [0, 0, 255]);
  assert.deepEqual(px(30, 10 + 40 + captionH + 10 + 20), [128, 128, 128]);
  assert.deepEqual(px(5, 5), [255, 255, 255]);
  // Caption under the first tile has dark pixels; under the captionless second tile, none.
  const darkIn = (x0: number, y0: number, w: number, h: number): number => {
    let n = 0;
    for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) if (px(x, y)[0]! < 100) n++;
    return n;
  };
  assert.ok(darkIn(10, 50, 40, captionH) > 20, 'caption text is drawn');
  assert.equal(darkIn(60, 50, 40, captionH), 0);
});

test('imageGrid rejects raw pixels of the wrong size and empty input', async () => {
  await assert.rejects(imageGrid([{ data: new Uint8Array(10), width: 4, height: 4 }]), /do not make a 4×4 image/);
  await assert.rejects(imageGrid([]), ConvkitError);
});

test('imageGrid takes raw tiles as pixels whatever their first bytes look like', async () => {
  // First pixels that read as '<' (SVG), a PNG and a JPEG signature.
  const starts = [
    [60, 10, 20],
    [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a],
    [0xff, 0xd8, 0xff],
  ];
  const tiles = starts.map((start) => {
    const data = new Uint8Array(4 * 4 * 3).fill(60);
    data.set(start);
    return { data, width: 4, height: 4 };
  });
  const png = await imageGrid(tiles, { columns: 3, tileSize: 4, gap: 0 });
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.width, 12);
  // Each tile's first pixel comes out as given.
  for (const [i, start] of starts.entries()) assert.deepEqual(Array.from(data.subarray(i * 12, i * 12 + 3)), start.slice(0, 3));
});
