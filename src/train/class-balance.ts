/**
 * Class weights, as Keras's `class_weight`: each training sample's loss is
 * multiplied by the weight of its class, so a minority class counts as much
 * as a majority one. 'balanced' is scikit-learn's and Keras's recipe,
 * n_samples / (n_classes · n_c); 'auto' turns it on only when the training
 * folder is imbalanced (largest / smallest class above IMBALANCE_RATIO) and
 * says so, naming the counts.
 */
import { ConvkitError } from '../util/errors.js';

/** What `--class-weight` takes: a mode, or one weight per class (by class name or index). */
export type ClassWeightSetting = 'auto' | 'balanced' | 'none' | Readonly<Record<string, number>> | readonly number[];

/** Largest / smallest class count above which 'auto' weights the classes. */
export const IMBALANCE_RATIO = 1.5;

export interface ClassWeightChoice {
  /** One weight per class index, or undefined: the loss is not weighted. */
  weights?: number[];
  /** How the weights were chosen: 'balanced' (computed), 'custom' (given) or 'none'. */
  mode: 'balanced' | 'custom' | 'none';
  /** One line for the log: the counts, the ratio and what was decided. */
  reason: string;
  /** True when 'auto' turned the weights on: the caller shows the reason as a warning. */
  warn: boolean;
  /** Training images per class. */
  counts: number[];
  /** Largest / smallest count. */
  ratio: number;
}

/** Images per class index in a list of labels. */
export function classCounts(labels: readonly number[], numClasses: number): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (const l of labels) counts[l] = (counts[l] ?? 0) + 1;
  return counts;
}

/** Keras / scikit-learn 'balanced' weights: n_samples / (n_classes · n_c). */
export function balancedWeights(counts: readonly number[]): number[] {
  const n = counts.reduce((a, b) => a + b, 0);
  return counts.map((c) => n / (counts.length * c));
}

const fmt = (w: number) => (Number.isInteger(w) ? String(w) : w.toFixed(3));

function describeCounts(counts: readonly number[], names: readonly string[]): string {
  return counts.map((c, i) => `${names[i]} ${c}`).join(', ');
}

function customWeights(setting: Readonly<Record<string, number>> | readonly number[], names: readonly string[]): number[] {
  const given: Record<string, number> = Array.isArray(setting) ? Object.fromEntries(setting.map((w, i) => [String(i), w])) : { ...setting };
  const unknown = Object.keys(given).filter((k) => !names.includes(k) && !(/^\d+$/.test(k) && Number(k) < names.length));
  if (unknown.length)
    throw new ConvkitError(
      `--class-weight names ${unknown.map((k) => JSON.stringify(k)).join(', ')}, which ${unknown.length > 1 ? 'are not classes' : 'is not a class'} of the training data`,
      `give one weight per class, by name (${names.map((n) => JSON.stringify(n)).join(', ')}) or index (0 to ${names.length - 1})`,
    );
  const weights = names.map((name, i) => given[name] ?? given[String(i)]);
  const missing = names.filter((_, i) => weights[i] === undefined);
  if (missing.length)
    throw new ConvkitError(`--class-weight gives no weight for class ${missing.join(', ')}`, 'give one weight per class, e.g. {"cats": 1, "dogs": 2}');
  if (weights.some((w) => typeof w !== 'number' || !Number.isFinite(w) || w < 0) || weights.every((w) => w === 0))
    throw new ConvkitError(
      `--class-weight ${JSON.stringify(setting)} holds a weight that is not a number ≥ 0, or only zeros`,
      'give finite weights ≥ 0, at least one above 0',
    );
  return weights as number[];
}

/**
 * The class weights of a run from the training counts per class and the
 * setting: 'none', 'balanced', explicit weights, or 'auto' (balanced when
 * largest / smallest > IMBALANCE_RATIO, else none; none with balanced
 * sampling, which evens the classes already).
 */
export function chooseClassWeights(
  counts: readonly number[],
  mode: ClassWeightSetting = 'auto',
  classNames?: readonly string[],
  options: { balancedSampling?: boolean } = {},
): ClassWeightChoice {
  const names = classNames ?? counts.map((_, i) => String(i));
  if (names.length !== counts.length) throw new Error(`chooseClassWeights: ${counts.length} counts for ${names.length} class names`);
  const most = Math.max(...counts),
    least = Math.min(...counts);
  const ratio = least > 0 ? most / least : Infinity;
  const base = { counts: [...counts], ratio };
  const shown = `${describeCounts(counts, names)}: ${ratio === Infinity ? 'a class has no images' : `largest/smallest ${ratio.toFixed(2)}`}`;
  if (typeof mode === 'object') {
    const weights = customWeights(mode, names);
    return {
      ...base,
      weights,
      mode: 'custom',
      warn: false,
      reason: `class weights given: ${names.map((n, i) => `${n} ${fmt(weights[i]!)}`).join(', ')} (${shown})`,
    };
  }
  if (mode !== 'auto' && mode !== 'balanced' && mode !== 'none')
    throw new ConvkitError(
      `invalid --class-weight: ${JSON.stringify(mode)}`,
      'use auto, balanced, none or a JSON object of weights such as {"cats": 1, "dogs": 2}',
    );
  if (mode === 'none') return { ...base, mode: 'none', warn: false, reason: `class weights off (${shown})` };
  // Balanced sampling already evens the classes: weighting the loss as well would over-correct.
  if (mode === 'auto' && options.balancedSampling)
    return { ...base, mode: 'none', warn: false, reason: `no class weights: balanced sampling evens the classes (${shown})` };
  if (least === 0) throw new ConvkitError(`a training class has no images (${describeCounts(counts, names)})`, 'put images in every class folder of train/');
  if (mode === 'auto' && !(ratio > IMBALANCE_RATIO))
    return { ...base, mode: 'none', warn: false, reason: `classes balanced enough, no class weights (${shown} ≤ ${IMBALANCE_RATIO})` };
  const weights = balancedWeights(counts);
  const given = `${names.map((n, i) => `${n} ${fmt(weights[i]!)}`).join(', ')}`;
  return mode === 'auto'
    ? {
        ...base,
        weights,
        mode: 'balanced',
        warn: true,
        reason: `train/ is imbalanced (${shown} > ${IMBALANCE_RATIO}): weighting the loss by class, ${given}; --class-weight none turns this off`,
      }
    : { ...base, weights, mode: 'balanced', warn: false, reason: `balanced class weights ${given} (${shown})` };
}

/** Parses `--class-weight`: auto, balanced, none, or a JSON object / array of weights. */
export function parseClassWeight(value: string): ClassWeightSetting {
  if (value === 'auto' || value === 'balanced' || value === 'none') return value;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    parsed = undefined;
  }
  const isWeights = (o: unknown) =>
    (Array.isArray(o) && o.every((w) => typeof w === 'number')) ||
    (typeof o === 'object' && o !== null && !Array.isArray(o) && Object.values(o).every((w) => typeof w === 'number'));
  if (!isWeights(parsed))
    throw new ConvkitError(
      `invalid --class-weight: ${JSON.stringify(value)}`,
      'use auto, balanced, none, or JSON weights by class name or index, e.g. \'{"cats": 1, "dogs": 2}\' or [1, 2]',
    );
  return parsed as ClassWeightSetting;
}
