// Test helpers: write a description into a temp directory and load it.
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { formatValidationError, loadDescription } from '../../../schema/load-description.js';
import type { Description, ResolvedEnvironment, ResolvedNode } from '../../../kernel/types.js';

/** Loads a description made of `files` (name → YAML text); `politburo.yml` is the main file. */
export async function loadFiles(
  files: Record<string, string>,
): Promise<{ ok: true; description: Description } | { ok: false; errors: string[] }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'politburo-lang-'));
  try {
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      writeFileSync(path.join(dir, name), text, { mode: name.endsWith('.sh') ? 0o755 : 0o644 });
    }
    const r = await loadDescription({ dir });
    return r.ok ? r : { ok: false, errors: r.errors.map(formatValidationError) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Loads a valid description and returns its environments (fails the test with the errors otherwise). */
export async function loadValid(files: Record<string, string> | string): Promise<Map<string, ResolvedEnvironment>> {
  const r = await loadFiles(typeof files === 'string' ? { 'politburo.yml': files } : files);
  if (!r.ok) assert.fail(`expected a valid description, got:\n${r.errors.join('\n')}`);
  return r.description.environments;
}

/** Loads an invalid description and returns its formatted errors. */
export async function loadInvalid(files: Record<string, string> | string): Promise<string[]> {
  const r = await loadFiles(typeof files === 'string' ? { 'politburo.yml': files } : files);
  assert.equal(r.ok, false, 'expected an invalid description');
  return r.ok ? [] : r.errors;
}

/** The node at `p`, failing the test when there is none. */
export function node(env: ResolvedEnvironment | undefined, p: string): ResolvedNode {
  const n = env?.nodes.find((x) => x.path === p);
  if (!n) assert.fail(`no node ${p} in ${env?.nodes.map((x) => x.path).join(', ')}`);
  return n;
}

/** A compact view of a node's tasks: `dep {args}` or the shell task's name. */
export function taskList(n: ResolvedNode): string[] {
  return n.tasks.map((t) => (t.kind === 'babushka' ? `${t.dep} ${JSON.stringify(t.args)}` : `shell:${t.name}`));
}

/** A compact view of a node's dependencies: `path#state (kind)`. */
export function depList(n: ResolvedNode): string[] {
  return n.dependsOn.map((d) => `${d.path}#${d.state} (${d.kind})`);
}

/** A compact view of a node's host; `-` for a user or port left to OpenSSH's choice (ssh_config, local user, 22). */
export function hostOf(n: ResolvedNode): string {
  const h = n.host;
  if (h.kind === 'static') return `${h.user ?? '-'}@${h.address}:${h.port ?? '-'}`;
  if (h.kind === 'local') return 'local';
  return `provider(${h.provider.create}) ${h.user ?? '-'}:${h.port ?? '-'}`;
}
