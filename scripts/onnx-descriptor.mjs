// Regenerates src/export/onnx-schema/onnx-descriptor.ts from the vendored
// onnx.proto beside it: protobufjs's JSON form of the schema, as a module, so
// the built package carries it without reading a .proto file at run time.
// test/export-onnx.test.ts checks that the two agree.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';

const dir = join(import.meta.dirname, '..', 'src', 'export', 'onnx-schema');
const { root } = protobuf.parse(readFileSync(join(dir, 'onnx.proto'), 'utf8'), { keepCase: true });
const header = [
  '// Generated from onnx.proto by `node scripts/onnx-descriptor.mjs`; do not edit.',
  "import type { INamespace } from 'protobufjs';",
  '',
  '// protobufjs JSON (its typings lag behind the "edition" key it writes).',
  'const descriptor = ',
].join('\n');
const body = `${header}${JSON.stringify(root.toJSON(), null, 2)};\n\nexport const ONNX_DESCRIPTOR = descriptor as INamespace;\n`;
writeFileSync(join(dir, 'onnx-descriptor.ts'), body);
