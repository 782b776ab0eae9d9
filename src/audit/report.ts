/**
 * The audit's report page: one self-contained index.html (inline CSS and JS,
 * thumbnails as data: URIs, no network) listing every finding, where a person
 * marks files to keep, move or exclude and takes away the resulting plan.json.
 */
import { basename, join } from 'node:path';
import sharp from 'sharp';
import { writeFileAtomic } from '../util/atomic.js';
import { REPORT_CSS } from '../report/style.js';
import { PLAN_FORMAT, type AuditPlan } from './plan.js';
import type { AuditResult, DuplicateFinding, DuplicateRelation, LabelIssueFinding, OutlierFinding, UnreadableFinding } from './types.js';
import { escapeHtml } from '../util/html.js';

/** A small JPEG of the image at `path` as a data: URI, or undefined when it cannot be read. */
export async function thumbnail(path: string, side = 112): Promise<string | undefined> {
  try {
    const jpeg = await sharp(path).rotate().resize(side, side, { fit: 'inside' }).jpeg({ quality: 70 }).toBuffer();
    return `data:image/jpeg;base64,${jpeg.toString('base64')}`;
  } catch {
    // A file that will not decode is shown by name: being unreadable is itself a finding.
    return undefined;
  }
}

/** Thumbnails by data-relative file; empty when the page leaves images out. */
type Thumbs = Map<string, string | undefined>;

interface View {
  result: AuditResult;
  thumbs: Thumbs;
  images: boolean;
}

interface Section {
  id: string;
  title: string;
  count: number;
  body: string;
}

const esc = escapeHtml;

const byScore = <T extends { score: number }>(list: T[]): T[] => [...list].sort((x, y) => y.score - x.score);
/** A number to `digits` places; results.json read back turns NaN into null, shown as a dash. */
const fixed = (v: number | null, digits: number): string => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '—');
const plural = (n: number, word: string, many = `${word}s`): string => `${n} ${n === 1 ? word : many}`;

/** The files whose pictures the page shows. Unreadable files are left out: opening one (a FIFO, say) could hang. */
function pictured(result: AuditResult): string[] {
  const files = [...result.duplicates.flatMap((d) => [d.a, d.b]), ...result.labelIssues.map((f) => f.file), ...result.outliers.map((f) => f.file)];
  return [...new Set(files)];
}

