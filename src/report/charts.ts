// The geometry of the dashboard's charts: time series scaled into an SVG viewBox, with threshold and
// baseline lines and trigger markers. Plain numbers in, plain numbers and point lists out; pages.ts
// turns them into markup (one template mechanism, escaping by default). Pure: no clock, no I/O.
import { html } from './html-tag.js';
import type { SafeHtml } from './html-tag.js';
import type { WatchEvent } from '../store/types.js';
import type { MetricName, MetricValues, TriggerConfig, TriggerVerdict } from '../watch/types.js';

/** One point of a series: x is milliseconds since the epoch, y in the series' unit. */
export interface Point {
  x: number;
  y: number;
}

/** A named series; a gap (an evaluation with no value) splits it into several runs of points. */
export interface Series {
  name: string;
  /** A CSS class that picks its colour in app.css (`s-p50`, `s-error`...). */
  className: string;
  points: Point[];
}

/** A horizontal line across the plot: a trigger's threshold, a criterion or the baseline. */
export interface Rule {
  label: string;
  y: number;
  className: string;
  /**
   * A reference that does not stretch the axis when it is far above everything else (a 2 s criterion
   * over 100 ms latencies would flatten the lines the meeting reads): drawn when it fits, else named off the chart.
   */
  soft?: boolean;
}

/** A vertical mark at a moment: a trigger that fired. */
export interface Marker {
  label: string;
  x: number;
  className: string;
}

/** A chart as data: what pages.ts draws. */
export interface ChartSpec {
  title: string;
  /** The unit's suffix on the axis: ` ms`, `%`. */
  unit: string;
  /** Values are multiplied by this for display (100 for a rate shown in percent). */
  scale: number;
  series: Series[];
  rules: Rule[];
  markers: Marker[];
}

/** A chart laid out in its viewBox. */
export interface ChartLayout {
  width: number;
  height: number;
  /** The plot area inside the axes. */
  plot: { left: number; top: number; right: number; bottom: number };
  /** Per series: its runs of points as SVG `points` attributes, and each point placed (for dots and tooltips). */
  series: { name: string; className: string; lines: string[]; dots: { cx: number; cy: number; x: number; y: number }[] }[];
  rules: { label: string; className: string; y: number; value: number }[];
  /** Soft rules above the axis: not drawn, named in the caption. */
  offChart: { label: string; value: number }[];
  markers: { label: string; className: string; x: number; at: number }[];
  yTicks: { y: number; label: string }[];
  xTicks: { x: number; label: string }[];
}

export const CHART_WIDTH = 720;
export const CHART_HEIGHT = 260;
const MARGIN = { left: 64, right: 40, top: 16, bottom: 32 };
/** A soft rule stretches the axis only up to this many times the highest other value. */
const SOFT_STRETCH = 2;

/** A "nice" step (1, 2 or 5 times a power of ten) giving about `count` ticks over `span`. */
export function niceStep(span: number, count = 5): number {
  if (!(span > 0) || !Number.isFinite(span)) return 1;
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const f = raw / power;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * power;
}

/** A number for an axis label: no float noise (0.30000000000000004), at most 3 decimals. */
export function tickLabel(value: number): string {
  return String(Math.round(value * 1000) / 1000);
}

