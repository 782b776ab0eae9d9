#!/usr/bin/env -S node --no-concurrent-marking
// Thin launcher: the compiled CLI lives in dist/ (built by `npm run build`). V8 marks on the JS thread
// (--no-concurrent-marking): its marking threads would take a core from the kernels' thread team (docs/backend.md).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const entry = join(root, 'dist', 'src', 'cli', 'main.js');
if (!existsSync(entry)) {
  console.error(`convkit: ${entry} is missing. Run "npm run build" in ${root} first.`);
  process.exit(1);
}
const { main } = await import(entry);
process.exitCode = await main(process.argv.slice(2));
