/** Where a data folder keeps its splits: train/, validation/ (or val/, Imagenette's name) and test/. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export type SplitName = 'train' | 'validation' | 'test';

/** The folder of `split` in `data`: validation/ when there is one, else val/ when there is that. */
export function splitFolder(data: string, split: SplitName): string {
  if (split === 'validation' && !existsSync(join(data, 'validation')) && existsSync(join(data, 'val'))) return join(data, 'val');
  return join(data, split);
}
