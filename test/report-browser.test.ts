/**
 * The report and try-it pages in a real browser (Debian's chromium, driven by
 * playwright-core), opened from file:// with the network unused.
 * Set CONVKIT_SCREENSHOT_DIR to keep a screenshot of each page there.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import type { Browser, Page } from 'playwright-core';
import { writeReport, writeTryPage } from '../src/report/index.js';
import { predictNode, samplePixels, samplePng, saveModel, setDecisiveBias, tinyModel, tinyStudy } from './report-fixtures.js';
import { launchChromium, skipWithoutChromium } from './chromium.js';

const skip = skipWithoutChromium;

interface PageLog {
  errors: string[];
  requests: string[];
}

/** Opens `url`, recording console errors, page errors and any request that leaves the disk. */
async function open(browser: Browser, url: string): Promise<{ page: Page; log: PageLog }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const log: PageLog = { errors: [], requests: [] };
  page.on('console', (m) => {
    if (m.type() === 'error') log.errors.push(m.text());
  });
  page.on('pageerror', (e) => log.errors.push(e.message));
  page.on('request', (r) => {
    if (!/^(file|data|blob):/.test(r.url())) log.requests.push(r.url());
  });
  await page.goto(url);
  return { page, log };
}

async function keepScreenshot(file: string, name: string): Promise<void> {
  const dir = process.env.CONVKIT_SCREENSHOT_DIR;
  if (!dir) return;
  await mkdir(dir, { recursive: true });
  await copyFile(file, join(dir, name));
}

