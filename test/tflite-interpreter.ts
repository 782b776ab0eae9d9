/**
 * An interpreter convkit did not write for its TFLite exports: TensorFlow
 * Lite's own runtime compiled to WebAssembly (@tensorflow/tfjs-tflite's
 * TFLiteWebModelRunner), in Chromium, from a page on file://. Chromium
 * refuses fetch() on file://, so the page's fetch of the runtime's .wasm is
 * answered with that file's bytes from node_modules; nothing else is changed.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';

const WASM_DIR = new URL('../node_modules/@tensorflow/tfjs-tflite/wasm/', import.meta.url).pathname;

export interface TensorInfo {
  name: string;
  dataType: string;
  shape: number[];
}

/** One page holding one loaded model at a time. */
export class TfliteInterpreter {
  private constructor(
    private readonly page: Page,
    private readonly dir: string,
  ) {}

  static async open(browser: Browser): Promise<TfliteInterpreter> {
    const dir = await mkdtemp(join(tmpdir(), 'convkit-tflite-'));
    const wasm = relative(dir, WASM_DIR).split('\\').join('/') + '/';
    await writeFile(
      join(dir, 'index.html'),
      `<!doctype html><meta charset="utf-8"><script>var exports = {};</script><script src="${wasm}tflite_web_api_client.js"></script>` +
        `<script>tfweb.tflite_web_api.setWasmPath(${JSON.stringify(wasm)});</script>`,
    );
    const page = await browser.newPage();
    await page.exposeFunction('convkitReadWasm', async (name: string) => {
      if (!/^tflite_web_api_cc[a-z_]*\.wasm$/.test(name)) throw new Error(`not a runtime file: ${name}`);
      return (await readFile(join(WASM_DIR, name))).toString('base64');
    });
    await page.addInitScript(() => {
      const w = window as unknown as { fetch: typeof fetch; convkitReadWasm(name: string): Promise<string> };
      const original = w.fetch.bind(window);
      w.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
        const url = String(input instanceof Request ? input.url : input);
        if (!url.endsWith('.wasm')) return original(input, init);
        const b64 = await w.convkitReadWasm(url.slice(url.lastIndexOf('/') + 1));
        return new Response(
          Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)),
          { headers: { 'Content-Type': 'application/wasm' } },
        );
      };
    });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(pathToFileURL(join(dir, 'index.html')).href);
    if (errors.length) throw new Error(`the TFLite runtime page failed: ${errors.join('; ')}`);
    return new TfliteInterpreter(page, dir);
  }

  /** Loads a .tflite file; returns its input and output tensors as the runtime sees them. */
  async load(bytes: Uint8Array): Promise<{ inputs: TensorInfo[]; outputs: TensorInfo[] }> {
    return this.page.evaluate(async (b64) => {
      const w = window as unknown as { tfweb: { TFLiteWebModelRunner: { create(m: ArrayBuffer, o: object): Promise<unknown> } }; convkitRunner: unknown };
      const model = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const runner = (await w.tfweb.TFLiteWebModelRunner.create(model.buffer, { numThreads: 1 })) as {
        getInputs(): { name: string; dataType: string; shape: string }[];
        getOutputs(): { name: string; dataType: string; shape: string }[];
      };
      w.convkitRunner = runner;
      // No named helpers in here: tsx would wrap them in a function the page does not have.
      const [inputs, outputs] = [runner.getInputs(), runner.getOutputs()].map((ts) =>
        ts.map((t) => ({ name: t.name, dataType: t.dataType, shape: t.shape.split(',').map(Number) })),
      );
      return { inputs: inputs!, outputs: outputs! };
    }, Buffer.from(bytes).toString('base64'));
  }

  /**
   * Runs `n` images (bytes 0..255, NHWC, one after another in `pixels`)
   * through the loaded model one at a time, each fed as the input's type
   * (float32 pixel values or the raw uint8 bytes); returns the outputs, concatenated.
   */
  async run(pixels: Uint8Array, n: number, chunk = 25): Promise<Float32Array> {
    const per = pixels.length / n;
    const out: number[] = [];
    for (let start = 0; start < n; start += chunk) {
      const count = Math.min(chunk, n - start);
      const part = Buffer.from(pixels.subarray(start * per, (start + count) * per)).toString('base64');
      const values = await this.page.evaluate(
        ([b64, count]) => {
          type T = { dataType: string; data(): Float32Array | Uint8Array | Int8Array };
          const runner = (window as unknown as { convkitRunner: { getInputs(): T[]; getOutputs(): T[]; infer(): boolean } }).convkitRunner;
          const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
          const input = runner.getInputs()[0]!;
          const size = bytes.length / count;
          const results: number[] = [];
          for (let i = 0; i < count; i++) {
            const image = bytes.subarray(i * size, (i + 1) * size);
            const data = input.data();
            if (input.dataType === 'float32') for (let j = 0; j < size; j++) data[j] = image[j]!;
            else if (input.dataType === 'uint8') data.set(image);
            else throw new Error(`input type ${input.dataType}`);
            if (!runner.infer()) throw new Error('inference failed');
            results.push(...Array.from(runner.getOutputs()[0]!.data()));
          }
          return results;
        },
        [part, count] as [string, number],
      );
      out.push(...values);
    }
    return Float32Array.from(out);
  }

  async close(): Promise<void> {
    await this.page.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}
