/**
 * The oneDNN-backed native backend. Until the addon is built this reports
 * why it is unavailable, so selection falls back to wasm.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { BackendInfo } from './index.js';
import { packageRoot } from '../util/paths.js';

export const addonPath = join(packageRoot(), 'build', 'Release', 'convkit_native.node');

export async function initNative(): Promise<Omit<BackendInfo, 'notices'>> {
  if (!existsSync(addonPath)) {
    throw new Error(`native addon not built (${addonPath} missing; install libdnnl-dev and run "npm install")`);
  }
  throw new Error('native kernels are not registered in this build');
}
