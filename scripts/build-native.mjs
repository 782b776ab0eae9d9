// Builds the oneDNN addon when the library is installed; otherwise explains
// and succeeds, so `npm install` never fails on a machine without it.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const headers = ['/usr/include/dnnl.hpp', '/usr/include/oneapi/dnnl/dnnl.hpp'];
if (!existsSync('binding.gyp')) process.exit(0);
if (!headers.some((h) => existsSync(h))) {
  if (process.env.CONVKIT_REQUIRE_NATIVE === '1') {
    console.error('convkit: CONVKIT_REQUIRE_NATIVE=1 but the oneDNN headers are missing: apt-get install -y libdnnl-dev');
    process.exit(1);
  }
  console.error('convkit: oneDNN headers not found; native backend off (wasm will be used). As root: apt-get install -y libdnnl-dev, then npm rebuild convkit');
  process.exit(0);
}
// npm passes its bundled node-gyp to install scripts; a dev checkout has its own.
let gyp = process.env.npm_config_node_gyp;
if (!gyp || !existsSync(gyp)) {
  try {
    gyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
  } catch {
    console.error('convkit: node-gyp not found; native backend off');
    process.exit(0);
  }
}
// Use the headers installed next to node when there are any, so the build
// needs no download.
const prefix = dirname(dirname(process.execPath));
const args = [gyp, 'rebuild', '--jobs=max', '--loglevel=warn'];
if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
if (r.status !== 0) {
  // oneDNN is there, so a failed build is a real fault: loud always, fatal where the native backend is required (CI).
  console.error('convkit: ERROR building the native addon failed although oneDNN is installed (see above); native backend off, wasm will be used');
  if (process.env.CONVKIT_REQUIRE_NATIVE === '1') process.exit(1);
}
process.exit(0);
