/** Class balance: counts per split and class, and a warning with a remedy when one class dominates. */
import type { AuditImage, BalanceFinding } from './types.js';

export function classBalance(images: readonly AuditImage[], classNames: readonly string[], splits: readonly string[], maxRatio: number): BalanceFinding {
  const counts: BalanceFinding['counts'] = {};
  for (const split of splits.length ? splits : ['']) counts[split] = Object.fromEntries(classNames.map((c) => [c, 0]));
  for (const img of images) counts[img.split]![img.className]!++;
  const ratio: Record<string, number> = {};
  const warnings: string[] = [];
  for (const [split, byClass] of Object.entries(counts)) {
    const entries = Object.entries(byClass).sort((a, b) => b[1] - a[1]);
    const [most, least] = [entries[0]!, entries[entries.length - 1]!];
    ratio[split] = least[1] > 0 ? most[1] / least[1] : Infinity;
    if (ratio[split]! < maxRatio) continue;
    const where = split ? `${split}/` : 'the data';
    warnings.push(
      `${where} is imbalanced: ${most[0]} has ${most[1]} images, ${least[0]} ${least[1]} (${ratio[split] === Infinity ? 'none' : `${ratio[split]!.toFixed(1)}×`}); ` +
        `a model learns to favour ${most[0]} — collect more images of ${least[0]}, or train on an equal number per class`,
    );
  }
  return { counts, ratio, warnings };
}
