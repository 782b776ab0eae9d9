/** What the automatic study records for each candidate: shared by the study and its report. */
import type { CandidateKind } from './auto-estimate.js';
import type { RecordedRun } from './run-step.js';

/** What a finished candidate leaves in candidates/<name>/step.json. */
export interface CandidateRecord extends RecordedRun {
  name: string;
  kind: CandidateKind;
  base?: string;
  settings: Record<string, unknown>;
  /** The candidate's recipe, settings, seed and data: a re-run reuses the candidate only when they are the same. */
  key: string;
  /** Its estimate before it ran (reference seconds, before rescaling): calibrates the later estimates. */
  estimateSeconds?: number;
  /** The kept epoch's validation accuracy and loss as training reported them (valAccuracy is the full validation pass). */
  fitValAccuracy?: number;
  fitValLoss?: number;
  valBalancedAccuracy?: number;
}

export interface AutoCandidateOutcome {
  name: string;
  kind: CandidateKind;
  recipe: string;
  base?: string;
  description: string;
  status: 'trained' | 'reused' | 'skipped' | 'failed';
  /** Why a skipped candidate did not run, or the error a failed one stopped with. */
  reason?: string;
  /** Seconds it was expected to take (rescaled), when estimated. */
  estimateSeconds?: number;
  record?: CandidateRecord;
}
