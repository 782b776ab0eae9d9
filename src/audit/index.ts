/** Data-quality audit of a photo folder: unreadable files, duplicates and leaks, label issues, outliers, class balance. */
export { runAudit, auditFolder, AUDIT_MARKER, type AuditOptions, type AuditRun } from './audit.js';
export { collectImages, type CollectedImages } from './collect.js';
export { auditFeatures, hashFile, type AuditFeatures, type AuditFeatureOptions, type ImageHashes } from './features.js';
export { nearestNeighbours, type Neighbours } from './neighbours.js';
export { findDuplicates } from './duplicates.js';
export { findLabelIssues, outOfSampleProbabilities, confidentLabelIssues, type LabelIssueOptions } from './label-issues.js';
export { findOutliers } from './outliers.js';
export { classBalance } from './balance.js';
export type * from './types.js';
export type { AuditPlan, PlanAction } from './plan.js';
export { readPlan, applyPlan, undoPlan, type ApplyResult } from './apply.js';
