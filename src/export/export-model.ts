/**
 * exportModel: a convkit model (a model folder, a loaded one, or any TF.js
 * layers model) written as a single file in another format. The output is
 * claimed before any work (a folder, a file inside the model folder, or a
 * file convkit did not write is refused), checked again just before the
 * write, and written to a temporary sibling that is renamed into place (by
 * the format, which may write more than one file).
 */
import * as tf from '@tensorflow/tfjs';
import { resolve } from 'node:path';
import { loadModel, type LoadedModel } from '../train/saved-model.js';
import { ConvkitError } from '../util/errors.js';
import { claimOutputFile } from '../util/output-guard.js';
import { exportFormat } from './formats.js';
import { exportMetaOf, type ExportMeta, type ExportSourceMeta } from './meta.js';

export interface ExportOptions {
  /** A format name (exportFormatNames()), e.g. "onnx". */
  format: string;
  /** The file to write. */
  out: string;
  /** convkit.json's fields for a model given without its folder (class names, input size, class mode). */
  meta?: ExportSourceMeta;
  /** Settings only some formats read; a setting the chosen format does not read is refused. */
  formatOptions?: Record<string, unknown>;
  /** How the caller named the output and the model folder, for messages (the CLI's "--out", "--model"). */
  flags?: { out?: string; model?: string };
  /** No progress output (the int8 TFLite export's calibration shows some). */
  silent?: boolean;
}

export interface ExportResult {
  format: string;
  /** Absolute path of the written file. */
  out: string;
  bytes: number;
  /** Every file written, `out` first (TFLite adds a labels file beside it). */
  files: string[];
  /** What the file takes (type, shape, pixel range). */
  input: string;
  meta: ExportMeta;
  details: Record<string, unknown>;
}

/** A model folder (loaded and checked here), a loadModel() result, or a TF.js layers model. */
export type ExportSource = string | LoadedModel | tf.LayersModel;

/** calibrationCount → --calibration-count, for messages to the command line. */
const flagOf = (option: string) => `--${option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

export async function exportModel(source: ExportSource, options: ExportOptions): Promise<ExportResult> {
  const format = exportFormat(options.format);
  const formatOptions = options.formatOptions ?? {};
  const stray = Object.keys(formatOptions).filter((k) => formatOptions[k] !== undefined && !(format.options ?? []).includes(k));
  if (stray.length)
    throw new ConvkitError(
      `the ${format.name} export does not take ${stray.join(', ')}${options.flags?.out ? ` (${stray.map(flagOf).join(', ')})` : ''}`,
      format.options?.length ? `${format.name} takes ${format.options.join(', ')}` : `${format.name} takes no format options; leave them out`,
    );
  const out = resolve(options.out);
  const dir = typeof source === 'string' ? resolve(source) : source instanceof tf.LayersModel ? undefined : source.dir;
  const claim = () =>
    claimOutputFile({
      path: out,
      flag: options.flags?.out ?? 'out',
      what: format.what,
      owns: format.owns,
      inputs: dir ? [{ path: dir, flag: options.flags?.model ?? 'model folder' }] : [],
    });
  await claim();
  const loaded = typeof source === 'string' ? await loadModel(source) : undefined;
  const model = loaded?.model ?? (source instanceof tf.LayersModel ? source : (source as LoadedModel).model);
  const modelMeta = loaded?.meta ?? (typeof source !== 'string' && !(source instanceof tf.LayersModel) ? source.meta : undefined);
  try {
    const meta = exportMetaOf(model, { ...modelMeta, ...options.meta });
    const written = await format.write({ model, meta, modelMeta, out, formatOptions, silent: options.silent ?? false, reclaim: claim });
    const input = written.input ?? meta.inputDescription;
    return { format: format.name, out, bytes: written.bytes, files: written.files, input, meta, details: written.details ?? {} };
  } finally {
    loaded?.model.dispose();
  }
}
