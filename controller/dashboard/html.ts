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

/**
 * One stylesheet for every page. Text colours meet WCAG AA contrast on their backgrounds; every colour-coded state
 * also says its state in words; focus is always visible; tables scroll inside their own box on a narrow screen.
 */
const STYLE = `
body{font:14px/1.45 -apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;color:#111827;background:#f9fafb}
a{color:#1d4ed8} a:hover{text-decoration:underline}
:focus-visible{outline:3px solid #2563eb;outline-offset:2px}
.skip{position:absolute;left:-10000px;top:0;background:#fff;color:#111827;padding:8px 12px;z-index:10;border:2px solid #2563eb}
.skip:focus{left:8px;top:8px}
header{background:#111827;color:#f9fafb;padding:10px 24px;display:flex;flex-wrap:wrap;gap:8px 24px;align-items:baseline}
header a{color:#f9fafb;text-decoration:none} header a:hover{text-decoration:underline} header .brand{font-weight:700;font-size:16px}
header nav{display:flex;flex-wrap:wrap;gap:8px 16px} header :focus-visible{outline-color:#93c5fd}
main{padding:16px 24px;max-width:1400px}
h1{font-size:20px;margin:8px 0 12px;overflow-wrap:anywhere} h2{font-size:16px;margin:24px 0 8px} h3{font-size:14px;overflow-wrap:anywhere}
.table-wrap{max-width:100%;overflow-x:auto;margin:0 0 8px}
table{border-collapse:collapse;background:#fff;border:1px solid #e5e7eb;min-width:50%}
th,td{padding:5px 10px;border-bottom:1px solid #e5e7eb;text-align:left;vertical-align:top}
th{background:#f3f4f6;font-weight:600}
.state{display:inline-block;padding:0 7px;border-radius:9px;border:1px solid;font-size:12px;white-space:nowrap;color:#111827}
.muted{color:#4b5563} .mono{font-family:ui-monospace,Menlo,monospace;font-size:12px}
.glance{display:flex;flex-wrap:wrap;gap:12px;margin:0 0 8px}
.glance .card{background:#fff;border:1px solid #e5e7eb;border-radius:6px;padding:8px 12px;min-width:180px;flex:1 1 180px}
.glance .card h2{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:#374151;margin:0 0 4px}
.graph-box input{position:absolute;opacity:0;width:1px;height:1px}
.graph-box label{display:inline-block;padding:2px 10px;border:1px solid #9ca3af;border-radius:4px;background:#fff;cursor:pointer;margin:0 4px 6px 0}
.graph-box input:checked+label{background:#111827;color:#fff;border-color:#111827}
.graph-box input:focus-visible+label{outline:3px solid #2563eb;outline-offset:2px}
.graph{background:#fff;border:1px solid #e5e7eb;overflow:auto;max-height:80vh}
.graph-box #zoom-fit:checked~.graph svg{max-width:100%;height:auto}
.graph-box #zoom-150:checked~.graph svg{zoom:1.5}
pre{background:#111827;color:#e5e7eb;padding:10px;overflow:auto;max-height:400px;font-size:12px}
.timeline{background:#fff;border:1px solid #e5e7eb;padding:8px}
.timeline .host-group{margin:0 0 6px} .timeline .host-label{font-weight:600;font-size:12px;margin:4px 0 2px;overflow-wrap:anywhere}
.lane{display:flex;align-items:center;gap:6px;min-height:24px}
.lane .node{width:220px;flex:none;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;padding-left:12px}
.lane .track{position:relative;flex:1;height:18px;background:#f3f4f6;border-radius:3px;min-width:60px}
.lane .bar{position:absolute;top:1px;height:16px;border-radius:3px;border:1px solid;box-sizing:border-box;font-size:11px;overflow:hidden;white-space:nowrap;padding:0 3px;color:#111827;text-decoration:none}
.rate-bg{position:relative;display:inline-block;width:120px;height:10px;background:#fee2e2;border:1px solid #b91c1c;border-radius:2px;vertical-align:middle;margin-right:6px;overflow:hidden}
.rate{position:absolute;left:0;top:0;bottom:0;background:#15803d}
@media (max-width:640px){
  header{padding:8px 12px;gap:6px 16px} main{padding:12px}
  .lane .node{width:110px;padding-left:4px}
  th,td{padding:4px 6px}
}
`;

/** What makes a page live (controller/dashboard/live.ts): its event stream and the script that reads it. */
export interface LiveOption {
  stream: string;
  script: string;
}

/**
 * The page layout: skip link, navigation (with `account`, the sign-in line, at its end), title, body. `live` names the
 * page's event stream (`<main data-live>`) and loads the script that applies it; `refreshSeconds` reloads a page
 * that is still changing (for pages without a stream).
 */
export function page(
  title: string,
  body: Html,
  opts: { refreshSeconds?: number; live?: LiveOption; account?: Html } = {},
): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><link rel="icon" href="data:,">
${opts.refreshSeconds ? html`<meta http-equiv="refresh" content="${opts.refreshSeconds}">` : ''}<title>${title} · Politburo</title><style>${raw(STYLE)}</style></head>
<body><a class="skip" href="#main">Skip to content</a><header><a class="brand" href="/">Politburo</a><nav aria-label="Main"><a href="/">Environments</a> <a href="/runs">Runs</a></nav>${opts.account ?? ''}</header>
<main id="main" tabindex="-1"${opts.live ? html` data-live="${opts.live.stream}"` : ''}>${body}</main>${opts.live ? html`<script src="${opts.live.script}" defer></script>` : ''}</body></html>
`.value;
}
