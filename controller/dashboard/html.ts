/** Server-side HTML with escaping by default: every interpolated value is escaped unless it is already Html. */
import { escapeXml } from '../../render/graph/escape-xml.js';

/** A fragment of markup that is already safe (built by `html` or explicitly trusted with `raw`). */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

/** Trusts markup produced by our own renderers (e.g. the SVG renderer, which escapes its input itself). */
export function raw(markup: string): Html {
  return new Html(markup);
}

type Value = Html | string | number | boolean | null | undefined | Value[];

function render(v: Value): string {
  if (v === null || v === undefined || v === false) return '';
  if (v instanceof Html) return v.value;
  if (Array.isArray(v)) return v.map(render).join('');
  return escapeXml(String(v));
}

/** Tagged template: `html\`<td>${userText}</td>\`` escapes userText; arrays are joined. */
export function html(strings: TemplateStringsArray, ...values: Value[]): Html {
  let out = strings[0];
  values.forEach((v, i) => {
    out += render(v) + strings[i + 1];
  });
  return new Html(out);
}

const STYLE = `
body{font:14px/1.45 -apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;color:#111827;background:#f9fafb}
header{background:#111827;color:#f9fafb;padding:10px 24px;display:flex;gap:24px;align-items:baseline}
header a{color:#f9fafb;text-decoration:none} header .brand{font-weight:700;font-size:16px}
main{padding:16px 24px;max-width:1400px}
h1{font-size:20px;margin:8px 0 12px} h2{font-size:16px;margin:24px 0 8px}
table{border-collapse:collapse;background:#fff;border:1px solid #e5e7eb;min-width:50%}
th,td{padding:5px 10px;border-bottom:1px solid #e5e7eb;text-align:left;vertical-align:top}
th{background:#f3f4f6;font-weight:600}
.state{display:inline-block;padding:0 7px;border-radius:9px;border:1px solid;font-size:12px;white-space:nowrap}
.muted{color:#6b7280} .mono{font-family:ui-monospace,Menlo,monospace;font-size:12px}
.graph{background:#fff;border:1px solid #e5e7eb;overflow:auto;max-height:80vh}
pre{background:#111827;color:#e5e7eb;padding:10px;overflow:auto;max-height:400px;font-size:12px}
.timeline{background:#fff;border:1px solid #e5e7eb;padding:8px}
.lane{display:flex;align-items:center;height:24px} .lane .host{width:200px;flex:none;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.lane .track{position:relative;flex:1;height:18px;background:#f3f4f6;border-radius:3px}
.lane .bar{position:absolute;top:1px;height:16px;border-radius:3px;border:1px solid;box-sizing:border-box;font-size:11px;overflow:hidden;white-space:nowrap;padding:0 3px}
.rate{display:inline-block;height:10px;background:#22c55e;border-radius:2px;vertical-align:middle}
.rate-bg{display:inline-block;width:120px;height:10px;background:#fecaca;border-radius:2px;vertical-align:middle;margin-right:6px}
`;

/** The page layout: navigation, title, body; `refreshSeconds` reloads a page that is still changing (a running run). */
export function page(title: string, body: Html, opts: { refreshSeconds?: number } = {}): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
${opts.refreshSeconds ? html`<meta http-equiv="refresh" content="${opts.refreshSeconds}">` : ''}<title>${title} · Politburo</title><style>${raw(STYLE)}</style></head>
<body><header><a class="brand" href="/">Politburo</a><a href="/">Environments</a><a href="/runs">Runs</a></header>
<main>${body}</main></body></html>
`.value;
}
