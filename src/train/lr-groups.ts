/**
 * Learning rates per group of layers (fastai's discriminative rates): each
 * group gets its own optimizer running at the base rate times the group's
 * multiplier, and one optimizer step hands every group the gradients of its
 * own weights.
 *
 * Why one optimizer per group rather than scaled gradients: scaling a
 * group's gradients by m scales plain or momentum SGD's step by m exactly,
 * but Adam and RMSprop divide the gradient by a running estimate of its own
 * size, so their step barely changes (Adam's first step is lr · sign(g)
 * whatever m is). Separate optimizers at lr · m are exact for all three.
 */
import * as tf from '@tensorflow/tfjs';
import { ConvkitError } from '../util/errors.js';
import { getLearningRate, setLearningRate } from './optimizers.js';

type NamedGradients = Parameters<tf.Optimizer['applyGradients']>[0];

interface Group {
  multiplier: number;
  optimizer: tf.Optimizer;
  /** Names of the tf.Variables it updates. */
  variables: Set<string>;
}

/** Every layer of `model` that owns weights, nested models opened up. */
function weightLayers(model: tf.LayersModel): tf.layers.Layer[] {
  const out: tf.layers.Layer[] = [];
  const visit = (layers: readonly tf.layers.Layer[]) => {
    for (const l of layers) {
      const inner = (l as unknown as { layers?: tf.layers.Layer[] }).layers;
      if (Array.isArray(inner)) visit(inner);
      else out.push(l);
    }
  };
  visit(model.layers);
  return out;
}

/**
 * An optimizer over groups of variables, each with its own inner optimizer
 * at rate × multiplier. Its `learningRate` is the base rate (multiplier 1):
 * schedules and ReduceLROnPlateau change every group's rate in proportion.
 */
export class GroupedOptimizer extends tf.Optimizer {
  static readonly className = 'GroupedOptimizer';
  private baseRate: number;

  constructor(
    private readonly groups: Group[],
    learningRate: number,
  ) {
    super();
    this.baseRate = learningRate;
  }

  get learningRate(): number {
    return this.baseRate;
  }

  setLearningRate(lr: number): void {
    this.baseRate = lr;
    for (const g of this.groups) setLearningRate(g.optimizer, lr * g.multiplier);
  }

  /** Each group's multiplier and its optimizer's current rate. */
  get rates(): { multiplier: number; learningRate: number; variables: number }[] {
    return this.groups.map((g) => ({ multiplier: g.multiplier, learningRate: getLearningRate(g.optimizer), variables: g.variables.size }));
  }

  override applyGradients(variableGradients: NamedGradients): void {
    const list = Array.isArray(variableGradients)
      ? variableGradients.map((g) => ({ name: g.name, tensor: g.tensor }))
      : Object.entries(variableGradients).map(([name, tensor]) => ({ name, tensor }));
    for (const group of this.groups) {
      const mine = list.filter((g) => group.variables.has(g.name));
      if (mine.length) group.optimizer.applyGradients(mine);
    }
    this.incrementIterations();
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { learningRate: this.baseRate, multipliers: this.groups.map((g) => g.multiplier) };
  }

  override dispose(): void {
    for (const g of this.groups) g.optimizer.dispose();
    super.dispose();
  }
}

/**
 * A GroupedOptimizer for `model`'s trainable weights: a layer named in
 * `multipliers` trains at learningRate × its multiplier, every other layer
 * at learningRate. `make(lr)` builds one inner optimizer (same kind and
 * settings for every group). A name that is no trainable layer of the model
 * is an error: a rate silently not applied would mislead.
 */
export function groupedOptimizer(
  model: tf.LayersModel,
  multipliers: ReadonlyMap<string, number>,
  learningRate: number,
  make: (lr: number) => tf.Optimizer,
): GroupedOptimizer {
  const layers = weightLayers(model).filter((l) => l.trainable && l.trainableWeights.length > 0);
  const names = new Set(layers.map((l) => l.name));
  const unknown = [...multipliers.keys()].filter((n) => !names.has(n));
  if (unknown.length)
    throw new ConvkitError(
      `learning-rate multipliers name ${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ', …' : ''}, not trainable layers of model ${model.name}`,
      'give multipliers only for the layers that train (unfreeze them first)',
    );
  for (const [name, m] of multipliers)
    if (!(m > 0) || !Number.isFinite(m)) throw new ConvkitError(`learning-rate multiplier of layer ${name} is ${m}`, 'use positive multipliers');
  const byMultiplier = new Map<number, Set<string>>();
  for (const layer of layers) {
    const m = multipliers.get(layer.name) ?? 1;
    const set = byMultiplier.get(m) ?? byMultiplier.set(m, new Set()).get(m)!;
    for (const w of layer.trainableWeights) set.add((w.read() as tf.Variable).name);
  }
  // Lowest rate first: the order the base's blocks come in.
  const groups = [...byMultiplier.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([multiplier, variables]) => ({ multiplier, variables, optimizer: make(learningRate * multiplier) }));
  return new GroupedOptimizer(groups, learningRate);
}
