/**
 * The try-it page: try.html beside a saved model, where a person drops a
 * photo and sees the predicted class. It uses a local copy of the TF.js
 * browser bundle and, by default, the model embedded in model-data.js, so it
 * works from file:// without a server (Chromium refuses fetch() there).
 */
import { existsSync, promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { ConvkitError } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { TRY_CSS } from './style.js';
import { escapeHtml } from '../util/html.js';

export interface TryPageOptions {
  /** The saved model folder (holding model.json and its weight files), relative to the page's folder. */
  modelDir: string;
  /** Class names in output order; default: `classNames` of the folder's convkit.json. */
  classNames?: string[];
  /** [height, width] the model takes; default: convkit.json's `inputSize`, else the model's input layer. */
  inputSize?: number | [number, number];
  title?: string;
  /**
   * Embed the model in model-data.js (default true) so the page works when
   * opened from disk; false makes the page fetch `modelDir/model.json`,
   * which needs the folder to be served over http.
   */
  embed?: boolean;
}

export interface WrittenTryPage {
  pagePath: string;
  /** Every file written (page, TF.js bundle, embedded model). */
  files: string[];
  inputSize: [number, number];
}

interface WeightsGroup {
  paths: string[];
  weights: unknown[];
}
interface ModelJson {
  modelTopology?: unknown;
  weightsManifest?: WeightsGroup[];
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
}

/** The TF.js browser bundle shipped with the installed @tensorflow/tfjs. */
export function tfjsBundlePath(): string {
  const main = createRequire(import.meta.url).resolve('@tensorflow/tfjs');
  const path = join(dirname(main), 'tf.min.js');
  if (!existsSync(path)) throw new ConvkitError(`the TF.js browser bundle is missing (${path})`, 'reinstall with npm ci');
  return path;
}

/** Finds [height, width] in a Keras/TF.js topology's first batch_input_shape. */
export function topologyInputSize(topology: unknown): [number, number] | undefined {
  const seen = new Set<unknown>();
  const walk = (node: unknown): [number, number] | undefined => {
    if (!node || typeof node !== 'object' || seen.has(node)) return undefined;
    seen.add(node);
    const o = node as Record<string, unknown>;
    for (const key of ['batch_input_shape', 'batchInputShape', 'batch_shape']) {
      const s = o[key];
      if (Array.isArray(s) && s.length === 4 && typeof s[1] === 'number' && typeof s[2] === 'number') return [s[1], s[2]];
    }
    for (const v of Array.isArray(node) ? node : Object.values(o)) {
      const found = walk(v);
      if (found) return found;
    }
    return undefined;
  };
  return walk(topology);
}

/** The `units` of the topology's last layer that has them (the classifier head), if any. */
export function topologyOutputUnits(topology: unknown): number | undefined {
  let units: number | undefined;
  const seen = new Set<unknown>();
  const walk = (node: unknown): void => {
    if (!node || typeof node !== 'object' || seen.has(node)) return;
    seen.add(node);
    const o = node as Record<string, unknown>;
    if (typeof o.units === 'number') units = o.units;
    for (const v of Array.isArray(node) ? node : Object.values(o)) walk(v);
  };
  walk(topology);
  return units;
}

function jsonForScript(value: unknown): string {
  // Inside <script>, "</" would end the element early.
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

const esc = escapeHtml;

/** The optional convkit.json beside model.json (class names and input size of a convkit saved model). */
async function readMeta(path: string): Promise<{ classNames?: string[]; inputSize?: [number, number]; colorMode?: string }> {
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch {
    return {};
  }
  try {
    const meta = JSON.parse(text) as { classNames?: unknown; inputSize?: unknown; colorMode?: unknown };
    return {
      classNames: Array.isArray(meta.classNames) ? (meta.classNames as string[]) : undefined,
      inputSize: Array.isArray(meta.inputSize) && meta.inputSize.length === 2 ? (meta.inputSize as [number, number]) : undefined,
      colorMode: typeof meta.colorMode === 'string' ? meta.colorMode : undefined,
    };
  } catch (err) {
    throw new ConvkitError(`cannot parse ${path}: ${(err as Error).message}`, 'fix or remove the file, or pass classNames and inputSize');
  }
}

/** Reads model.json and concatenates its weight files in manifest order. */
export async function readSavedModel(modelJsonPath: string): Promise<{ json: ModelJson; weightSpecs: unknown[]; weightData: Buffer }> {
  let json: ModelJson;
  try {
    json = JSON.parse(await fs.readFile(modelJsonPath, 'utf8')) as ModelJson;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConvkitError(
      code === 'ENOENT' ? `no model at ${modelJsonPath}` : `cannot read ${modelJsonPath}: ${(err as Error).message}`,
      'point modelDir at a saved TF.js layers model folder (model.json + weight files)',
    );
  }
  if (!json.modelTopology || !Array.isArray(json.weightsManifest)) {
    throw new ConvkitError(
      `${modelJsonPath} is not a TF.js layers model (no modelTopology/weightsManifest)`,
      'save the model with model.save() in the TF.js layers format',
    );
  }
  const base = dirname(modelJsonPath);
  const weightSpecs: unknown[] = [];
  const chunks: Buffer[] = [];
  for (const group of json.weightsManifest) {
    weightSpecs.push(...group.weights);
    for (const p of group.paths) {
      const path = resolve(base, p);
      try {
        chunks.push(await fs.readFile(path));
      } catch (err) {
        throw new ConvkitError(`weight file ${path} named in ${modelJsonPath} cannot be read: ${(err as Error).message}`, 'copy the whole saved model folder');
      }
    }
  }
  return { json, weightSpecs, weightData: Buffer.concat(chunks) };
}

/** Writes `dir/try.html`, `dir/tf.min.js` and (embedding) `dir/model-data.js`. */
export async function writeTryPage(dir: string, options: TryPageOptions): Promise<WrittenTryPage> {
  const { embed = true } = options;
  const modelDir = options.modelDir.replace(/\\/g, '/').replace(/\/+$/, '');
  if (!modelDir || modelDir.startsWith('/') || /^[a-z]+:/i.test(modelDir)) {
    throw new ConvkitError(
      `try page: modelDir ${JSON.stringify(options.modelDir)} must be a path relative to ${dir}`,
      'save the model inside the report folder, e.g. modelDir: "model"',
    );
  }
  const meta = await readMeta(join(dir, ...modelDir.split('/'), 'convkit.json'));
  const classNames = options.classNames ?? meta.classNames;
  if (!Array.isArray(classNames) || classNames.length < 2 || classNames.some((c) => typeof c !== 'string' || !c)) {
    throw new ConvkitError(
      `try page: classNames ${JSON.stringify(classNames)} must name at least two classes`,
      'pass classNames in the order of the model\u2019s outputs (or save convkit.json beside model.json)',
    );
  }
  const modelJsonPath = join(dir, ...modelDir.split('/'), 'model.json');
  const saved = await readSavedModel(modelJsonPath);
  let inputSize: [number, number] | undefined =
    typeof options.inputSize === 'number' ? [options.inputSize, options.inputSize] : (options.inputSize ?? meta.inputSize);
  inputSize ??= topologyInputSize(saved.json.modelTopology);
  if (!inputSize || !inputSize.every((v) => Number.isInteger(v) && v > 0)) {
    throw new ConvkitError(`try page: cannot tell the model's input size (got ${JSON.stringify(inputSize)})`, 'pass inputSize: [height, width]');
  }
  const units = topologyOutputUnits(saved.json.modelTopology);
  if (units !== undefined && !(units === 1 ? classNames.length === 2 : units === classNames.length)) {
    throw new ConvkitError(
      `try page: the model in ${modelJsonPath} has ${units} output${units === 1 ? '' : 's'} but ${classNames.length} class names were given`,
      units === 1
        ? 'a one-unit sigmoid model needs exactly two class names [class 0, class 1]'
        : `pass ${units} class names in the order of the model's outputs`,
    );
  }
  const files: string[] = [];
  const put = async (name: string, data: string | Uint8Array): Promise<void> => {
    const path = join(dir, name);
    await writeFileAtomic(path, data);
    files.push(path);
  };
  await put('tf.min.js', await fs.readFile(tfjsBundlePath()));
  if (embed) {
    const payload = `/* ${modelDir}/model.json and its weights, embedded so try.html works from disk. */\nwindow.CONVKIT_MODEL = {modelTopology: ${jsonForScript(saved.json.modelTopology)},\nweightSpecs: ${jsonForScript(saved.weightSpecs)},\nweightData: "${saved.weightData.toString('base64')}"};\n`;
    await put('model-data.js', payload);
  } else if (existsSync(join(dir, 'model-data.js'))) {
    // A stale embedded copy would shadow the served model.
    await fs.rm(join(dir, 'model-data.js'), { force: true });
  }
  const config = {
    classNames,
    inputSize,
    grayscale: meta.colorMode === 'grayscale',
    modelUrl: `${modelDir.split('/').map(encodeURIComponent).join('/')}/model.json`,
    modelDir,
  };
  await put('try.html', tryHtml(options.title ?? 'Try the model', config, embed));
  return { pagePath: join(dir, 'try.html'), files, inputSize };
}

function tryHtml(
  title: string,
  config: { classNames: string[]; inputSize: [number, number]; grayscale: boolean; modelUrl: string; modelDir: string },
  embed: boolean,
): string {
  const [h, w] = config.inputSize;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${TRY_CSS}</style>
</head>
<body data-state="loading">
<header class="top">
<div class="wrap">
<h1>${esc(title)}</h1>
<p class="meta"><span>${esc(config.classNames.join(' / '))}</span><span>input ${w}×${h} px</span><span>runs in this browser; the photo never leaves your computer</span></p>
<nav><a class="button" href="index.html">Back to the report</a></nav>
</div>
</header>
<main class="wrap">
<section class="card">
<h3>Your photo</h3>
<label id="drop" for="file">
<input id="file" type="file" accept="image/*">
<img id="preview" alt="the photo being classified">
<div class="hint"><strong>Drop a photo here</strong><span>or click to pick one (JPEG, PNG, WebP)</span></div>
</label>
</section>
<section class="card">
<h3>Prediction</h3>
<div id="prediction" data-label="" aria-live="polite">—</div>
<p id="probability"></p>
<div class="bars" id="bars"></div>
<div class="input-view"><canvas id="input-canvas" width="${w}" height="${h}"></canvas><span>what the model sees: the photo resized to ${w}×${h}</span></div>
<div id="status">Loading the model…</div>
</section>
</main>
<footer class="wrap">TensorFlow.js <span id="tfjs-version"></span>, backend <span id="tfjs-backend">…</span></footer>
<script id="convkit-config" type="application/json">${jsonForScript(config)}</script>
<script src="tf.min.js"></script>
${embed ? '<script src="model-data.js"></script>\n' : ''}<script>
${TRY_SCRIPT}
</script>
</body>
</html>
`;
}

/** The page's logic (plain browser JS, no build step). */
const TRY_SCRIPT = String.raw`(function () {
  'use strict';
  var cfg = JSON.parse(document.getElementById('convkit-config').textContent);
  var $ = function (id) { return document.getElementById(id); };
  var model = null;
  var busy = Promise.resolve();

  function setState(state, message, isError) {
    document.body.dataset.state = state;
    if (message !== undefined) {
      $('status').textContent = message;
      $('status').className = isError ? 'error' : '';
    }
  }

  function base64ToArrayBuffer(b64) {
    var bin = atob(b64);
    var bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return bytes.buffer;
  }

  function loadModel() {
    if (window.CONVKIT_MODEL) {
      var m = window.CONVKIT_MODEL;
      return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: m.modelTopology, weightSpecs: m.weightSpecs, weightData: base64ToArrayBuffer(m.weightData) }));
    }
    if (location.protocol === 'file:') {
      return Promise.reject(new Error('This page was opened from disk without an embedded model, and browsers do not let pages read files next to them. Serve the folder instead, e.g. "npx http-server ." or "python3 -m http.server", and open http://localhost:8080/try.html.'));
    }
    return tf.loadLayersModel(cfg.modelUrl);
  }

  function toProbabilities(values) {
    if (values.length === 1) return [1 - values[0], values[0]];
    var sum = 0, ok = true;
    for (var i = 0; i < values.length; i++) { sum += values[i]; if (values[i] < 0) ok = false; }
    if (ok && Math.abs(sum - 1) < 1e-3) return Array.prototype.slice.call(values);
    // The model ends in logits: apply softmax.
    var max = Math.max.apply(null, values), exps = [], total = 0;
    for (var j = 0; j < values.length; j++) { exps.push(Math.exp(values[j] - max)); total += exps[j]; }
    return exps.map(function (e) { return e / total; });
  }

  function show(probs) {
    var order = probs.map(function (p, i) { return i; }).sort(function (a, b) { return probs[b] - probs[a]; });
    var best = order[0];
    var label = cfg.classNames[best] !== undefined ? cfg.classNames[best] : 'class ' + best;
    var pred = $('prediction');
    pred.textContent = label;
    pred.dataset.label = label;
    pred.dataset.index = String(best);
    pred.dataset.probability = String(probs[best]);
    $('probability').textContent = (probs[best] * 100).toFixed(1) + ' % sure';
    var bars = $('bars');
    bars.textContent = '';
    var shown = probs.length > 10 ? order.slice(0, 5) : probs.map(function (p, i) { return i; });
    shown.forEach(function (i) {
      var row = document.createElement('div');
      row.className = 'bar' + (i === best ? ' best' : '');
      var name = document.createElement('span');
      name.textContent = cfg.classNames[i] !== undefined ? cfg.classNames[i] : 'class ' + i;
      var track = document.createElement('div');
      track.className = 'track';
      var fill = document.createElement('div');
      fill.className = 'fill';
      fill.style.width = (probs[i] * 100).toFixed(2) + '%';
      track.appendChild(fill);
      var val = document.createElement('span');
      val.className = 'val';
      val.textContent = (probs[i] * 100).toFixed(1) + ' %';
      row.appendChild(name); row.appendChild(track); row.appendChild(val);
      bars.appendChild(row);
    });
  }

  function classify(img) {
    var h = cfg.inputSize[0], w = cfg.inputSize[1];
    var canvas = $('input-canvas');
    var ctx = canvas.getContext('2d', { willReadFrequently: true });
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = 'high';
    ctx.clearRect(0, 0, w, h);
    // Stretch to the input size, as convkit resizes when training.
    ctx.drawImage(img, 0, 0, w, h);
    // Pixels go in as 0..255 floats; the model scales them itself.
    var out = tf.tidy(function () {
      var x = tf.browser.fromPixels(canvas, 3).toFloat();
      // Grayscale models take one luminance channel (ITU-R BT.601 weights).
      if (cfg.grayscale) x = x.mul(tf.tensor1d([0.299, 0.587, 0.114])).sum(-1, true);
      x = x.expandDims(0);
      var y = model.predict(x);
      return Array.isArray(y) ? y[0] : y;
    });
    return out.data().then(function (values) {
      out.dispose();
      var n = values.length;
      if (n !== 1 && n !== cfg.classNames.length) throw new Error('the model has ' + n + ' outputs but the page knows ' + cfg.classNames.length + ' class names');
      show(toProbabilities(values));
    });
  }

  function handleFile(file) {
    if (!file) return;
    if (file.type && file.type.indexOf('image/') !== 0) { setState('error', file.name + ' is not an image.', true); return; }
    var url = URL.createObjectURL(file);
    var img = $('preview');
    busy = busy.then(function () {
      return new Promise(function (resolve, reject) {
        img.onload = resolve;
        img.onerror = function () { reject(new Error('cannot decode ' + file.name)); };
        img.src = url;
      }).then(function () {
        $('drop').classList.add('has-image');
        img.classList.toggle('small', img.naturalWidth < 128);
        setState('running', 'Classifying…');
        if (!model) throw new Error('the model is not loaded');
        return classify(img);
      }).then(function () {
        setState('predicted', 'Done. Drop another photo to try again.');
      }).catch(function (err) {
        setState('error', String(err && err.message || err), true);
      });
    });
  }

  var drop = $('drop');
  ['dragenter', 'dragover'].forEach(function (t) { drop.addEventListener(t, function (e) { e.preventDefault(); drop.classList.add('over'); }); });
  ['dragleave', 'drop'].forEach(function (t) { drop.addEventListener(t, function (e) { e.preventDefault(); drop.classList.remove('over'); }); });
  drop.addEventListener('drop', function (e) { handleFile(e.dataTransfer && e.dataTransfer.files[0]); });
  $('file').addEventListener('change', function (e) { handleFile(e.target.files[0]); e.target.value = ''; });
  window.addEventListener('dragover', function (e) { e.preventDefault(); });
  window.addEventListener('drop', function (e) { e.preventDefault(); handleFile(e.dataTransfer && e.dataTransfer.files[0]); });

  if (typeof tf === 'undefined') { setState('error', 'tf.min.js did not load; keep it next to try.html.', true); return; }
  $('tfjs-version').textContent = tf.version.tfjs;
  // try.html?backend=cpu (or wasm, webgl) picks a TF.js backend; default: the fastest that starts.
  var wanted = new URLSearchParams(location.search).get('backend');
  var start = wanted ? tf.setBackend(wanted).then(function (ok) { if (!ok) throw new Error('backend ' + wanted + ' is not available'); }) : Promise.resolve();
  busy = start.then(function () { return tf.ready(); }).then(loadModel).then(function (m) {
    model = m;
    // One warm-up call so the first photo is quick.
    var h = cfg.inputSize[0], w = cfg.inputSize[1];
    tf.tidy(function () { model.predict(tf.zeros([1, h, w, cfg.grayscale ? 1 : 3])); });
    $('tfjs-backend').textContent = tf.getBackend();
    setState('ready', 'Model loaded. Drop a photo.');
  }).catch(function (err) {
    setState('error', 'Cannot load the model: ' + String(err && err.message || err), true);
  });
})();`;
