/** The options the from-scratch builders (small convnet, mini-Xception, xresnet) share, checked one way. */
import { check } from '../util/errors.js';

export const positiveInts = (v: readonly number[]): boolean => v.length >= 1 && v.every((n) => Number.isInteger(n) && n >= 1);

/** inputShape (at least `minSide` px on each side when given), numClasses and dropout; throws naming the first bad one. */
export function checkClassifierOptions(o: { inputShape: readonly number[]; numClasses: number; dropout: number; minSide?: number }): void {
  const { inputShape, numClasses, dropout, minSide } = o;
  check(
    inputShape.length === 3 && positiveInts(inputShape) && (minSide === undefined || Math.min(inputShape[0]!, inputShape[1]!) >= minSide),
    'inputShape',
    inputShape,
    `[height, width, channels] of positive integers${minSide === undefined ? '' : `, at least ${minSide} px on each side`}`,
  );
  check(Number.isInteger(numClasses) && numClasses >= 2, 'numClasses', numClasses, 'an integer ≥ 2');
  check(dropout >= 0 && dropout < 1, 'dropout', dropout, 'a rate in [0, 1)');
}

export function checkBatchNormMomentum(momentum: number): void {
  check(momentum >= 0 && momentum < 1, 'batchNormMomentum', momentum, 'a number in [0, 1) (Keras: 0.99; PyTorch momentum 0.1 is 0.9)');
}
