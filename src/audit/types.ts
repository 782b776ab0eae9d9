/** What an audit finds, as plain data: the shapes results.json and the report page share. */

/** One image of the audited folder. */
export interface AuditImage {
  /** Absolute path. */
  path: string;
  /** Path relative to the data folder (what a plan names). */
  file: string;
  /** train, validation, val or test; '' when the data folder is one set of class folders. */
  split: string;
  className: string;
  label: number;
}

/** A file the pipeline could not read, with its reason. */
export interface UnreadableFinding {
  file: string;
  reason: string;
}

export type DuplicateKind = 'exact' | 'near';
/** Where the two copies lie: in two splits (a leak), in two classes (a label conflict), or in one class. */
export type DuplicateRelation = 'cross-split' | 'cross-class' | 'within-class';

export interface DuplicateFinding {
  kind: DuplicateKind;
  relation: DuplicateRelation;
  /** The first copy (the one kept by default). */
  a: string;
  /** The second copy (the one excluded by default: in a leak, the copy outside train). */
  b: string;
  /** Cosine similarity of the two embeddings (1 for the same bytes). */
  score: number;
  /** Bits that differ between the perceptual hashes (the smaller of plain and mirrored). */
  hashDistance: number;
  mirrored: boolean;
  reason: string;
}

export interface LabelIssueFinding {
  file: string;
  givenClass: string;
  suggestedClass: string;
  /** Out-of-sample probability of the given class. */
  givenProbability: number;
  suggestedProbability: number;
  /** 1 − the given class's probability: higher is more likely mislabeled. */
  score: number;
  reason: string;
}

export interface OutlierFinding {
  file: string;
  className: string;
  /** Mean cosine distance to the nearest images. */
  distance: number;
  /** Robust z-score of that distance (median and MAD over the folder). */
  score: number;
  reason: string;
}

export interface BalanceFinding {
  /** counts[split][class]; split '' for a plain class-folder set. */
  counts: Record<string, Record<string, number>>;
  /** Largest class count / smallest, per split. */
  ratio: Record<string, number>;
  warnings: string[];
}

export interface AuditFindings {
  unreadable: UnreadableFinding[];
  duplicates: DuplicateFinding[];
  labelIssues: LabelIssueFinding[];
  outliers: OutlierFinding[];
  balance: BalanceFinding;
}

export interface AuditResult extends AuditFindings {
  format: 'convkit-audit';
  version: 1;
  /** The data folder (absolute). */
  data: string;
  layout: 'splits' | 'classes';
  splits: string[];
  classNames: string[];
  images: number;
  base: string;
  /** The thresholds the findings were cut at. */
  thresholds: AuditThresholds;
  /** Seconds per stage. */
  timings: Record<string, number>;
  /** Whether the embeddings came from the feature cache. */
  cacheHit: boolean;
}

export interface AuditThresholds {
  /** Most differing bits of two perceptual hashes for a near-duplicate candidate. */
  hashBits: number;
  /** Least cosine similarity confirming a hash candidate. */
  confirmCosine: number;
  /** Hashes this close (bits) need only `closeHashCosine`: a small re-encoded copy blurs its embedding more than its hash. */
  closeHashBits: number;
  closeHashCosine: number;
  /** Least cosine similarity making a near duplicate on the embeddings alone. */
  embeddingCosine: number;
  /** Least robust z-score of an outlier. */
  outlierZ: number;
  /** Folds of the out-of-sample heads. */
  folds: number;
  /** Largest/smallest class ratio that warns. */
  imbalanceRatio: number;
  /** Least score (1 − the given class's out-of-sample probability) of a reported label issue. */
  labelScore: number;
}

export const DEFAULT_THRESHOLDS: AuditThresholds = {
  hashBits: 12,
  confirmCosine: 0.9,
  closeHashBits: 4,
  closeHashCosine: 0.8,
  embeddingCosine: 0.96,
  outlierZ: 5,
  folds: 5,
  imbalanceRatio: 1.5,
  labelScore: 0.8,
};
