// The small kit the HTML documents are written with: the page shell with its stylesheet and CSP,
// tables, facts and bars. Markup is written with the one template tag (report/html-tag.ts: the
// one template mechanism, every interpolated value escaped). No scripts, no external resources:
// each page is one self-contained, printable file.
import { html, raw } from './html-tag.js';
import type { Interpolation, SafeHtml } from './html-tag.js';

export { escapeHtml, html } from './html-tag.js';
export type { Interpolation, SafeHtml } from './html-tag.js';

/** A table; `cls` on the table, an empty body said in one row. */
export function table(header: readonly string[], rows: readonly (readonly Interpolation[])[], opts: { cls?: string; empty?: string } = {}): SafeHtml {
  const body = rows.length === 0 ? html`<tr><td colspan="${header.length}" class="none">${opts.empty ?? 'None.'}</td></tr>` : rows.map((r) => html`<tr>${r.map((c) => html`<td>${c}</td>`)}</tr>`);
  return html`<table${opts.cls ? html` class="${opts.cls}"` : ''}><thead><tr>${header.map((h) => html`<th scope="col">${h}</th>`)}</tr></thead><tbody>${body}</tbody></table>`;
}

/** A list of `name: value` facts under a title. */
export function facts(rows: readonly (readonly [string, Interpolation])[]): SafeHtml {
  return html`<dl class="facts">${rows.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>`;
}

/** A horizontal bar of `percent` (0-100), drawn in SVG so that it prints without background graphics. */
export function bar(percent: number, label: string): SafeHtml {
  const p = Math.max(0, Math.min(100, Math.round(percent)));
  const cls = p === 100 ? 'ok' : p >= 70 ? 'warn' : 'bad';
  return html`<svg class="bar" viewBox="0 0 100 8" width="120" height="10" role="img" aria-label="${label}"><rect width="100" height="8" class="track"/><rect width="${p}" height="8" class="fill ${cls}"/></svg>`;
}

