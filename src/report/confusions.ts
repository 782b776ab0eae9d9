/**
 * A confusion matrix of many classes in a report: a heat map of 50 × 50
 * cells or more says nothing, so beyond MAX_CONFUSION_CHART_CLASSES the
 * report lists the pairs most often confused and the classes recognized
 * worst instead, as HTML tables.
 */
import { mostConfusedPairs } from '../train/metrics.js';
import { escapeHtml } from '../util/html.js';

/** Most classes drawn as a heat map (row-normalized cells stay legible up to about this many). */
export const MAX_CONFUSION_CHART_CLASSES = 20;

const pct = (v: number): string => `${(v * 100).toFixed(1)} %`;

/** Recall of every class with images, lowest first (ties: more images first, then class order). */
export function worstRecalls(matrix: readonly (readonly number[])[], classNames: readonly string[]): { className: string; recall: number; support: number }[] {
  return matrix
    .map((row, c) => ({ className: classNames[c]!, support: row.reduce((a, b) => a + b, 0), right: row[c]! }))
    .filter((c) => c.support > 0)
    .map((c) => ({ className: c.className, recall: c.right / c.support, support: c.support }))
    .sort((a, b) => a.recall - b.recall || b.support - a.support);
}

/** Two tables: the `pairs` most confused (true → predicted) and the `classes` lowest recalls, each saying how many it leaves out. */
export function confusionTablesHtml(
  matrix: readonly (readonly number[])[],
  classNames: readonly string[],
  options: { pairs?: number; classes?: number } = {},
): string {
  const { pairs = 15, classes = 10 } = options;
  const esc = escapeHtml;
  const top = mostConfusedPairs(matrix, pairs);
  const offDiagonal = matrix.reduce((n, row, t) => n + row.filter((v, p) => p !== t && v > 0).length, 0);
  const pairRows = top
    .map(
      (p) =>
        `<tr><td>${esc(classNames[p.trueIndex]!)}</td><td>${esc(classNames[p.predIndex]!)}</td><td class="num">${p.count}</td><td class="num">${pct(p.share)}</td></tr>`,
    )
    .join('');
  const recalls = worstRecalls(matrix, classNames);
  const classRows = recalls
    .slice(0, classes)
    .map((c) => `<tr><td>${esc(c.className)}</td><td class="num">${pct(c.recall)}</td><td class="num">${c.support}</td></tr>`)
    .join('');
  const more = (left: number, what: string) => (left > 0 ? `<p class="sub">… and ${left} more ${what} (results.json has the whole matrix)</p>` : '');
  return `<p class="sub">${classNames.length} classes: too many for a readable matrix.</p>
<table class="confusions"><thead><tr><th>true</th><th>predicted as</th><th class="num">images</th><th class="num">share of true class</th></tr></thead><tbody>${pairRows || '<tr><td colspan="4">no confusions</td></tr>'}</tbody></table>
${more(offDiagonal - top.length, 'confused pairs')}
<table class="recalls"><thead><tr><th>class (lowest recall first)</th><th class="num">recall</th><th class="num">images</th></tr></thead><tbody>${classRows}</tbody></table>
${more(recalls.length - Math.min(classes, recalls.length), 'classes')}`;
}
