/**
 * CPU time of what a benchmark run makes work, read from /proc (Linux): the sshd servers' process trees (every SSH
 * session and the commands it ran), this process, and the PostgreSQL backends serving the benchmark's database. Unlike
 * wall time, it hardly depends on what else runs on the machine, so it says whether one runner does more work than
 * the other even on a busy machine.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const TICK_MS = 10; // USER_HZ is 100 on Linux

interface Proc {
  ppid: number;
  /** utime + stime + cutime + cstime: its own time and that of its children already waited for. */
  ms: number;
  cmdline: string;
}

function processes(): Map<number, Proc> {
  const out = new Map<number, Proc>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmdline = readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ');
      out.set(Number(d), {
        ppid: Number(f[1]),
        ms: (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * TICK_MS,
        cmdline,
      });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The pids of the processes whose command line contains `marker` (the sshd servers of a scratch directory). */
export function pidsMatching(marker: string): Set<number> {
  try {
    return new Set(execFileSync('pgrep', ['-f', marker]).toString().trim().split('\n').filter(Boolean).map(Number));
  } catch {
    return new Set();
  }
}

/**
 * CPU so far (ms) of the process trees under `roots` (a process gone and waited for is counted in its parent) and
 * of the PostgreSQL backends whose command line names `database`.
 */
export function hostsCpuMs(roots: Set<number>, database?: string): { hosts: number; postgres: number } {
  const procs = processes();
  const under = (pid: number): boolean => {
    for (let p: number | undefined = pid, depth = 0; p && depth < 32; p = procs.get(p)?.ppid, depth++)
      if (roots.has(p)) return true;
    return false;
  };
  let hosts = 0;
  let postgres = 0;
  for (const [pid, p] of procs) {
    if (under(pid)) hosts += p.ms;
    else if (database && p.cmdline.startsWith('postgres:') && p.cmdline.includes(` ${database} `)) postgres += p.ms;
  }
  return { hosts, postgres };
}

/** CPU of this process so far (ms). */
export function selfCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}