/** A time as people read it in a record: 2026-01-02 03:04:05 UTC. */
export function when(iso: string | undefined): string {
  if (!iso) return '—';
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

const CSS = `
:root { --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --info: #0969da; --muted: #57606a; --line: #d0d7de; --bg: #f6f8fa;
  --p50: #0969da; --p95: #8250df; --p99: #bc4c00; --err: #cf222e; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; margin: 0 auto; max-width: 1200px; padding: 16px 24px 48px; }
nav { display: flex; flex-wrap: wrap; gap: 4px 16px; border-bottom: 1px solid var(--line); padding-bottom: 8px; margin-bottom: 16px; }
nav a { color: var(--info); text-decoration: none; }
nav a[aria-current="page"] { font-weight: 600; color: #1f2328; }
h1 { font-size: 22px; margin: 8px 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
p.sub { color: var(--muted); margin: 0 0 12px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: var(--bg); font-weight: 600; }
td.none { color: var(--muted); font-style: italic; }
tr { break-inside: avoid; page-break-inside: avoid; }
thead { display: table-header-group; }
ul.ev { margin: 4px 0 0; padding-left: 18px; color: var(--muted); font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
pre { background: var(--bg); border: 1px solid var(--line); padding: 8px; white-space: pre-wrap; word-break: break-all; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 8px 0 12px; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
.verdict { display: inline-block; font-weight: 700; padding: 2px 10px; border: 2px solid currentColor; border-radius: 4px; }
.big { font-size: 26px; padding: 4px 16px; }
.GO, .st-pass, .st-passed, .st-counts, .ok-text { color: var(--ok); }
.GO_WITH_CONDITIONS, .st-waived, .st-pending, .st-stale, .st-in-progress, .st-expired, .warn-text { color: var(--warn); }
.NO_GO, .st-fail, .st-failed, .st-error, .st-revoked, .st-refused, .st-rolled-back, .st-aborted, .bad-text { color: var(--bad); }
.st-skipped, .st-not-run, .st-other-release, .muted { color: var(--muted); }
.status { font-weight: 600; white-space: nowrap; }
svg.bar { vertical-align: middle; margin-right: 6px; }
svg.bar .track { fill: #eaeef2; }
svg .fill.ok { fill: var(--ok); } svg .fill.warn { fill: #d4a72c; } svg .fill.bad { fill: var(--bad); }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 12px; margin: 12px 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
.card h3 { margin: 0 0 4px; }
footer { margin-top: 36px; color: var(--muted); font-size: 12px; border-top: 1px solid var(--line); padding-top: 8px; }
/* the watch's charts, as the dashboard draws them (report/charts.ts chartSvg; colours as its app.css) */
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 12px; }
figure.chart { margin: 0; }
figure.chart svg { width: 100%; height: auto; border: 1px solid var(--line); }
figure.chart text { font-size: 11px; fill: var(--muted); }
.grid line { stroke: #eaeef2; stroke-width: 1; }
.x-axis line { stroke: var(--line); }
.series polyline { fill: none; stroke-width: 2; stroke-linejoin: round; }
.series circle { stroke: none; }
.s-p50 polyline { stroke: var(--p50); } .s-p50 circle { fill: var(--p50); }
.s-p95 polyline { stroke: var(--p95); } .s-p95 circle { fill: var(--p95); }
.s-p99 polyline { stroke: var(--p99); } .s-p99 circle { fill: var(--p99); }
.s-error polyline { stroke: var(--err); } .s-error circle { fill: var(--err); }
.rule line { stroke-width: 1.5; stroke-dasharray: 6 4; }
.rule-immediate line { stroke: var(--bad); } .rule-immediate text { fill: var(--bad); }
.rule-conditional line { stroke: var(--warn); } .rule-conditional text { fill: var(--warn); }
.rule-baseline line { stroke: var(--muted); stroke-dasharray: 2 3; }
.rule-criterion line { stroke: var(--info); stroke-dasharray: 10 4; } .rule-criterion text { fill: var(--info); }
.marker line { stroke-width: 2; }
.mark-immediate line { stroke: var(--bad); }
.mark-conditional line { stroke: var(--warn); }
.key { font-weight: 600; }
.key.s-p50 { color: var(--p50); } .key.s-p95 { color: var(--p95); } .key.s-p99 { color: var(--p99); } .key.s-error { color: var(--err); }
.key.rule-immediate, .key.mark-immediate { color: var(--bad); } .key.rule-conditional { color: var(--warn); } .key.rule-baseline { color: var(--muted); } .key.rule-criterion { color: var(--info); }
details.chart-data { font-size: 12px; }
@page { margin: 14mm; }
@media print {
  nav { display: none; }
  body { max-width: none; padding: 0; font-size: 11px; }
  h2 { break-after: avoid; page-break-after: avoid; }
  a { color: inherit; text-decoration: none; }
  .charts { display: block; }
  figure.chart { break-inside: avoid; margin-bottom: 12px; }
  details.chart-data { display: none; }
}
`;

/** One page of the set: where it links, its title. */
export interface PageLink {
  file: string;
  title: string;
}

/**
 * A whole page: doctype, a CSP that allows nothing but this page's own stylesheet (no script, no
 * request anywhere: an attachment opened in a browser cannot phone home), the navigation between
 * the set's pages, the body and a footer saying what it is a record of.
 */
export function page(o: { title: string; file: string; links: readonly PageLink[]; body: SafeHtml; footer: SafeHtml }): string {
  const nav = html`<nav aria-label="Documents">${o.links.map((l) => html`<a href="${l.file}"${l.file === o.file ? html` aria-current="page"` : ''}>${l.title}</a>`)}</nav>`;
  const doc = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; base-uri 'none'">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="gonogo">
<title>${o.title}</title>
<style>${raw(CSS)}</style>
</head>
<body>
${nav}
<main>
${o.body}
</main>
<footer>${o.footer}</footer>
</body>
</html>
`;
  return doc.value;
}
