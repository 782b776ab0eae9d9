/** The Learner: a model with its data, fit/fineTune/evaluate/save in a few lines. */
export { Learner, type LearnerData, type LearnerFitOptions } from './learner.js';