/** `HH:MM:SS` in UTC: an axis spans minutes to a day, and the page says the times are UTC. */
function clockTime(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

const round1 = (n: number): number => Math.round(n * 10) / 10;

/**
 * Lays a chart out: the y axis from 0 to above the highest value, rule and baseline (so a threshold
 * far above the data still shows, and the data never touches the top); the x axis over the series'
 * and markers' times. A chart without points has axes and no lines.
 */
export function layoutChart(spec: ChartSpec, width = CHART_WIDTH, height = CHART_HEIGHT): ChartLayout {
  const plot = { left: MARGIN.left, top: MARGIN.top, right: width - MARGIN.right, bottom: height - MARGIN.bottom };
  const all = spec.series.flatMap((s) => s.points);
  const xs = [...all.map((p) => p.x), ...spec.markers.map((m) => m.x)];
  const hard = [...all.map((p) => p.y * spec.scale), ...spec.rules.filter((r) => !r.soft).map((r) => r.y * spec.scale)].filter((y) => Number.isFinite(y));
  const hardTop = hard.length > 0 ? Math.max(...hard) : 0;
  const soft = spec.rules.filter((r) => r.soft && Number.isFinite(r.y)).map((r) => r.y * spec.scale);
  const ys = [...hard, ...soft.filter((y) => hardTop === 0 || y <= hardTop * SOFT_STRETCH)];
  const xMin = xs.length > 0 ? Math.min(...xs) : 0;
  const xMax = xs.length > 0 ? Math.max(...xs) : 1;
  const xSpan = xMax > xMin ? xMax - xMin : 1;
  const top = ys.length > 0 ? Math.max(...ys) : 1;
  const step = niceStep(top > 0 ? top * 1.1 : 1, 4);
  const yMax = Math.max(step, Math.ceil((top * 1.05) / step) * step);
  const px = (x: number): number => round1(plot.left + ((x - xMin) / xSpan) * (plot.right - plot.left));
  const py = (y: number): number => round1(plot.bottom - (Math.min(Math.max(y, 0), yMax) / yMax) * (plot.bottom - plot.top));

  const series = spec.series.map((s) => {
    const lines: string[] = [];
    let current: string[] = [];
    const dots: ChartLayout['series'][number]['dots'] = [];
    for (const p of s.points) {
      if (!Number.isFinite(p.y)) {
        if (current.length > 0) lines.push(current.join(' '));
        current = [];
        continue;
      }
      const cx = px(p.x);
      const cy = py(p.y * spec.scale);
      current.push(`${cx},${cy}`);
      dots.push({ cx, cy, x: p.x, y: p.y * spec.scale });
    }
    if (current.length > 0) lines.push(current.join(' '));
    return { name: s.name, className: s.className, lines, dots };
  });

  const yTicks: ChartLayout['yTicks'] = [];
  for (let v = 0; v <= yMax + step / 2; v += step) yTicks.push({ y: py(v), label: `${tickLabel(v)}${spec.unit}` });
  const xTicks: ChartLayout['xTicks'] = [];
  if (xs.length > 0) {
    const n = xMax > xMin ? 4 : 0;
    for (let i = 0; i <= n; i++) {
      const at = xMin + (i / Math.max(n, 1)) * (xMax - xMin);
      xTicks.push({ x: px(at), label: clockTime(at) });
    }
  }
  return {
    width,
    height,
    plot,
    series,
    rules: spec.rules.filter((r) => Number.isFinite(r.y) && r.y * spec.scale <= yMax).map((r) => ({ label: r.label, className: r.className, y: py(r.y * spec.scale), value: r.y * spec.scale })),
    offChart: spec.rules.filter((r) => Number.isFinite(r.y) && r.y * spec.scale > yMax).map((r) => ({ label: r.label, value: r.y * spec.scale })),
    markers: spec.markers.map((m) => ({ label: m.label, className: m.className, x: px(m.x), at: m.x })),
    yTicks,
    xTicks,
  };
}

// --- the watch's charts --------------------------------------------------------------------------

/** One evaluation as a chart reads it. */
export interface EvaluationPoint {
  at: number;
  window: string;
  metrics: MetricValues;
  verdicts: TriggerVerdict[];
}

/** The evaluations of a watch's `evaluation` events, oldest first; an event without metrics is kept with none. */
export function evaluationPoints(events: readonly WatchEvent[]): EvaluationPoint[] {
  return events
    .filter((e) => e.kind === 'evaluation')
    .map((e) => ({
      at: Date.parse(e.at),
      window: typeof e.data.window === 'string' ? e.data.window : '',
      metrics: (e.data.metrics ?? { samples: 0 }) as MetricValues,
      verdicts: (Array.isArray(e.data.verdicts) ? e.data.verdicts : []) as TriggerVerdict[],
    }))
    .filter((p) => Number.isFinite(p.at))
    .sort((a, b) => a.at - b.at);
}

/** What the watch's charts draw beside the series: its triggers, the baseline, the fired triggers. */
export interface WatchChartInput {
  evaluations: readonly EvaluationPoint[];
  triggers: readonly TriggerConfig[];
  baseline?: MetricValues;
  /** Triggers that fired: when, which. */
  fired: readonly { at: string; id: string; severity: string }[];
  /** The window criteria's limits, when known (the seed's: error rate < 1%, p95 < 2 s). */
  criteria?: { errorRate?: number; p95Ms?: number };
}

const LATENCY: readonly { metric: MetricName; name: string; className: string }[] = [
  { metric: 'p50_ms', name: 'p50', className: 's-p50' },
  { metric: 'p95_ms', name: 'p95', className: 's-p95' },
  { metric: 'p99_ms', name: 'p99', className: 's-p99' },
];

const seriesOf = (points: readonly EvaluationPoint[], metric: MetricName): Point[] => points.map((p) => ({ x: p.at, y: p.metrics[metric] ?? Number.NaN }));

/**
 * A trigger's threshold on a metric: the last one an evaluation judged it by (the baseline applied,
 * as triggers.ts computed it), else `above`; none for a trigger that compares with a baseline that
 * is not there.
 */
function thresholdOf(t: TriggerConfig, points: readonly EvaluationPoint[], baseline: MetricValues | undefined): number | undefined {
  for (let i = points.length - 1; i >= 0; i--) {
    const v = points[i].verdicts.find((x) => x.id === t.id);
    if (v?.threshold !== undefined && Number.isFinite(v.threshold)) return v.threshold;
  }
  const base = t.metric !== undefined && t.aboveBaseline !== undefined ? baseline?.[t.metric] : undefined;
  const fromBase = base !== undefined && t.aboveBaseline !== undefined ? base * t.aboveBaseline : undefined;
  if (fromBase !== undefined && t.above !== undefined) return Math.max(fromBase, t.above);
  return fromBase ?? t.above;
}

function triggerRules(input: WatchChartInput, metrics: readonly MetricName[]): Rule[] {
  return input.triggers
    .filter((t) => t.metric !== undefined && metrics.includes(t.metric))
    .flatMap((t) => {
      const y = thresholdOf(t, input.evaluations, input.baseline);
      return y === undefined ? [] : [{ label: `${t.id} (${t.severity})`, y, className: `rule-${t.severity}` }];
    });
}

function firedMarkers(input: WatchChartInput, ids: ReadonlySet<string> | undefined): Marker[] {
  return input.fired
    .filter((f) => ids === undefined || ids.has(f.id))
    .map((f) => ({ label: `${f.id} fired (${f.severity})`, x: Date.parse(f.at), className: `mark-${f.severity === 'immediate' ? 'immediate' : 'conditional'}` }))
    .filter((m) => Number.isFinite(m.x));
}

/** Triggers watching one of `metrics`, by id; items and report triggers are marked on every chart. */
function idsFor(triggers: readonly TriggerConfig[], metrics: readonly MetricName[]): Set<string> {
  return new Set(triggers.filter((t) => t.metric === undefined || metrics.includes(t.metric)).map((t) => t.id));
}

/** The latency chart: p50, p95 and p99 over the evaluations, latency thresholds, the baseline's p95, fired triggers. */
export function latencyChart(input: WatchChartInput): ChartSpec {
  const metrics = LATENCY.map((l) => l.metric);
  const rules = triggerRules(input, metrics);
  if (input.baseline?.p95_ms !== undefined) rules.push({ label: 'baseline p95', y: input.baseline.p95_ms, className: 'rule-baseline' });
  if (input.criteria?.p95Ms !== undefined) rules.push({ label: 'criterion p95', y: input.criteria.p95Ms, className: 'rule-criterion', soft: true });
  return {
    title: 'Latency (ms)',
    unit: ' ms',
    scale: 1,
    series: LATENCY.map((l) => ({ name: l.name, className: l.className, points: seriesOf(input.evaluations, l.metric) })),
    rules,
    markers: firedMarkers(input, idsFor(input.triggers, metrics)),
  };
}

/** The error-rate chart, in percent: the rate over the evaluations, its thresholds, the baseline's rate, fired triggers. */
export function errorRateChart(input: WatchChartInput): ChartSpec {
  const rules = triggerRules(input, ['error_rate']);
  if (input.baseline?.error_rate !== undefined) rules.push({ label: 'baseline error rate', y: input.baseline.error_rate, className: 'rule-baseline' });
  if (input.criteria?.errorRate !== undefined) rules.push({ label: 'criterion error rate', y: input.criteria.errorRate, className: 'rule-criterion', soft: true });
  return {
    title: 'Error rate (%)',
    unit: '%',
    scale: 100,
    series: [{ name: 'error rate', className: 's-error', points: seriesOf(input.evaluations, 'error_rate') }],
    rules,
    markers: firedMarkers(input, idsFor(input.triggers, ['error_rate'])),
  };
}

/** A time as the pages show it. */
const when = (iso: string | undefined): SafeHtml => (iso === undefined ? html`—` : html`<time datetime="${iso}">${iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}</time>`);

/** A chart as inline SVG (server-rendered; colours from app.css) with its values as a table beside it for screen readers and print. */
export function chartSvg(spec: ChartSpec, id: string): SafeHtml {
  const l = layoutChart(spec);
  const { plot } = l;
  const fmt = (v: number): string => `${Math.round(v * 100) / 100}${spec.unit}`;
  const points = spec.series[0]?.points ?? [];
  return html`<figure class="chart" id="${id}" data-chart="${id}">
<svg viewBox="0 0 ${l.width} ${l.height}" width="${l.width}" height="${l.height}" role="img" aria-labelledby="${id}-title ${id}-desc" xmlns="http://www.w3.org/2000/svg">
<title id="${id}-title">${spec.title}</title>
<desc id="${id}-desc">${spec.series.map((s) => `${s.name}: ${s.points.filter((p) => Number.isFinite(p.y)).length} points`).join('; ')}; ${spec.rules.map((r) => `${r.label} at ${fmt(r.y * spec.scale)}`).join('; ') || 'no thresholds'}; ${spec.markers.length} trigger event(s).</desc>
<g class="grid">${l.yTicks.map((t) => html`<line x1="${plot.left}" x2="${plot.right}" y1="${t.y}" y2="${t.y}"></line>`)}</g>
<g class="axis y-axis">${l.yTicks.map((t) => html`<text x="${plot.left - 6}" y="${t.y + 4}" text-anchor="end">${t.label}</text>`)}</g>
<g class="axis x-axis"><line x1="${plot.left}" x2="${plot.right}" y1="${plot.bottom}" y2="${plot.bottom}"></line>${l.xTicks.map((t) => html`<text x="${t.x}" y="${plot.bottom + 18}" text-anchor="middle">${t.label}</text>`)}</g>
<g class="rules">${l.rules.map((r, i) => html`<g class="rule ${r.className}" data-value="${r.value}"><line x1="${plot.left}" x2="${plot.right}" y1="${r.y}" y2="${r.y}"></line><text x="${i % 2 === 0 ? plot.right - 4 : plot.left + 4}" y="${r.y - 4}" text-anchor="${i % 2 === 0 ? 'end' : 'start'}">${r.label} ${fmt(r.value)}</text></g>`)}</g>
<g class="markers">${l.markers.map((m) => html`<g class="marker ${m.className}" data-at="${new Date(m.at).toISOString()}"><line x1="${m.x}" x2="${m.x}" y1="${plot.top}" y2="${plot.bottom}"></line><title>${m.label} at ${new Date(m.at).toISOString()}</title></g>`)}</g>
${l.series.map((s) => html`<g class="series ${s.className}" data-series="${s.name}">${s.lines.map((pts) => html`<polyline points="${pts}"></polyline>`)}${s.dots.map((d) => html`<circle cx="${d.cx}" cy="${d.cy}" r="2.5"><title>${s.name} ${fmt(d.y)} at ${new Date(d.x).toISOString()}</title></circle>`)}</g>`)}
</svg>
<figcaption>${spec.title}: ${spec.series.map((s, i) => html`${i > 0 ? ', ' : ''}<span class="key ${s.className}">${s.name}</span>`)}${l.rules.length > 0 ? html`; lines: ${l.rules.map((r, i) => html`${i > 0 ? ', ' : ''}<span class="key ${r.className}">${r.label}</span>`)}` : ''}${[...new Set(l.markers.map((m) => m.className))].map((c) => html`; <span class="key ${c}">${c === 'mark-immediate' ? 'immediate' : 'conditional'} trigger fired</span>`)}${l.offChart.length > 0 ? html`; above the chart: ${l.offChart.map((r, i) => html`${i > 0 ? ', ' : ''}${r.label} ${fmt(r.value)}`)}` : ''}</figcaption>
<details class="chart-data"><summary>Values</summary><table><thead><tr><th scope="col">At</th>${spec.series.map((s) => html`<th scope="col">${s.name}</th>`)}</tr></thead><tbody>
${points.map((p, i) => html`<tr><td>${when(new Date(p.x).toISOString())}</td>${spec.series.map((s) => html`<td>${Number.isFinite(s.points[i]?.y) ? fmt(s.points[i].y * spec.scale) : '—'}</td>`)}</tr>`)}
</tbody></table></details>
</figure>`;
}
