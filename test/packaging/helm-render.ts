/**
 * A small renderer of Helm charts for tests, where `helm` cannot run: Go's text/template language (actions, `{{-`/`-}}`
 * trimming, comments, pipelines, variables, if/else if/else, with, range, define) and the Sprig/Helm functions charts
 * commonly use (include, default, quote, toYaml, nindent, indent, trunc, trimSuffix, contains, printf, replace,
 * required,
 * and/or/not/eq/ne/gt/ge/lt/le, int, empty, hasKey, b64enc, upper/lower, toString, list, dict). Values are merged over
 * values.yaml as
 * `helm install --set`/`-f` would. What it cannot render is an error naming the template, never a silent blank.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

type Value = unknown;
type Dict = Record<string, unknown>;

// ---------- lexing: text and actions --------------------------------------------------------------------------------

interface TextPiece {
  kind: 'text';
  text: string;
}
interface ActionPiece {
  kind: 'action';
  body: string;
  line: number;
}

function lex(source: string, name: string): (TextPiece | ActionPiece)[] {
  const pieces: (TextPiece | ActionPiece)[] = [];
  let pos = 0;
  while (pos < source.length) {
    const open = source.indexOf('{{', pos);
    if (open < 0) {
      pieces.push({ kind: 'text', text: source.slice(pos) });
      break;
    }
    let text = source.slice(pos, open);
    let start = open + 2;
    if (source.startsWith('- ', start) || source.startsWith('-\n', start)) {
      text = text.replace(/\s+$/, '');
      start += 1;
    }
    pieces.push({ kind: 'text', text });
    // Find the closing braces outside of string literals.
    let i = start;
    let quote: string | null = null;
    for (; i < source.length; i++) {
      const c = source[i];
      if (quote) {
        if (c === '\\' && quote === '"') i++;
        else if (c === quote) quote = null;
      } else if (c === '"' || c === '`') quote = c;
      else if (source.startsWith('}}', i)) break;
    }
    if (i >= source.length) throw new Error(`${name}: unclosed action`);
    let body = source.slice(start, i);
    let next = i + 2;
    if (/\s-$/.test(body)) {
      body = body.slice(0, -1);
      const rest = source.slice(next);
      next += rest.length - rest.replace(/^\s+/, '').length;
    }
    const line = source.slice(0, open).split('\n').length;
    pieces.push({ kind: 'action', body: body.trim(), line });
    pos = next;
  }
  return pieces.filter((p) => p.kind === 'action' || p.text !== '');
}

// ---------- parsing: pipelines ---------------------------------------------------------------------------------------

type Operand =
  | { t: 'field'; base: 'dot' | string; path: string[] } // .a.b, $x.a.b, $ (base '$')
  | { t: 'literal'; value: Value }
  | { t: 'ident'; name: string }
  | { t: 'paren'; pipe: Pipeline; path: string[] };

interface Command {
  operands: Operand[];
}
interface Pipeline {
  decl?: { names: string[]; assign: boolean };
  commands: Command[];
}

function tokenize(body: string, where: string): string[] {
  const tokens: string[] = [];
  const re =
    /\s*(?:("(?:[^"\\]|\\.)*")|(`[^`]*`)|(:=|=|\||\(|\))|(\$[\w]*(?:\.[\w]+)*)|((?:\.[\w]+)+|\.)|(-?\d+(?:\.\d+)?)|([A-Za-z_][\w]*(?:\.[\w]+)*))/y;
  let m: RegExpExecArray | null;
  let pos = 0;
  while (pos < body.length) {
    if (/^\s*$/.test(body.slice(pos))) break;
    re.lastIndex = pos;
    m = re.exec(body);
    if (!m) throw new Error(`${where}: cannot read '${body.slice(pos)}'`);
    tokens.push(m.slice(1).find((g) => g !== undefined)!);
    pos = re.lastIndex;
  }
  return tokens;
}

function parsePipeline(tokens: string[], where: string): Pipeline {
  let i = 0;
  const pipe: Pipeline = { commands: [] };
  // `$a := …`, `$a, $b := …` (range) or `$a = …`
  const declEnd = tokens.findIndex((t) => t === ':=' || t === '=');
  if (declEnd > 0 && tokens.slice(0, declEnd).every((t) => t.startsWith('$') || t === ',')) {
    pipe.decl = { names: tokens.slice(0, declEnd).filter((t) => t !== ','), assign: tokens[declEnd] === '=' };
    i = declEnd + 1;
  }
  const parseOperand = (): Operand => {
    const tok = tokens[i++];
    if (tok === '(') {
      let depth = 1;
      const start = i;
      while (i < tokens.length && depth > 0) {
        if (tokens[i] === '(') depth++;
        if (tokens[i] === ')') depth--;
        i++;
      }
      if (depth) throw new Error(`${where}: unclosed parenthesis`);
      return { t: 'paren', pipe: parsePipeline(tokens.slice(start, i - 1), where), path: [] };
    }
    if (tok.startsWith('"')) return { t: 'literal', value: JSON.parse(tok) };
    if (tok.startsWith('`')) return { t: 'literal', value: tok.slice(1, -1) };
    if (/^-?\d/.test(tok)) return { t: 'literal', value: Number(tok) };
    if (tok === 'true' || tok === 'false') return { t: 'literal', value: tok === 'true' };
    if (tok === 'nil') return { t: 'literal', value: null };
    if (tok === '.') return { t: 'field', base: 'dot', path: [] };
    if (tok.startsWith('.')) return { t: 'field', base: 'dot', path: tok.slice(1).split('.') };
    if (tok.startsWith('$')) {
      const [base, ...rest] = tok.split('.');
      return { t: 'field', base, path: rest };
    }
    return { t: 'ident', name: tok };
  };
  let current: Command = { operands: [] };
  while (i < tokens.length) {
    if (tokens[i] === '|') {
      if (!current.operands.length) throw new Error(`${where}: empty command before '|'`);
      pipe.commands.push(current);
      current = { operands: [] };
      i++;
      continue;
    }
    current.operands.push(parseOperand());
  }
  if (!current.operands.length) throw new Error(`${where}: empty pipeline`);
  pipe.commands.push(current);
  return pipe;
}

// ---------- parsing: the tree ----------------------------------------------------------------------------------------

type Node =
  | { t: 'text'; text: string }
  | { t: 'action'; pipe: Pipeline; where: string }
  | { t: 'if'; branches: { pipe: Pipeline; body: Node[] }[]; otherwise: Node[]; where: string }
  | { t: 'with'; pipe: Pipeline; body: Node[]; otherwise: Node[]; where: string }
  | { t: 'range'; pipe: Pipeline; body: Node[]; otherwise: Node[]; where: string }
  | { t: 'template'; name: string; pipe?: Pipeline; where: string };

function parseTemplate(source: string, name: string, defines: Map<string, Node[]>): Node[] {
  const pieces = lex(source, name);
  let i = 0;
  /** Parses nodes until one of the `stop` keywords; returns them and the keyword action met. */
  const parseList = (stop: string[]): { nodes: Node[]; end: ActionPiece | null } => {
    const nodes: Node[] = [];
    while (i < pieces.length) {
      const p = pieces[i++];
      if (p.kind === 'text') {
        nodes.push({ t: 'text', text: p.text });
        continue;
      }
      const where = `${name}:${p.line}`;
      if (p.body.startsWith('/*')) continue; // a comment
      const keyword = /^(\w+)\b\s*(.*)$/s.exec(p.body);
      const word = keyword?.[1];
      if (word && stop.includes(word)) return { nodes, end: p };
      if (word === 'else' || word === 'end') throw new Error(`${where}: unexpected {{${p.body}}}`);
      if (word === 'if') {
        const branches = [{ pipe: parsePipeline(tokenize(keyword![2], where), where), body: [] as Node[] }];
        let otherwise: Node[] = [];
        for (;;) {
          const part = parseList(['else', 'end']);
          branches.at(-1)!.body = part.nodes;
          if (!part.end) throw new Error(`${where}: {{if}} without {{end}}`);
          if (part.end.body === 'end') break;
          const elseIf = /^else\s+if\s+(.*)$/s.exec(part.end.body);
          if (elseIf) {
            branches.push({ pipe: parsePipeline(tokenize(elseIf[1], where), where), body: [] });
            continue;
          }
          const last = parseList(['end']);
          if (!last.end) throw new Error(`${where}: {{else}} without {{end}}`);
          otherwise = last.nodes;
          break;
        }
        nodes.push({ t: 'if', branches, otherwise, where });
      } else if (word === 'with' || word === 'range') {
        const pipe = parsePipeline(tokenize(keyword![2], where), where);
        const part = parseList(['else', 'end']);
        if (!part.end) throw new Error(`${where}: {{${word}}} without {{end}}`);
        let otherwise: Node[] = [];
        if (part.end.body !== 'end') {
          const last = parseList(['end']);
          if (!last.end) throw new Error(`${where}: {{else}} without {{end}}`);
          otherwise = last.nodes;
        }
        nodes.push({ t: word, pipe, body: part.nodes, otherwise, where });
      } else if (word === 'define') {
        const defName = JSON.parse(keyword![2].trim()) as string;
        const part = parseList(['end']);
        if (!part.end) throw new Error(`${where}: {{define}} without {{end}}`);
        defines.set(defName, part.nodes);
      } else if (word === 'template') {
        const m = /^("(?:[^"\\]|\\.)*")\s*(.*)$/s.exec(keyword![2]);
        if (!m) throw new Error(`${where}: bad {{template}}`);
        const rest = m[2].trim();
        nodes.push({
          t: 'template',
          name: JSON.parse(m[1]) as string,
          pipe: rest ? parsePipeline(tokenize(rest, where), where) : undefined,
          where,
        });
      } else {
        nodes.push({ t: 'action', pipe: parsePipeline(tokenize(p.body, where), where), where });
      }
    }
    return { nodes, end: null };
  };
  const result = parseList([]);
  return result.nodes;
}

