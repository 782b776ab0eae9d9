/** TensorFlow Lite import: flatbuffer reading, dequantization, rebuild as TF.js layers. */
export { readTflite, dequantize, intValues, type TfliteGraph, type TfliteTensor, type TfliteOperator, type Quantization, type OpOptions } from './reader.js';
export { convertTflite, layerNameFromTensor, SUPPORTED_OPS, type ConvertOptions, type ConvertedModel } from './convert.js';
