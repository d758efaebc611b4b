/**
 * GitHub's own OpenAPI description (npm `@octokit/openapi`, api.github.com) as a request validator: the path and
 * method must be a documented operation and a JSON body must match the operation's requestBody schema.
 */
import { createRequire } from 'node:module';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

type Json = any;

export interface Operation {
  method: string;
  /** The documented path template, e.g. `/repos/{owner}/{repo}/check-runs`. */
  template: string;
  operationId: string;
  params: Record<string, string>;
}

interface Route {
  method: string;
  template: string;
  regex: RegExp;
  names: string[];
  statics: number;
  op: Json;
}

let loaded: { spec: Json; routes: Route[] } | null = null;

/** Loads (once per process) api.github.com.json and indexes its paths. */
function load(): { spec: Json; routes: Route[] } {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  const spec = require('@octokit/openapi/generated/api.github.com.json');
  const routes: Route[] = [];
  for (const [template, item] of Object.entries<Json>(spec.paths)) {
    const names: string[] = [];
    const parts = template.split('/').map((seg) =>
      seg.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{([^}]+)\}/g, (_m, name: string) => {
        names.push(name);
        return '([^/]+)';
      }),
    );
    const statics = template.split('/').filter((s) => s && !s.includes('{')).length;
    const regex = new RegExp(`^${parts.join('/')}$`);
    for (const method of ['get', 'post', 'patch', 'put', 'delete']) {
      if (item[method])
        routes.push({ method: method.toUpperCase(), template, regex, names, statics, op: item[method] });
    }
  }
  // Prefer the most specific template: `/issues/comments/{id}` over `/issues/{issue_number}/...`.
  routes.sort((a, b) => b.statics - a.statics);
  loaded = { spec, routes };
  return loaded;
}

/** The documented operation for a method and path, or null when GitHub has no such endpoint. */
export function findOperation(method: string, pathname: string): Operation | null {
  const { routes } = load();
  let pathExists = false;
  for (const r of routes) {
    const m = r.regex.exec(pathname);
    if (!m) continue;
    pathExists = true;
    if (r.method !== method) continue;
    const params: Record<string, string> = {};
    r.names.forEach((n, i) => (params[n] = decodeURIComponent(m[i + 1])));
    return { method, template: r.template, operationId: r.op.operationId, params };
  }
  void pathExists;
  return null;
}

const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
(addFormatsModule as unknown as (a: Ajv) => void)(ajv);
const validators = new Map<string, ValidateFunction | null>();

/** Errors of a JSON body against the operation's requestBody schema (empty when valid). */
export function validateBody(op: Operation, body: unknown): string[] {
  const key = `${op.method} ${op.template}`;
  if (!validators.has(key)) validators.set(key, compileBody(op));
  const validate = validators.get(key);
  if (!validate) return body === undefined ? [] : [`${key} takes no request body`];
  if (body === undefined) return [];
  if (validate(body)) return [];
  return (validate.errors ?? []).map(
    (e) => `body${e.instancePath} ${e.message ?? 'is invalid'}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`,
  );
}

function compileBody(op: Operation): ValidateFunction | null {
  const { spec } = load();
  let rb = spec.paths[op.template][op.method.toLowerCase()].requestBody;
  if (!rb) return null;
  if (rb.$ref) rb = resolveRef(spec, rb.$ref);
  const schema = rb.content?.['application/json']?.schema;
  if (!schema) return null;
  return ajv.compile(toJsonSchema(spec, schema, new Set()));
}

function resolveRef(spec: Json, ref: string): Json {
  if (!ref.startsWith('#/')) throw new Error(`unsupported $ref ${ref}`);
  return ref
    .slice(2)
    .split('/')
    .reduce((node, seg) => node?.[seg.replace(/~1/g, '/').replace(/~0/g, '~')], spec);
}

/** OpenAPI 3.0 schema → JSON Schema: `$ref`s inlined, `nullable` turned into a null alternative, examples dropped. */
function toJsonSchema(spec: Json, node: Json, seen: Set<string>): Json {
  if (Array.isArray(node)) return node.map((n) => toJsonSchema(spec, n, seen));
  if (!node || typeof node !== 'object') return node;
  if (typeof node.$ref === 'string') {
    // A recursive schema is cut at its second occurrence: request bodies are not deep enough to need it.
    if (seen.has(node.$ref)) return {};
    return toJsonSchema(spec, resolveRef(spec, node.$ref), new Set([...seen, node.$ref]));
  }
  const out: Json = {};
  for (const [k, v] of Object.entries<Json>(node)) {
    if (k === 'example' || k === 'examples' || k === 'nullable' || k === 'description') continue;
    if (k === 'properties' || k === 'patternProperties') {
      out[k] = Object.fromEntries(Object.entries<Json>(v).map(([name, s]) => [name, toJsonSchema(spec, s, seen)]));
    } else out[k] = toJsonSchema(spec, v, seen);
  }
  if (node.nullable === true) {
    if (Array.isArray(out.enum)) out.enum = [...out.enum, null];
    return { anyOf: [out, { type: 'null' }] };
  }
  return out;
}