// ---------- evaluation -----------------------------------------------------------------------------------------------

/** Go's truth: false, 0, nil and empty strings, lists and maps are false. */
export function truthy(v: Value): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v as Dict).length > 0;
  return true;
}

function print(v: Value): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(print).join(' ')}]`;
  return `map[${Object.entries(v as Dict)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, x]) => `${k}:${print(x)}`)
    .join(' ')}]`;
}

function toYaml(v: Value): string {
  if (v === undefined || v === null) return 'null';
  return YAML.stringify(v, { lineWidth: 0 }).replace(/\n$/, '');
}

function indent(n: number, s: string): string {
  const pad = ' '.repeat(n);
  return pad + String(s).replace(/\n/g, `\n${pad}`);
}

function sprintf(format: string, ...args: Value[]): string {
  let i = 0;
  return format.replace(/%([-+ #0]*\d*(?:\.\d+)?)([svdqtf%])/g, (_, _flags: string, verb: string) => {
    if (verb === '%') return '%';
    const a = args[i++];
    if (verb === 'q') return JSON.stringify(print(a));
    if (verb === 'd') return String(Math.trunc(Number(a)));
    return print(a);
  });
}

class Scope {
  constructor(
    readonly dot: Value,
    readonly vars: Map<string, Value>,
  ) {}
  child(dot: Value): Scope {
    return new Scope(dot, new Map(this.vars));
  }
}

export class ChartTemplates {
  private readonly defines = new Map<string, Node[]>();
  private readonly files = new Map<string, Node[]>();

  add(name: string, source: string): void {
    this.files.set(name, parseTemplate(source, name, this.defines));
  }

  render(name: string, root: Dict): string {
    const nodes = this.files.get(name);
    if (!nodes) throw new Error(`no template ${name}`);
    return this.run(nodes, new Scope(root, new Map([['$', root]])));
  }

  private include(name: string, data: Value, where: string): string {
    const nodes = this.defines.get(name);
    if (!nodes) throw new Error(`${where}: no template "${name}" is defined`);
    return this.run(nodes, new Scope(data, new Map([['$', data]])));
  }

  private run(nodes: Node[], scope: Scope): string {
    let out = '';
    for (const n of nodes) {
      switch (n.t) {
        case 'text':
          out += n.text;
          break;
        case 'action': {
          const v = this.pipeline(n.pipe, scope, n.where);
          if (!n.pipe.decl) out += print(v);
          break;
        }
        case 'if': {
          const branch = n.branches.find((b) => truthy(this.pipeline(b.pipe, scope, n.where)));
          out += this.run(branch ? branch.body : n.otherwise, scope);
          break;
        }
        case 'with': {
          const v = this.pipeline(n.pipe, scope, n.where);
          out += truthy(v) ? this.run(n.body, scope.child(v)) : this.run(n.otherwise, scope);
          break;
        }
        case 'range': {
          const v = this.pipeline({ ...n.pipe, decl: undefined }, scope, n.where);
          const entries: [Value, Value][] = Array.isArray(v)
            ? v.map((x, i) => [i, x])
            : v && typeof v === 'object'
              ? Object.entries(v as Dict).sort(([a], [b]) => a.localeCompare(b))
              : [];
          if (!entries.length) out += this.run(n.otherwise, scope);
          for (const [k, x] of entries) {
            const inner = scope.child(x);
            const names = n.pipe.decl?.names ?? [];
            if (names.length === 1) inner.vars.set(names[0], x);
            if (names.length === 2) {
              inner.vars.set(names[0], k);
              inner.vars.set(names[1], x);
            }
            out += this.run(n.body, inner);
          }
          break;
        }
        case 'template':
          out += this.include(n.name, n.pipe ? this.pipeline(n.pipe, scope, n.where) : undefined, n.where);
          break;
      }
    }
    return out;
  }

  private pipeline(pipe: Pipeline, scope: Scope, where: string): Value {
    let value: Value = undefined;
    pipe.commands.forEach((cmd, i) => {
      value = this.command(cmd, scope, where, i > 0 ? { value } : undefined);
    });
    if (pipe.decl) {
      const [name] = pipe.decl.names;
      if (pipe.decl.assign && !scope.vars.has(name)) throw new Error(`${where}: undefined variable ${name}`);
      scope.vars.set(name, value);
    }
    return value;
  }

  private command(cmd: Command, scope: Scope, where: string, piped?: { value: Value }): Value {
    const [head, ...rest] = cmd.operands;
    if (head.t === 'ident') {
      const args = rest.map((o) => this.operand(o, scope, where));
      if (piped) args.push(piped.value);
      return this.call(head.name, args, where);
    }
    if (rest.length || piped) throw new Error(`${where}: cannot give arguments to a value`);
    return this.operand(head, scope, where);
  }

  private operand(o: Operand, scope: Scope, where: string): Value {
    switch (o.t) {
      case 'literal':
        return o.value;
      case 'ident':
        return this.call(o.name, [], where);
      case 'paren':
        return this.pipeline(o.pipe, scope, where);
      case 'field': {
        let v: Value;
        if (o.base === 'dot') v = scope.dot;
        else if (scope.vars.has(o.base)) v = scope.vars.get(o.base);
        else throw new Error(`${where}: undefined variable ${o.base}`);
        for (const key of o.path) {
          if (v === undefined || v === null) return undefined; // Helm renders a missing value as empty
          if (typeof v !== 'object') throw new Error(`${where}: cannot read .${key} of ${print(v)}`);
          v = (v as Dict)[key];
        }
        return v;
      }
    }
  }

  private call(name: string, a: Value[], where: string): Value {
    const str = (v: Value) => print(v);
    const fns: Record<string, () => Value> = {
      include: () => this.include(str(a[0]), a[1], where),
      default: () => (truthy(a[1]) ? a[1] : a[0]),
      required: () => {
        if (!truthy(a[1])) throw new Error(`${where}: ${str(a[0])}`);
        return a[1];
      },
      quote: () => a.map((x) => JSON.stringify(str(x))).join(' '),
      squote: () => a.map((x) => `'${str(x)}'`).join(' '),
      toYaml: () => toYaml(a[0]),
      toJson: () => JSON.stringify(a[0] ?? null),
      nindent: () => `\n${indent(Number(a[0]), str(a[1]))}`,
      indent: () => indent(Number(a[0]), str(a[1])),
      trunc: () => str(a[1]).slice(0, Number(a[0])),
      trimSuffix: () =>
        str(a[1]).endsWith(str(a[0])) ? str(a[1]).slice(0, -str(a[0]).length || undefined) : str(a[1]),
      trimPrefix: () => (str(a[1]).startsWith(str(a[0])) ? str(a[1]).slice(str(a[0]).length) : str(a[1])),
      trim: () => str(a[0]).trim(),
      contains: () => str(a[1]).includes(str(a[0])),
      hasPrefix: () => str(a[1]).startsWith(str(a[0])),
      replace: () => str(a[2]).split(str(a[0])).join(str(a[1])),
      printf: () => sprintf(str(a[0]), ...a.slice(1)),
      upper: () => str(a[0]).toUpperCase(),
      lower: () => str(a[0]).toLowerCase(),
      toString: () => str(a[0]),
      b64enc: () => Buffer.from(str(a[0])).toString('base64'),
      not: () => !truthy(a[0]),
      and: () => a.reduce((acc, x) => (truthy(acc) ? x : acc)),
      or: () => a.reduce((acc, x) => (truthy(acc) ? acc : x)),
      eq: () => a.slice(1).some((x) => x === a[0]),
      ne: () => a[0] !== a[1],
      gt: () => Number(a[0]) > Number(a[1]),
      ge: () => Number(a[0]) >= Number(a[1]),
      lt: () => Number(a[0]) < Number(a[1]),
      le: () => Number(a[0]) <= Number(a[1]),
      int: () => Math.trunc(Number(a[0]) || 0),
      empty: () => !truthy(a[0]),
      hasKey: () => !!a[0] && typeof a[0] === 'object' && str(a[1]) in (a[0] as Dict),
      list: () => [...a],
      dict: () => Object.fromEntries(Array.from({ length: a.length / 2 }, (_, i) => [str(a[2 * i]), a[2 * i + 1]])),
      len: () => (Array.isArray(a[0]) || typeof a[0] === 'string' ? a[0].length : Object.keys(a[0] ?? {}).length),
      join: () => (a[1] as Value[]).map(str).join(str(a[0])),
    };
    const fn = fns[name];
    if (!fn) throw new Error(`${where}: function "${name}" is not known to this renderer`);
    return fn();
  }
}

/** Values merged as Helm merges user values over the chart's: maps key by key, anything else replaced; null deletes. */
export function mergeValues(base: Value, over: Value): Value {
  if (over === undefined) return base;
  if (
    !over ||
    typeof over !== 'object' ||
    Array.isArray(over) ||
    !base ||
    typeof base !== 'object' ||
    Array.isArray(base)
  )
    return over;
  const out: Dict = { ...(base as Dict) };
  for (const [k, v] of Object.entries(over as Dict)) {
    if (v === null) delete out[k];
    else out[k] = mergeValues(out[k], v);
  }
  return out;
}

export interface RenderedChart {
  /** Rendered manifests by template file name (templates/x.yaml), blank ones left out. */
  manifests: Map<string, string>;
  notes: string;
  values: Dict;
}

/** Renders every template of the chart as `helm template RELEASE CHART` with the given values over values.yaml. */
export function renderChart(
  chartDir: string,
  values: Dict = {},
  release: { name: string; namespace: string } = { name: 'politburo', namespace: 'default' },
): RenderedChart {
  const chart = YAML.parse(readFileSync(path.join(chartDir, 'Chart.yaml'), 'utf8')) as Dict;
  const defaults = YAML.parse(readFileSync(path.join(chartDir, 'values.yaml'), 'utf8')) as Dict;
  const merged = mergeValues(defaults, values) as Dict;
  const root: Dict = {
    Values: merged,
    Chart: {
      Name: chart.name,
      Version: chart.version,
      AppVersion: chart.appVersion,
      Description: chart.description,
    },
    Release: { Name: release.name, Namespace: release.namespace, Service: 'Helm', IsInstall: true, Revision: 1 },
    Capabilities: { KubeVersion: { Version: 'v1.31.0' } },
  };
  const templates = new ChartTemplates();
  const dir = path.join(chartDir, 'templates');
  const files = readdirSync(dir).sort();
  // Helpers (_*.tpl) first: they only define named templates.
  for (const f of files.filter((f) => f.startsWith('_'))) templates.add(f, readFileSync(path.join(dir, f), 'utf8'));
  const manifests = new Map<string, string>();
  let notes = '';
  for (const f of files.filter((f) => !f.startsWith('_'))) {
    templates.add(f, readFileSync(path.join(dir, f), 'utf8'));
    const text = templates.render(f, root);
    if (f === 'NOTES.txt') notes = text;
    else if (text.trim()) manifests.set(f, text);
  }
  return { manifests, notes, values: merged };
}

/** The Kubernetes objects of rendered manifests (YAML 1.1, as the API server's YAML reader). */
export function manifestObjects(rendered: RenderedChart): { file: string; object: Dict }[] {
  const out: { file: string; object: Dict }[] = [];
  for (const [file, text] of rendered.manifests) {
    for (const doc of YAML.parseAllDocuments(text, { version: '1.1' })) {
      if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0].message}\n${text}`);
      const object = doc.toJS() as Dict | null;
      if (object) out.push({ file, object });
    }
  }
  return out;
}
