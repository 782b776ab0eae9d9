/**
 * What an export format is to exportModel: how to recognize a file it wrote
 * earlier (which a new export may replace) and how to write a model as that
 * file. Each format lives in its own module; ./formats.ts lists them.
 */
import type * as tf from '@tensorflow/tfjs';
import type { ConvkitModelMeta } from '../train/model-meta.js';
import type { ExportMeta } from './meta.js';

export interface ExportFormat {
  name: string;
  /** One line for `convkit export --help` and the unknown-format error. */
  description: string;
  /** What the output file is, for messages ("an ONNX model"). */
  what: string;
  /** The usual file extension, with its dot. */
  extension: string;
  /** Format-specific settings the format reads from ExportOptions.formatOptions; any other is refused. */
  options?: readonly string[];
  /** True for a file this format's exporter wrote (so a new export may replace it); never throws. */
  owns(path: string): Promise<boolean>;
  /** Writes the file (atomically); throws a ConvkitError naming what it cannot export. */
  write(context: ExportContext): Promise<WrittenExport>;
}

export interface ExportContext {
  model: tf.LayersModel;
  /** What the file records about the model (classes, input size, pixel range, producer). */
  meta: ExportMeta;
  /** The model's convkit.json, when it came from a model folder or a loadModel() result. */
  modelMeta?: ConvkitModelMeta;
  /** Absolute path of the output file, already claimed. */
  out: string;
  formatOptions: Readonly<Record<string, unknown>>;
  /** No progress output. */
  silent: boolean;
  /** Checks `out` again just before writing: it may have appeared while the model was converted. */
  reclaim(): Promise<void>;
}

export interface WrittenExport {
  /** Size of the main file. */
  bytes: number;
  /** Every file written, the main one first. */
  files: string[];
  /** What to report about the file besides its size (opset, node count, ops, …). */
  details?: Record<string, unknown>;
  /** The file's input, where it differs from ExportMeta.inputDescription (a fixed batch, uint8 pixels). */
  input?: string;
}
