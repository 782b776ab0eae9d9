/**
 * Exact and near duplicates. Exact: the same bytes. Near: the same photo
 * re-encoded, resized, slightly cropped or mirrored — two images whose
 * embeddings are nearest neighbours and whose perceptual hashes (plain or
 * mirrored) differ in few bits, or whose embeddings alone are all but
 * equal. A pair across splits is a leak; across classes, a label conflict.
 */
import { AUDIT_SPLITS } from './collect.js';
import type { AuditFeatures } from './features.js';
import type { Neighbours } from './neighbours.js';
import { hammingDistance, hashBytes } from './phash.js';
import type { AuditImage, AuditThresholds, DuplicateFinding, DuplicateRelation } from './types.js';

const RELATION_ORDER: Record<DuplicateRelation, number> = { 'cross-split': 0, 'cross-class': 1, 'within-class': 2 };

function relationOf(a: AuditImage, b: AuditImage): DuplicateRelation {
  if (a.split !== b.split) return 'cross-split';
  return a.className !== b.className ? 'cross-class' : 'within-class';
}

/** The pair ordered so `b` is the copy to leave out by default: the one in the later split, else the later path. */
function ordered(x: AuditImage, y: AuditImage): [AuditImage, AuditImage] {
  const rank = (i: AuditImage) => AUDIT_SPLITS.indexOf(i.split as (typeof AUDIT_SPLITS)[number]);
  if (rank(x) !== rank(y)) return rank(x) < rank(y) ? [x, y] : [y, x];
  return x.file < y.file ? [x, y] : [y, x];
}

function finding(x: AuditImage, y: AuditImage, f: Omit<DuplicateFinding, 'a' | 'b' | 'relation' | 'reason'>): DuplicateFinding {
  const [a, b] = ordered(x, y);
  const relation = relationOf(a, b);
  const what = f.kind === 'exact' ? 'the same bytes as' : `a near copy${f.mirrored ? ' (mirrored)' : ''} of`;
  const how = f.kind === 'exact' ? '' : ` (cosine ${f.score.toFixed(3)}, ${f.hashDistance} of 64 hash bits differ)`;
  const where = relation === 'cross-split' ? `: ${b.split} leaks ${a.split}` : relation === 'cross-class' ? `, labelled ${a.className} there` : '';
  return { ...f, a: a.file, b: b.file, relation, reason: `${b.file} is ${what} ${a.file}${how}${where}` };
}

/** Groups of files with the same bytes, as pairs with the first of each group. */
function exactDuplicates(features: AuditFeatures): DuplicateFinding[] {
  const groups = new Map<string, number[]>();
  features.hashes.forEach((h, i) => (groups.get(h.sha256) ?? groups.set(h.sha256, []).get(h.sha256)!).push(i));
  const out: DuplicateFinding[] = [];
  for (const members of groups.values()) {
    const [first, ...rest] = members.map((i) => features.images[i]!).sort((p, q) => (ordered(p, q)[0] === p ? -1 : 1));
    for (const other of rest) out.push(finding(first!, other, { kind: 'exact', score: 1, hashDistance: 0, mirrored: false }));
  }
  return out;
}

/** Embeddings all but equal; or hashes close and embeddings similar; or hashes nearly equal and embeddings alike. */
function isNearCopy(cosine: number, hashDistance: number, t: AuditThresholds): boolean {
  if (cosine >= t.embeddingCosine) return true;
  if (hashDistance <= t.closeHashBits) return cosine >= t.closeHashCosine;
  return hashDistance <= t.hashBits && cosine >= t.confirmCosine;
}

/** Near copies among each image's nearest neighbours. */
function nearDuplicates(features: AuditFeatures, neighbours: Neighbours, t: AuditThresholds): DuplicateFinding[] {
  const plain = features.hashes.map((h) => hashBytes(h.phash));
  const mirror = features.hashes.map((h) => hashBytes(h.mirror));
  const seen = new Set<string>();
  const out: DuplicateFinding[] = [];
  for (let i = 0; i < features.images.length; i++) {
    for (let r = 0; r < neighbours.k; r++) {
      const j = neighbours.index[i * neighbours.k + r]!;
      const cosine = neighbours.similarity[i * neighbours.k + r]!;
      const key = i < j ? `${i},${j}` : `${j},${i}`;
      if (cosine < Math.min(t.confirmCosine, t.closeHashCosine) || seen.has(key) || features.hashes[i]!.sha256 === features.hashes[j]!.sha256) continue;
      seen.add(key);
      const [d, dm] = [hammingDistance(plain[i]!, plain[j]!), hammingDistance(plain[i]!, mirror[j]!)];
      const hashDistance = Math.min(d, dm);
      if (!isNearCopy(cosine, hashDistance, t)) continue;
      out.push(finding(features.images[i]!, features.images[j]!, { kind: 'near', score: cosine, hashDistance, mirrored: dm < d }));
    }
  }
  return out;
}

/** Every duplicate pair: leaks first, then label conflicts, then copies within a class; the surest first in each. */
export function findDuplicates(features: AuditFeatures, neighbours: Neighbours, thresholds: AuditThresholds): DuplicateFinding[] {
  const all = [...exactDuplicates(features), ...nearDuplicates(features, neighbours, thresholds)];
  return all.sort((p, q) => RELATION_ORDER[p.relation] - RELATION_ORDER[q.relation] || q.score - p.score || p.hashDistance - q.hashDistance);
}
