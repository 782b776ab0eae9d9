/** The stylesheets of the report and try-it pages (inlined, so the pages need no other file). */

const BASE = `
:root { --fg: #1d2330; --muted: #5f6b7a; --line: #e3e7ee; --bg: #f6f7fa; --card: #fff; --accent: #1f77b4; --good: #1a7f37; --good-bg: #dafbe1; --bad: #b3261e; --bad-bg: #ffe4e1; --top: #17324d; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--fg); background: var(--bg); }
.wrap { max-width: 1180px; margin: 0 auto; padding: 0 24px; }
a { color: var(--accent); }
code { font: 13px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; background: rgba(0,0,0,.05); padding: 1px 5px; border-radius: 4px; }
h1 { font-size: 28px; line-height: 1.2; margin: 0 0 8px; letter-spacing: -.01em; }
h2 { font-size: 20px; margin: 0 0 14px; }
h3 { font-size: 13px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); margin: 0 0 10px; font-weight: 600; }
.top { background: var(--top); color: #fff; padding: 28px 0 22px; }
.top .meta { margin: 2px 0; color: #c9d6e3; font-size: 14px; }
.top .meta span + span::before { content: "·"; margin: 0 8px; color: #7f95ab; }
.top code { background: rgba(255,255,255,.12); color: #fff; }
.top b { color: #fff; }
nav { margin-top: 14px; display: flex; flex-wrap: wrap; gap: 8px; }
.button { display: inline-block; padding: 6px 14px; border-radius: 999px; background: rgba(255,255,255,.12); color: #fff; text-decoration: none; font-size: 14px; border: 1px solid rgba(255,255,255,.25); }
.button:hover { background: rgba(255,255,255,.22); }
footer { color: var(--muted); font-size: 13px; padding: 24px; text-align: center; }
`;

export const REPORT_CSS = `${BASE}
main.wrap { padding-top: 24px; }
main > section, .step { background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 22px 24px; margin: 0 0 22px; box-shadow: 0 1px 2px rgba(16,24,40,.04); }
.table-scroll { overflow-x: auto; margin-bottom: 18px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 9px 12px; border-bottom: 1px solid var(--line); vertical-align: top; text-align: left; }
th { font-size: 12px; text-transform: uppercase; letter-spacing: .05em; color: var(--muted); font-weight: 600; white-space: nowrap; }
tbody tr:hover { background: #f9fafc; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.strong { font-weight: 700; }
td.name a { font-weight: 600; text-decoration: none; }
.sub { color: var(--muted); font-size: 12.5px; font-weight: normal; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 999px; font-size: 12.5px; font-weight: 600; white-space: nowrap; }
.badge.within, .badge.above { background: var(--good-bg); color: var(--good); }
.badge.below { background: var(--bad-bg); color: var(--bad); }
.step h2 { display: flex; align-items: center; gap: 10px; }
.step h2 .num { display: inline-grid; place-items: center; width: 28px; height: 28px; border-radius: 50%; background: var(--accent); color: #fff; font-size: 14px; }
.desc { color: var(--muted); margin: -6px 0 14px; }
.facts { display: flex; flex-wrap: wrap; gap: 10px 28px; margin: 0 0 18px; }
.facts div { min-width: 90px; }
.facts dt { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: .05em; }
.facts dd { margin: 0; font-size: 17px; font-weight: 600; font-variant-numeric: tabular-nums; }
.panels { display: flex; flex-wrap: wrap; gap: 18px; }
.panel { flex: 1 1 320px; min-width: 0; border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; }
.panel.wide { flex-basis: 100%; }
.chart svg { display: block; max-width: 100%; height: auto; }
.gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(128px, 1fr)); gap: 12px; }
.gallery figure { margin: 0; text-align: center; }
.gallery img { width: 100%; height: auto; border-radius: 6px; background: #eee; image-rendering: auto; }
.gallery img[width="32"], .gallery img[width="48"], .gallery img[width="64"] { image-rendering: pixelated; }
.gallery figcaption { font-size: 12.5px; color: var(--muted); margin-top: 4px; line-height: 1.35; }
.gallery:only-child, .gallery:has(figure:only-child) { grid-template-columns: 1fr; }
.gallery:has(figure:only-child) img { width: auto; max-width: 100%; }
.notes p { margin: 0 0 10px; max-width: 75ch; }
@media print { .top { background: none; color: var(--fg); } .top .meta, .button { color: var(--fg); } main > section, .step { break-inside: avoid; box-shadow: none; } }
`;

export const TRY_CSS = `${BASE}
main.wrap { padding-top: 24px; padding-bottom: 24px; display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 22px; }
@media (max-width: 760px) { main.wrap { grid-template-columns: 1fr; } }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 22px 24px; box-shadow: 0 1px 2px rgba(16,24,40,.04); }
#drop { display: grid; place-items: center; text-align: center; min-height: 260px; border: 2px dashed #b8c2d0; border-radius: 12px; padding: 18px; cursor: pointer; transition: background .15s, border-color .15s; position: relative; overflow: hidden; }
#drop.over { background: #eef5fc; border-color: var(--accent); }
#drop img { max-width: 100%; max-height: 360px; min-width: min(224px, 100%); object-fit: contain; border-radius: 8px; display: none; }
#drop img.small { image-rendering: pixelated; }
#drop.has-image img { display: block; }
#drop.has-image .hint { display: none; }
#drop .hint strong { display: block; font-size: 17px; margin-bottom: 4px; }
#drop .hint span { color: var(--muted); font-size: 14px; }
#file { position: absolute; width: 1px; height: 1px; opacity: 0; }
#prediction { font-size: 30px; font-weight: 700; margin: 4px 0 2px; min-height: 40px; }
#probability { color: var(--muted); margin: 0 0 18px; min-height: 22px; }
.bars { display: grid; gap: 8px; }
.bar { display: grid; grid-template-columns: minmax(70px, max-content) 1fr 64px; gap: 10px; align-items: center; font-size: 14px; }
.bar .track { height: 12px; background: #edf0f5; border-radius: 6px; overflow: hidden; }
.bar .fill { height: 100%; background: var(--accent); border-radius: 6px; width: 0; transition: width .25s; }
.bar.best .fill { background: var(--good); }
.bar .val { text-align: right; font-variant-numeric: tabular-nums; }
.input-view { display: flex; align-items: center; gap: 12px; margin-top: 18px; color: var(--muted); font-size: 13px; }
.input-view canvas { width: 96px; height: 96px; image-rendering: pixelated; border-radius: 6px; border: 1px solid var(--line); background: #eee; }
#status { color: var(--muted); font-size: 13px; margin-top: 14px; }
#status.error { color: var(--bad); }
`;
