/**
 * The class balance of an auto study's data: images per split and class,
 * the audit's imbalance warnings (with their remedy), and what the
 * training does about it — chooseClassWeights's automatic decision on the
 * training counts.
 */
import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import { classBalance } from '../audit/balance.js';
import { DEFAULT_THRESHOLDS, type AuditImage } from '../audit/types.js';
import { scanImageFolder } from '../data/scan.js';
import { splitFolder } from '../data/splits.js';
import { chooseClassWeights, type ClassWeightChoice } from '../train/class-balance.js';

export interface ClassBalanceReport {
  /** counts[split][class]. */
  counts: Record<string, Record<string, number>>;
  /** Largest / smallest class, per split. */
  ratio: Record<string, number>;
  /** The audit's warnings, each with its remedy. */
  warnings: string[];
  /** chooseClassWeights(train counts, 'auto'): weights or none, and why. */
  classWeights: Pick<ClassWeightChoice, 'mode' | 'weights' | 'reason'>;
}

/** Counts every split's images per class and decides, as training's 'auto' class weights do, whether to weight the loss. */
export async function classBalanceOf(root: string, classNames: readonly string[]): Promise<ClassBalanceReport> {
  const images: AuditImage[] = [];
  const splits: string[] = [];
  for (const split of ['train', 'validation', 'test'] as const) {
    const dir = splitFolder(root, split);
    if (!existsSync(dir)) continue;
    splits.push(split);
    for (const f of (await scanImageFolder(dir)).files)
      images.push({ path: f.path, file: relative(root, f.path), split, className: f.className, label: f.label });
  }
  const found = classBalance(images, classNames, splits, DEFAULT_THRESHOLDS.imbalanceRatio);
  const train = classNames.map((c) => found.counts.train?.[c] ?? 0);
  const choice = chooseClassWeights(train, 'auto', classNames);
  return { ...found, classWeights: { mode: choice.mode, weights: choice.weights, reason: choice.reason } };
}
