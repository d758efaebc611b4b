/**
 * Descriptions and set-up shared by the unit tests of the jobs' decisions (over test/helpers/in-memory-controller.ts).
 */
import type { GitHubRepository } from '../../../../kernel/repository.js';
import type { RecordedNode } from '../../../../kernel/types.js';
import { loadDescription } from '../../../../schema/load-description.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export const repo: GitHubRepository = {
  kind: 'github',
  owner: 'acme',
  name: 'infra',
  cloneUrl: 'https://github.example/acme/infra.git',
  defaultBranch: 'main',
};

export interface EnvOptions {
  /** The marker the task's commands mention: a new version changes the node's spec. */
  version?: string;
  branch?: string;
  schedule?: string;
  heal?: boolean;
}

/**
 * politburo.yml with one `local` node `box` per named environment, from a blueprint of its own whose task names the
 * environment's version (a new version changes the node's spec); the task does nothing on the machine.
 */
export function yaml(envs: Record<string, EnvOptions>, opts: { broken?: boolean } = {}): string {
  return [
    'politburo: 1',
    'blueprints:',
    ...Object.entries(envs).flatMap(([name, o]) => [
      `  app_${name}:`,
      '    resources:',
      '      box:',
      '        tasks:',
      `          - { name: marker ${o.version ?? 'v1'}, met: 'true', meet: 'true' }`,
    ]),
    'environments:',
    ...Object.entries(envs).flatMap(([name, o]) => [
      `  ${name}:`,
      `    blueprint: ${opts.broken ? 'missing' : `app_${name}`}`,
      '    hosts: { box: local }',
      ...(o.branch ? [`    branch: ${o.branch}`] : []),
      `    drift: { schedule: '${o.schedule ?? '0 * * * *'}', heal: ${o.heal ?? false} }`,
    ]),
    '',
  ].join('\n');
}

/** The nodes of `env` as an apply of `files` at `sha` would have recorded them (the nodes' spec, applied there). */
export async function appliedNodes(files: Record<string, string>, env: string, sha: string): Promise<RecordedNode[]> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'politburo-unit-jobs-'));
  try {
    for (const [f, content] of Object.entries(files)) await writeFile(path.join(dir, f), content);
    const loaded = await loadDescription({ dir });
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
    return loaded.description.environments.get(env)!.nodes.map((n) => ({
      path: n.path,
      host: 'local',
      specHash: n.specHash,
      tasks: n.tasks,
      state: 'ready' as const,
      lastAppliedCommit: sha,
      lastRunId: null,
    }));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
