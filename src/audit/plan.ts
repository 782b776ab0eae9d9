/**
 * What a person decides on an audit's findings: a plan of moves. Nothing is
 * ever deleted: an excluded file goes to a quarantine folder beside the
 * data, a relabelled one to its new class folder (see apply.ts).
 */

/** One decision; `file` is relative to the data folder, as results.json names it. */
export type PlanAction = { action: 'exclude'; file: string; reason?: string } | { action: 'move'; file: string; toClass: string; reason?: string };

export interface AuditPlan {
  format: 'convkit-audit-plan';
  version: 1;
  /** The data folder the plan is for (absolute, as results.json's `data`). */
  data: string;
  actions: PlanAction[];
}

export const PLAN_FORMAT = 'convkit-audit-plan';