describe('report pages in Chromium', { skip }, () => {
  let browser: Browser;
  let dir: string;

  before(async () => {
    await tf.setBackend('cpu');
    dir = await mkdtemp(join(tmpdir(), 'convkit-browser-'));
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('index.html renders the table, every chart and every image from file://', async () => {
    const reportDir = join(dir, 'report');
    const model = tinyModel();
    await saveModel(model, join(reportDir, 'model'));
    model.dispose();
    await writeTryPage(reportDir, { modelDir: 'model', classNames: ['cats', 'dogs'] });
    const study = await tinyStudy();
    await writeReport(reportDir, study);
    const { page, log } = await open(browser, pathToFileURL(join(reportDir, 'index.html')).href);
    try {
      const rows = await page.locator('#results tbody tr').count();
      assert.equal(rows, study.steps.length);
      assert.equal((await page.locator('#results tbody tr').first().innerText()).split('\n')[0], 'Small convnet');
      const charts = await page.$$eval('.chart', (els) =>
        els.map((el) => {
          const svg = el.querySelector('svg');
          const box = svg?.getBoundingClientRect();
          return {
            id: (el as HTMLElement).dataset.chart,
            width: box?.width ?? 0,
            height: box?.height ?? 0,
            marks: svg ? svg.querySelectorAll('.role-mark path, .role-mark text').length : 0,
            texts: svg ? svg.querySelectorAll('text').length : 0,
          };
        }),
      );
      assert.equal(charts.length, 5);
      for (const c of charts) {
        assert.ok(c.width > 100 && c.height > 100, `chart ${c.id} is ${c.width}×${c.height}`);
        assert.ok(c.marks > 0, `chart ${c.id} has no marks`);
        assert.ok(c.texts > 0, `chart ${c.id} has no text`);
      }
      const images = await page.$$eval('.gallery img', (els) => els.map((img) => (img as HTMLImageElement).complete && (img as HTMLImageElement).naturalWidth));
      assert.equal(images.length, 7);
      assert.ok(
        images.every((w) => typeof w === 'number' && w > 0),
        'every image decodes',
      );
      assert.equal(await page.locator('a[href="try.html"]').count(), 1);
      const shot = join(dir, 'report.png');
      await page.screenshot({ path: shot, fullPage: true });
      const meta = await sharp(shot).metadata();
      assert.equal(meta.width, 1280);
      assert.ok(meta.height! > 1500, 'the whole page is captured');
      await keepScreenshot(shot, 'report-screenshot.png');
      assert.deepEqual(log.errors, []);
      assert.deepEqual(log.requests, []);
    } finally {
      await page.close();
    }
  });

  test('try.html classifies a picked image like the model does in Node (sigmoid and softmax)', async () => {
    for (const units of [1, 3] as const) {
      const tryDir = join(dir, `try-${units}`);
      const classNames = units === 1 ? ['cats', 'dogs'] : ['red', 'green', 'blue'];
      const model = tinyModel(units);
      if (units === 1) setDecisiveBias(model, samplePixels(1));
      await saveModel(model, join(tryDir, 'model'));
      await writeTryPage(tryDir, { modelDir: 'model', classNames, title: 'Cats or dogs?' });
      // The sigmoid model runs on the page's default backend, the softmax one on ?backend=cpu.
      const url = pathToFileURL(join(tryDir, 'try.html')).href + (units === 3 ? '?backend=cpu' : '');
      const { page, log } = await open(browser, url);
      try {
        await page.waitForFunction(() => document.body.dataset.state !== 'loading', null, { timeout: 60_000 });
        assert.equal(await page.evaluate(() => document.body.dataset.state), 'ready', await page.locator('#status').innerText());
        if (units === 3) assert.equal(await page.locator('#tfjs-backend').innerText(), 'cpu');
        for (const variant of [1, 2]) {
          await page.evaluate(() => {
            document.body.dataset.state = 'waiting';
          });
          await page.setInputFiles('#file', { name: `sample-${variant}.png`, mimeType: 'image/png', buffer: await samplePng(variant) });
          await page.waitForFunction(() => ['predicted', 'error'].includes(document.body.dataset.state ?? ''), null, { timeout: 30_000 });
          const got = await page.evaluate(() => {
            const pred = document.getElementById('prediction')!.dataset;
            return {
              state: document.body.dataset.state,
              status: document.getElementById('status')!.textContent,
              label: pred.label,
              probability: pred.probability,
            };
          });
          assert.equal(got.state, 'predicted', got.status ?? '');
          const probs = predictNode(model, samplePixels(variant));
          const best = probs.indexOf(Math.max(...probs));
          assert.equal(
            got.label,
            classNames[best],
            `variant ${variant}: browser says ${got.label}, Node says ${classNames[best]} (${probs.map((p) => p.toFixed(4)).join(', ')})`,
          );
          assert.ok(Math.abs(Number(got.probability) - probs[best]!) < 2e-3, `probability ${got.probability} vs ${probs[best]}`);
          if (units === 1 && variant === 1) assert.ok(Math.abs(Number(got.probability) - 1 / (1 + Math.exp(-2))) < 2e-3);
        }
        assert.equal(await page.locator('#bars .bar').count(), classNames.length);
        if (units === 1) {
          const shot = join(dir, 'try.png');
          await page.screenshot({ path: shot, fullPage: true });
          await keepScreenshot(shot, 'try-screenshot.png');
        }
        assert.deepEqual(log.errors, []);
        assert.deepEqual(log.requests, []);
      } finally {
        await page.close();
        model.dispose();
      }
    }
  });

  test('try.html without an embedded model says to serve the folder when opened from disk', async () => {
    const tryDir = join(dir, 'try-served');
    const model = tinyModel();
    await saveModel(model, join(tryDir, 'model'));
    model.dispose();
    await writeTryPage(tryDir, { modelDir: 'model', classNames: ['cats', 'dogs'], embed: false });
    assert.ok(!existsSync(join(tryDir, 'model-data.js')));
    const { page } = await open(browser, pathToFileURL(join(tryDir, 'try.html')).href);
    try {
      await page.waitForFunction(() => document.body.dataset.state !== 'loading', null, { timeout: 60_000 });
      assert.equal(await page.evaluate(() => document.body.dataset.state), 'error');
      assert.match(await page.locator('#status').innerText(), /Serve the folder/);
    } finally {
      await page.close();
    }
  });
});
