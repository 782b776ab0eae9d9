/**
 * The audit's report page: its HTML (self-contained, escaped, sections in
 * order with their counts, images optional) and, in Debian's chromium driven
 * by playwright-core from file:// with the network unused, the controls that
 * build plan.json. Set CONVKIT_SCREENSHOT_DIR to keep a screenshot there.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import type { Browser, Page } from 'playwright-core';
import { thumbnail, writeAuditReport } from '../src/audit/report.js';
import { DEFAULT_THRESHOLDS, type AuditResult, type DuplicateFinding, type LabelIssueFinding } from '../src/audit/types.js';
import type { AuditPlan } from '../src/audit/plan.js';
import { launchChromium, skipWithoutChromium } from './chromium.js';

const skip = skipWithoutChromium;

/** A file name that breaks HTML, attributes and CSS selectors unless escaped. */
const ODD = 'train/cats/we<ird & "cat".png';
const BROKEN = 'train/dogs/broken.png';
const PICTURES = [
  'train/cats/c1.png',
  'train/cats/c2.png',
  'train/cats/c3.png',
  ODD,
  'train/dogs/d1.png',
  'train/dogs/d2.png',
  'train/foxes/f1.png',
  'test/cats/c1-copy.png',
  'test/dogs/d9.png',
];

/** Writes small distinct PNGs (and one file that is no image) under `data`. */
async function writeImages(data: string): Promise<void> {
  for (const [i, file] of PICTURES.entries()) {
    await mkdir(dirname(join(data, file)), { recursive: true });
    const background = { r: (i * 60) % 256, g: (i * 110) % 256, b: 200 - i * 20 };
    await sharp({ create: { width: 40, height: 30, channels: 3, background } })
      .png()
      .toFile(join(data, file));
  }
  await writeFile(join(data, BROKEN), 'not an image at all');
}

function duplicate(kind: DuplicateFinding['kind'], relation: DuplicateFinding['relation'], a: string, b: string, score: number): DuplicateFinding {
  return { kind, relation, a, b, score, hashDistance: kind === 'exact' ? 0 : 5, mirrored: false, reason: `${b} repeats ${a} & ${relation}` };
}

function labelIssue(file: string, givenClass: string, suggestedClass: string, givenProbability: number): LabelIssueFinding {
  const score = 1 - givenProbability;
  return { file, givenClass, suggestedClass, givenProbability, suggestedProbability: score, score, reason: `looks like <${suggestedClass}>` };
}

/** Findings of every kind, each list deliberately out of score order. */
function auditResult(data: string): AuditResult {
  return {
    format: 'convkit-audit',
    version: 1,
    data,
    layout: 'splits',
    splits: ['train', 'test'],
    classNames: ['cats', 'dogs', 'foxes'],
    images: PICTURES.length,
    base: 'mobilenet-v1-0.25',
    thresholds: DEFAULT_THRESHOLDS,
    timings: { embed: 1.5 },
    cacheHit: false,
    unreadable: [{ file: BROKEN, reason: 'not a PNG, JPEG, GIF, WebP or BMP image' }],
    duplicates: [
      duplicate('near', 'cross-split', 'train/dogs/d1.png', 'test/dogs/d9.png', 0.97),
      duplicate('exact', 'cross-split', 'train/cats/c1.png', 'test/cats/c1-copy.png', 1),
      duplicate('near', 'cross-class', 'train/cats/c2.png', 'train/dogs/d2.png', 0.93),
      duplicate('near', 'within-class', 'train/cats/c3.png', ODD, 0.99),
    ],
    labelIssues: [labelIssue('train/cats/c3.png', 'cats', 'dogs', 0.3), labelIssue('train/dogs/d2.png', 'dogs', 'cats', 0.1)],
    outliers: [
      { file: 'train/foxes/f1.png', className: 'foxes', distance: 0.41, score: 5.3, reason: 'far from the other foxes' },
      { file: ODD, className: 'cats', distance: 0.6, score: 8.2, reason: 'far from every cat' },
    ],
    balance: {
      counts: { train: { cats: 4, dogs: 3, foxes: 1 }, test: { cats: 1, dogs: 1, foxes: 0 } },
      ratio: { train: 4, test: Infinity },
      warnings: ['train: cats has 4× the images of foxes', 'test: foxes has no images'],
    },
  };
}

const HEADINGS = [
  'Train/test leaks (2)',
  'Label conflicts (1)',
  'Duplicates (1)',
  'Likely mislabeled (2)',
  'Outliers (2)',
  'Unreadable files (1)',
  'Class balance (2 warnings)',
];

