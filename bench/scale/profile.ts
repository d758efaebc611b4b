/**
 * CPU profiles of a phase of the scale benchmark through node:inspector, and a summary of where the time went: self
 * time by function and by file (our folders, or the package under node_modules), so a profile can be read without a
 * browser.
 */
import { Session } from 'node:inspector/promises';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** Profiles `work`; writes the profile to `file` and returns a summary of its top self times. */
export async function profiled<T>(file: string, work: () => Promise<T>): Promise<{ value: T; summary: string[] }> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  try {
    const value = await work();
    const { profile } = (await session.post('Profiler.stop')) as { profile: Profile };
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, JSON.stringify(profile));
    return { value, summary: summarize(profile) };
  } finally {
    session.disconnect();
  }
}

function where(url: string): string {
  if (!url) return '(native/vm)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith('node:')) return url;
  const m = /\/(kernel|schema|reconciler|hosts|store|render|webhooks|controller|cli|bench|test)\/(.*)$/.exec(url);
  return m ? `${m[1]}/${m[2]}` : url;
}

/** Self time (ms) by file and by function, the top entries of each. */
export function summarize(profile: Profile, top = 12): string[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) self.set(samples[i], (self.get(samples[i]) ?? 0) + (deltas[i] ?? 0) / 1000);
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const byFile = new Map<string, number>();
  const byFn = new Map<string, number>();
  for (const [id, ms] of self) {
    const n = byId.get(id)!;
    const name = n.callFrame.functionName || '(anonymous)';
    if (name === '(idle)' || name === '(program)' || name === '(garbage collector)') {
      byFile.set(name, (byFile.get(name) ?? 0) + ms);
      continue;
    }
    const file = where(n.callFrame.url);
    byFile.set(file, (byFile.get(file) ?? 0) + ms);
    const fn = `${name} ${file}:${n.callFrame.lineNumber + 1}`;
    byFn.set(fn, (byFn.get(fn) ?? 0) + ms);
  }
  const list = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, ms]) => `    ${ms.toFixed(0).padStart(6)} ms  ${k}`);
  return [
    `  sampled ${total.toFixed(0)} ms; self time by file or package:`,
    ...list(byFile),
    '  by function:',
    ...list(byFn),
  ];
}