async function thumbnails(result: AuditResult, images: boolean): Promise<Thumbs> {
  const thumbs: Thumbs = new Map();
  if (!images) return thumbs;
  const queue = pictured(result);
  // A few decodes at a time: all at once would hold every full-size image in memory together.
  const worker = async (): Promise<void> => {
    for (let file = queue.pop(); file !== undefined; file = queue.pop()) thumbs.set(file, await thumbnail(join(result.data, file)));
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return thumbs;
}

/** The class folder a data-relative file lies in (files in nested folders belong to their class). */
function classOf(result: AuditResult, file: string): string | undefined {
  return file.split(/[\\/]/)[result.layout === 'splits' ? 1 : 0];
}

function picture(view: View, file: string, note?: string): string {
  const uri = view.thumbs.get(file);
  const img = uri ? `<img src="${uri}" alt="">` : view.images ? '<div class="noimg">no preview</div>' : '';
  return `<figure>${img}<figcaption><code>${esc(file)}</code>${note ? ` <span class="sub">${esc(note)}</span>` : ''}</figcaption></figure>`;
}

function button(action: string, label = action): string {
  return `<button type="button" data-action="${action}" aria-pressed="${action === 'keep'}">${label}</button>`;
}

/** Keep / move to [class] / exclude for one file; `preferred` is the class the select starts on. */
function controls(view: View, file: string, ownClass: string | undefined, preferred?: string): string {
  const targets = view.result.classNames.filter((c) => c !== ownClass);
  const options = targets.map((c) => `<option value="${esc(c)}"${c === preferred ? ' selected' : ''}>${esc(c)}</option>`).join('');
  const move = targets.length ? `${button('move', 'move to')}<select data-move-to aria-label="class to move ${esc(file)} to">${options}</select>` : '';
  return `<div class="controls">${button('keep')}${move}${button('exclude')}</div>`;
}

/** One finding about `file`: what is known, the reason, and the controls. */
function item(view: View, file: string, reason: string, body: string, choice: string = controls(view, file, classOf(view.result, file))): string {
  return `<article class="item" data-file="${esc(file)}" data-reason="${esc(reason)}" data-state="keep">${body}<p class="reason">${esc(reason)}</p>${choice}</article>`;
}

function duplicateItem(view: View, d: DuplicateFinding): string {
  const detail = `${d.kind === 'exact' ? 'exact copy' : 'near duplicate'} · similarity ${fixed(d.score, 3)} · hash distance ${d.hashDistance}${d.mirrored ? ' · mirrored' : ''}`;
  const pair = `<div class="pair">${picture(view, d.a, 'kept')}${picture(view, d.b, 'the copy to act on')}</div>`;
  return item(view, d.b, d.reason, `${pair}<p class="detail">${esc(detail)}</p>`);
}

function labelIssueItem(view: View, f: LabelIssueFinding): string {
  const given = esc(f.givenClass),
    suggested = esc(f.suggestedClass);
  const detail = `given <b>${given}</b> → suggested <b>${suggested}</b> · p(${given}) ${fixed(f.givenProbability, 2)} · p(${suggested}) ${fixed(f.suggestedProbability, 2)}`;
  const choice = controls(view, f.file, f.givenClass, f.suggestedClass);
  return item(view, f.file, f.reason, `${picture(view, f.file)}<p class="detail">${detail}</p>`, choice);
}

function outlierItem(view: View, f: OutlierFinding): string {
  const detail = `class ${f.className} · distance ${fixed(f.distance, 3)} · robust z ${fixed(f.score, 1)}`;
  return item(view, f.file, f.reason, `${picture(view, f.file)}<p class="detail">${esc(detail)}</p>`);
}

function unreadableItem(view: View, f: UnreadableFinding): string {
  return item(view, f.file, f.reason, picture(view, f.file));
}

function listBody(items: string[]): string {
  return items.length ? `<div class="items">${items.join('\n')}</div>` : '<p class="none">none found</p>';
}

function findingSections(view: View): Section[] {
  const { duplicates, labelIssues, outliers, unreadable } = view.result;
  const pairs = (relation: DuplicateRelation) => byScore(duplicates.filter((d) => d.relation === relation)).map((d) => duplicateItem(view, d));
  const lists: [string, string, string[]][] = [
    ['leaks', 'Train/test leaks', pairs('cross-split')],
    ['conflicts', 'Label conflicts', pairs('cross-class')],
    ['duplicates', 'Duplicates', pairs('within-class')],
    ['mislabeled', 'Likely mislabeled', byScore(labelIssues).map((f) => labelIssueItem(view, f))],
    ['outliers', 'Outliers', byScore(outliers).map((f) => outlierItem(view, f))],
    ['unreadable', 'Unreadable files', unreadable.map((f) => unreadableItem(view, f))],
  ];
  return lists.map(([id, title, items]) => ({ id, title, count: items.length, body: listBody(items) }));
}

function ratioText(ratio: number | null | undefined): string {
  if (typeof ratio !== 'number') return '—';
  return Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : '∞';
}

function balanceSection(result: AuditResult): Section {
  const { counts, ratio, warnings } = result.balance;
  const classes = result.classNames;
  const head = `<tr><th>split</th>${classes.map((c) => `<th class="num">${esc(c)}</th>`).join('')}<th class="num">largest / smallest</th></tr>`;
  const row = (split: string) =>
    `<tr><td>${esc(split || 'all')}</td>${classes.map((c) => `<td class="num">${counts[split]?.[c] ?? 0}</td>`).join('')}<td class="num">${ratioText(ratio[split])}</td></tr>`;
  const table = `<div class="table-scroll"><table id="balance-table"><thead>${head}</thead><tbody>${Object.keys(counts).map(row).join('')}</tbody></table></div>`;
  const notes = warnings.length ? `<ul class="warnings">${warnings.map((w) => `<li>${esc(w)}</li>`).join('')}</ul>` : '<p class="none">none found</p>';
  return { id: 'balance', title: 'Class balance', count: warnings.length, body: `${table}${notes}` };
}

function sectionHtml(s: Section): string {
  const count = s.id === 'balance' ? plural(s.count, 'warning') : String(s.count);
  return `<section id="${s.id}" data-count="${s.count}"><h2>${esc(s.title)} <span class="count">(${count})</span></h2>${s.body}</section>`;
}

/** A word the shell reads back unchanged. */
function shellWord(s: string): string {
  return /^[\w./:@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function header(view: View, sections: Section[]): string {
  const r = view.result;
  const facts = [
    plural(r.images, 'image'),
    `${plural(r.classNames.length, 'class', 'classes')}: ${r.classNames.join(', ')}`,
    r.splits.length ? `splits: ${r.splits.join(', ')}` : '',
    `base ${r.base}`,
  ];
  const meta = facts.map((f) => (f ? `<span>${esc(f)}</span>` : '')).join('');
  const privacy = view.images ? '' : '<p class="meta">Images left out: this page names files only, so it can be shared without the photos.</p>';
  const nav = sections.map((s) => `<a class="button" href="#${s.id}">${esc(s.title)} (${s.count})</a>`).join('');
  return `<header class="top"><div class="wrap"><h1>Data audit of ${esc(basename(r.data))}</h1>
<p class="meta"><span><code>${esc(r.data)}</code></span>${meta}</p>${privacy}<nav>${nav}</nav></div></header>`;
}

function planPanel(result: AuditResult): string {
  return `<aside class="plan-panel" aria-label="plan">
<h2>Plan <span class="count" id="plan-count">0 changes</span></h2>
<p class="sub">Every file is kept until you exclude or move it. Excluding the second copy of a duplicate keeps the first.</p>
<div class="plan-buttons"><button type="button" id="download">Download plan.json</button><button type="button" id="copy">Copy</button></div>
<pre id="plan"></pre>
<div class="howto"><h3>How to apply</h3>
<p>Save the plan, then run <code>convkit audit --apply plan.json</code>. Files are moved, never deleted: excluded ones go to a quarantine folder beside the data.</p>
<p>To put every file back: <code>convkit audit --undo --data ${esc(shellWord(result.data))}</code></p></div>
</aside>`;
}

const AUDIT_CSS = `
main.audit { display: grid; grid-template-columns: minmax(0, 1fr) 360px; gap: 22px; align-items: start; padding-bottom: 24px; }
@media (max-width: 960px) { main.audit { grid-template-columns: 1fr; } }
.findings > section, .plan-panel { background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 22px 24px; margin: 0 0 22px; box-shadow: 0 1px 2px rgba(16,24,40,.04); }
.plan-panel { position: sticky; top: 12px; max-height: calc(100vh - 24px); overflow: auto; }
h2 .count { color: var(--muted); font-weight: normal; font-size: 16px; }
.none { color: var(--muted); margin: 0; }
.items { display: grid; gap: 12px; }
.item { border: 1px solid var(--line); border-left: 4px solid var(--line); border-radius: 10px; padding: 12px 14px; }
.item[data-state="exclude"] { border-left-color: var(--bad); background: var(--bad-bg); }
.item[data-state="move"] { border-left-color: var(--accent); background: #eef5fc; }
.item figure { margin: 0; display: inline-block; vertical-align: top; max-width: 100%; }
.item img, .noimg { display: block; max-width: 112px; max-height: 112px; border-radius: 6px; background: #eee; }
.noimg { width: 112px; height: 72px; display: grid; place-items: center; color: var(--muted); font-size: 12px; }
.item figcaption { font-size: 12.5px; overflow-wrap: anywhere; margin-top: 4px; }
.pair { display: flex; flex-wrap: wrap; gap: 14px; }
.pair figure { flex: 0 1 220px; }
.detail { margin: 8px 0 2px; font-size: 14px; }
.reason { margin: 2px 0 8px; color: var(--muted); font-size: 14px; }
.controls { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; }
.controls button, .plan-buttons button { font: inherit; font-size: 13px; padding: 3px 12px; border-radius: 999px; border: 1px solid var(--line); background: #fff; cursor: pointer; }
.controls button[aria-pressed="true"] { background: var(--top); color: #fff; border-color: var(--top); }
.controls select { font: inherit; font-size: 13px; padding: 2px 6px; }
.plan-buttons { display: flex; gap: 8px; margin: 10px 0; }
#plan { font: 12px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; background: var(--bg); border: 1px solid var(--line); border-radius: 8px; padding: 10px; max-height: 40vh; overflow: auto; white-space: pre-wrap; overflow-wrap: anywhere; }
.howto { border-top: 1px solid var(--line); margin-top: 14px; padding-top: 12px; font-size: 14px; }
.warnings { margin: 0; padding-left: 20px; }
`;

/** The page's script: the plan, one action per file, shown in #plan as it changes. */
const PAGE_JS = `
const chosen = new Map(); // file → its one action; keeping a file removes it
const planText = () => JSON.stringify({ ...plan, actions: [...chosen.values()] }, null, 2);

function choose(item, action) {
  const { file, reason } = item.dataset;
  if (action === 'keep') chosen.delete(file);
  else if (action === 'exclude') chosen.set(file, { action, file, reason });
  else chosen.set(file, { action, file, toClass: item.querySelector('[data-move-to]').value, reason });
  render();
}

function render() {
  // A file may appear in several sections: every item naming it shows its one action.
  for (const item of document.querySelectorAll('.item[data-file]')) {
    const chosenAction = chosen.get(item.dataset.file);
    item.dataset.state = chosenAction ? chosenAction.action : 'keep';
    for (const b of item.querySelectorAll('[data-action]')) b.setAttribute('aria-pressed', String(b.dataset.action === item.dataset.state));
    if (chosenAction && chosenAction.toClass) item.querySelector('[data-move-to]').value = chosenAction.toClass;
  }
  document.getElementById('plan').textContent = planText();
  document.getElementById('plan-count').textContent = chosen.size + (chosen.size === 1 ? ' change' : ' changes');
}

function download() {
  const url = URL.createObjectURL(new Blob([planText() + '\\n'], { type: 'application/json' }));
  Object.assign(document.createElement('a'), { href: url, download: 'plan.json' }).click();
  setTimeout(() => URL.revokeObjectURL(url), 60000); // the download reads the blob after click() returns
}

function copy() {
  const copyButton = document.getElementById('copy');
  const done = () => { copyButton.textContent = 'Copied'; setTimeout(() => (copyButton.textContent = 'Copy'), 1500); };
  // Pages opened from disk may be refused the clipboard; the plan is still in #plan to select by hand.
  navigator.clipboard?.writeText(planText()).then(done, () => {});
}

document.addEventListener('click', (e) => {
  const button = e.target.closest('[data-action]');
  if (button) choose(button.closest('.item'), button.dataset.action);
});
document.addEventListener('change', (e) => {
  // Another class for a file already set to move changes its move; otherwise the pick waits for "move to".
  const item = e.target.closest('.item');
  if (e.target.matches('[data-move-to]') && item.dataset.state === 'move') choose(item, 'move');
});
document.getElementById('download').addEventListener('click', download);
document.getElementById('copy').addEventListener('click', copy);
window.auditPlan = () => JSON.parse(planText());
render();
`;

/** JSON for inside a <script>: '<' escaped so a path holding "</script>" cannot end it early. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

function page(view: View): string {
  const sections = [...findingSections(view), balanceSection(view.result)];
  const plan: AuditPlan = { format: PLAN_FORMAT, version: 1, data: view.result.data, actions: [] };
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Data audit of ${esc(basename(view.result.data))}</title>
<style>${REPORT_CSS}${AUDIT_CSS}</style>
</head>
<body>
${header(view, sections)}
<main class="wrap audit">
<div class="findings">
${sections.map(sectionHtml).join('\n')}
</div>
${planPanel(view.result)}
</main>
<footer class="wrap">Made by convkit audit. Everything on this page is in this file; it works offline.</footer>
<script>
const plan = ${scriptJson(plan)};
${PAGE_JS}</script>
</body>
</html>
`;
}

/** Writes `<out>/index.html`: every finding, with controls that build a plan.json. `images: false` leaves every picture out. */
export async function writeAuditReport(result: AuditResult, options: { out: string; images?: boolean }): Promise<{ indexPath: string }> {
  const images = options.images ?? true;
  const view: View = { result, thumbs: await thumbnails(result, images), images };
  const indexPath = join(options.out, 'index.html');
  await writeFileAtomic(indexPath, page(view));
  return { indexPath };
}