/** The section headings of the page, in order, as text. */
function headings(html: string): string[] {
  return [...html.matchAll(/<section id="\w+" data-count="\d+"><h2>(.*?)<\/h2>/g)].map((m) => m[1]!.replace(/<[^>]+>/g, ''));
}

function assertSelfContained(html: string): void {
  assert.doesNotMatch(html, /src="http/);
  assert.doesNotMatch(html, /<link/);
  assert.doesNotMatch(html, /https?:\/\/|@import|@font-face/);
}

let dir: string;
let data: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'convkit-audit-report-'));
  data = join(dir, 'data');
  await writeImages(data);
});

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('thumbnail is a small JPEG data URI upright by EXIF, and undefined for a file that will not decode', async () => {
  const uri = await thumbnail(join(data, 'train/cats/c1.png'));
  assert.match(uri ?? '', /^data:image\/jpeg;base64,/);
  const meta = await sharp(Buffer.from(uri!.split(',')[1]!, 'base64')).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 112, 84]);
  const turned = join(dir, 'turned.jpg');
  await sharp({ create: { width: 40, height: 30, channels: 3, background: '#808080' } })
    .jpeg()
    .withMetadata({ orientation: 6 })
    .toFile(turned);
  const upright = await sharp(Buffer.from((await thumbnail(turned, 20))!.split(',')[1]!, 'base64')).metadata();
  assert.deepEqual([upright.width, upright.height], [15, 20]);
  assert.equal(await thumbnail(join(data, BROKEN)), undefined);
  assert.equal(await thumbnail(join(data, 'missing.png')), undefined);
});

