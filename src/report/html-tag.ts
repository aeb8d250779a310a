// The one template mechanism of gonogo's HTML (the dashboard's pages and the static record):
// every interpolated value is escaped unless it is markup made by `html` or a trusted constant.
/** Markup made by `html` (or a trusted constant through `raw`): interpolated as is, never escaped again. */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

/** What `html` accepts: markup, text (escaped), numbers, lists of either; `false`, null and undefined render nothing. */
export type Interpolation = SafeHtml | string | number | false | null | undefined | readonly Interpolation[];

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text as HTML text or a quoted attribute value: the five characters that could end either are escaped. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

function interpolate(v: Interpolation): string {
  if (v instanceof SafeHtml) return v.value;
  if (v === false || v === null || v === undefined) return '';
  if (Array.isArray(v)) return v.map(interpolate).join('');
  return escapeHtml(String(v));
}

/** The tag every page is written with: each interpolated value is escaped unless it is SafeHtml. */
export function html(strings: TemplateStringsArray, ...values: readonly Interpolation[]): SafeHtml {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += interpolate(values[i]) + strings[i + 1];
  return new SafeHtml(out);
}

/** A trusted constant as markup (never a value that came from a request, the store or the config). */
export function raw(markup: string): SafeHtml {
  return new SafeHtml(markup);
}

