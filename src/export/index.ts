/** Exporting convkit models to other runtimes' formats (ONNX; TFLite through the same table). */
export { exportModel, type ExportOptions, type ExportResult, type ExportSource } from './export-model.js';
export { exportFormat, exportFormatNames } from './formats.js';
export type { ExportFormat, ExportContext, WrittenExport } from './format.js';
export { exportMetaOf, type ExportMeta, type ExportSourceMeta } from './meta.js';
export { onnxModelOf, checkOnnxExportable, isConvkitOnnx, ONNX_OPSET, ONNX_INPUT_NAME, ONNX_OUTPUT_NAME } from './onnx.js';