test('writeAuditReport writes one self-contained page: sections in order with counts, names escaped, pictures inlined', async () => {
  const { indexPath } = await writeAuditReport(auditResult(data), { out: join(dir, 'report') });
  assert.equal(indexPath, join(dir, 'report', 'index.html'));
  const html = await readFile(indexPath, 'utf8');
  assertSelfContained(html);
  assert.deepEqual(headings(html), HEADINGS);
  assert.ok(!html.includes('we<ird') && !html.includes('<cats>'), 'a name or reason is not escaped');
  assert.match(html, /data-file="train\/cats\/we&lt;ird &amp; &quot;cat&quot;\.png"/);
  assert.match(html, /looks like &lt;cats&gt;/);
  // Two pictures per duplicate pair, one per label issue and outlier; the unreadable file has none.
  assert.equal((html.match(/<img src="data:image\/jpeg;base64,/g) ?? []).length, 4 * 2 + 2 + 2);
  assert.equal((html.match(/class="noimg"/g) ?? []).length, 1);
  assert.match(html, /9 images<\/span><span>3 classes: cats, dogs, foxes<\/span>/);
  assert.match(html, /convkit audit --apply plan\.json/);
  assert.match(html, /convkit audit --undo --data /);
});

test('images: false leaves every picture out and says so; empty sections say none found', async () => {
  const { indexPath } = await writeAuditReport(auditResult(data), { out: join(dir, 'private'), images: false });
  const html = await readFile(indexPath, 'utf8');
  assertSelfContained(html);
  assert.ok(!html.includes('data:image'), 'an image is embedded');
  assert.ok(!html.includes('<img'), 'an <img> is left');
  assert.match(html, /Images left out/);
  assert.deepEqual(headings(html), HEADINGS);

  const empty = { ...auditResult(data), unreadable: [], duplicates: [], labelIssues: [], outliers: [] };
  empty.balance = { ...empty.balance, warnings: [] };
  const quiet = await readFile((await writeAuditReport(empty, { out: join(dir, 'empty') })).indexPath, 'utf8');
  assert.equal((quiet.match(/none found/g) ?? []).length, 7);
  assert.match(quiet, /<table id="balance-table">/);
});

describe('audit page in Chromium', { skip }, () => {
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];
  const requests: string[] = [];

  before(async () => {
    const { indexPath } = await writeAuditReport(auditResult(data), { out: join(dir, 'browser') });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('request', (r) => {
      if (!/^(file|data|blob):/.test(r.url())) requests.push(r.url());
    });
    await page.goto(pathToFileURL(indexPath).href);
  });

  after(async () => {
    await browser?.close();
  });

  /** A CSS selector for the items naming `file` (quotes and backslashes escaped for the attribute string). */
  const itemOf = (file: string, section = 'main') => `${section} .item[data-file="${file.replace(/["\\]/g, '\\$&')}"]`;
  const plan = () => page.evaluate(() => (window as unknown as { auditPlan(): AuditPlan }).auditPlan());
  const shownPlan = async () => JSON.parse(await page.locator('#plan').innerText()) as AuditPlan;
  const states = (file: string) => page.$$eval(itemOf(file), (els) => els.map((el) => (el as HTMLElement).dataset.state));
  const reasonOf = (file: string) => auditResult(data).duplicates.find((d) => d.b === file)!.reason;

  test('renders every section in order, items by score, every picture decoded', async () => {
    assert.deepEqual(await page.$$eval('main section h2', (els) => els.map((el) => el.textContent)), HEADINGS);
    const leaks = await page.$$eval('#leaks .item', (els) => els.map((el) => (el as HTMLElement).dataset.file));
    assert.deepEqual(leaks, ['test/cats/c1-copy.png', 'test/dogs/d9.png']);
    const outliers = await page.$$eval('#outliers .item', (els) => els.map((el) => (el as HTMLElement).dataset.file));
    assert.deepEqual(outliers, [ODD, 'train/foxes/f1.png']);
    assert.equal(await page.locator(itemOf(ODD)).count(), 2);
    assert.match(await page.locator(itemOf(ODD, '#outliers')).innerText(), /we<ird & "cat"\.png/);
    const widths = await page.$$eval('.item img', (els) => els.map((img) => (img as HTMLImageElement).complete && (img as HTMLImageElement).naturalWidth));
    assert.equal(widths.length, 12);
    assert.ok(
      widths.every((w) => typeof w === 'number' && w > 0),
      'every picture decodes',
    );
    assert.equal(await page.locator('#balance-table tbody tr').count(), 2);
    assert.deepEqual(await plan(), { format: 'convkit-audit-plan', version: 1, data, actions: [] });
  });

  test('exclude, move and keep change window.auditPlan() and #plan, one action per file', async () => {
    await page.locator(`${itemOf(ODD, '#duplicates')} [data-action="exclude"]`).click();
    const excluded = { action: 'exclude', file: ODD, reason: reasonOf(ODD) };
    assert.deepEqual((await plan()).actions, [excluded]);
    assert.deepEqual(await states(ODD), ['exclude', 'exclude'], 'every item naming the file shows its action');

    const d2 = 'train/dogs/d2.png';
    const select = page.locator(`${itemOf(d2, '#conflicts')} [data-move-to]`);
    assert.deepEqual(await select.locator('option').allInnerTexts(), ['cats', 'foxes']);
    await select.selectOption('foxes');
    assert.deepEqual((await plan()).actions, [excluded], 'picking a class alone changes nothing');
    await page.locator(`${itemOf(d2, '#conflicts')} [data-action="move"]`).click();
    const moved = { action: 'move', file: d2, toClass: 'foxes', reason: reasonOf(d2) };
    assert.deepEqual((await plan()).actions, [excluded, moved]);
    assert.deepEqual(await shownPlan(), await plan());
    assert.deepEqual(await states(d2), ['move', 'move']);
    assert.equal(await page.locator(`${itemOf(d2, '#mislabeled')} [data-move-to]`).inputValue(), 'foxes');
    await select.selectOption('cats');
    assert.deepEqual((await plan()).actions, [excluded, { ...moved, toClass: 'cats' }], 'another class for a moved file changes its move');

    await page.locator(`${itemOf(ODD, '#outliers')} [data-action="keep"]`).click();
    assert.deepEqual((await plan()).actions, [{ ...moved, toClass: 'cats' }]);
    assert.deepEqual(await states(ODD), ['keep', 'keep']);
    assert.deepEqual(await shownPlan(), await plan());
    assert.equal(await page.locator('#plan-count').innerText(), '1 change');
  });

  test('Download saves the plan as plan.json, Copy fails quietly, and nothing logs an error or leaves the disk', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#download').click()]);
    assert.equal(download.suggestedFilename(), 'plan.json');
    assert.deepEqual(JSON.parse(await readFile(await download.path(), 'utf8')), await plan());
    await page.locator('#copy').click();
    await page.waitForTimeout(200);
    const shots = process.env.CONVKIT_SCREENSHOT_DIR;
    if (shots) await mkdir(shots, { recursive: true }).then(() => page.screenshot({ path: join(shots, 'audit-screenshot.png'), fullPage: true }));
    assert.deepEqual(errors, []);
    assert.deepEqual(requests, []);
  });
});
