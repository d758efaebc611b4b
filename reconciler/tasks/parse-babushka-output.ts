/**
 * Reads Babushka's `--no-color` output, stdout and stderr together as a terminal shows them, into a tree of deps. Pure.
 *
 * Each dep opens `NAME {` and closes `} MARK NAME` (✓ met, ~ unmet in a dry run, ✗ failed), nested two spaces per
 * level.
 * `meet {` ... `}` appears when a dep's meet ran. `✓ NAME (cached)` is a dep already checked in this run.
 * `NAME <- this dep isn't defined!` is an undefined dep. An exception leaves the block of the dep it escaped from (and
 * the blocks inside it) open: an unclosed dep has failed. The deps enclosing it then print their closing lines at the
 * indentation it left, where they match no open block, so they are read as log lines and those deps stay failed too.
 */

export type DepStatus = 'met' | 'unmet' | 'failed' | 'open';

export interface ParsedDep {
  name: string;
  /** Leading spaces of its lines. */
  indent: number;
  status: DepStatus;
  cached: boolean;
  undefinedDep: boolean;
  /** A `meet {` block opened directly inside it. */
  meetRan: boolean;
  children: ParsedDep[];
  /** Index of its first line in `lines`. */
  firstLine: number;
  /** Index of its closing line (or the last line of the output when never closed). */
  lastLine: number;
}

export interface ParsedBabushkaOutput {
  roots: ParsedDep[];
  /** From `You can view a more detailed log at '...'.`, when printed. */
  logPath: string | null;
  lines: string[];
}

const MARKS: Record<string, DepStatus> = { '\u2713': 'met', '~': 'unmet', '\u2717': 'failed' };
const CLOSE_DEP = /^( *)\} (\u2713|~|\u2717) (.+)$/;
const CLOSE_BLOCK = /^( *)\}$/;
const OPEN = /^( *)(.+) \{$/;
const CACHED = /^( *)(\u2713|~|\u2717) (.+) \(cached\)$/;
const UNDEFINED = /^( *)(.+) <- this dep isn't defined!$/;
const LOG_PATH = /^ *You can view a more detailed log at '(.+)'\.$/;

interface Frame {
  indent: number;
  name: string;
  /** Tentatively a dep until its closing line says otherwise (a bare `}` closes `meet {` and log blocks). */
  dep: ParsedDep;
  parent: Frame | null;
}

/** Parses Babushka output into the deps it reported, in order. */
export function parseBabushkaOutput(text: string): ParsedBabushkaOutput {
  const parser = new BabushkaOutputParser();
  parser.push(text);
  return parser.end();
}

/**
 * The same parse, fed as output streams in: complete lines are read as they arrive, so a long run costs one pass.
 * `roots` is live: it grows as lines come.
 */
export class BabushkaOutputParser {
  readonly roots: ParsedDep[] = [];
  readonly lines: string[] = [];
  private readonly stack: Frame[] = [];
  private logPath: string | null = null;
  private pending = '';

  /** Adds output; only complete lines are parsed until end(). */
  push(text: string): this {
    const parts = (this.pending + text).replace(/\r/g, '').split('\n');
    this.pending = parts.pop()!;
    for (const line of parts) this.line(line);
    return this;
  }

  /** Parses what is left and returns the result; deps still open were never closed (an exception). */
  end(): ParsedBabushkaOutput {
    if (this.pending !== '') this.line(this.pending);
    this.pending = '';
    for (const f of this.stack) f.dep.lastLine = this.lines.length - 1;
    return { roots: this.roots, logPath: this.logPath, lines: this.lines };
  }

  private top(): Frame | null {
    return this.stack[this.stack.length - 1] ?? null;
  }

  private attach(dep: ParsedDep): void {
    const top = this.top();
    if (top) top.dep.children.push(dep);
    else this.roots.push(dep);
  }

  private popTo(indent: number): void {
    while (this.stack.length > 0 && this.top()!.indent > indent) discard(this.stack.pop()!, this.roots);
  }

  private line(line: string): void {
    const i = this.lines.push(line) - 1;
    let m: RegExpMatchArray | null;
    if ((m = line.match(LOG_PATH))) {
      this.logPath = m[1];
    } else if ((m = line.match(CACHED))) {
      this.popTo(m[1].length - 1);
      this.attach(leaf(m[3], m[1].length, MARKS[m[2]], i, { cached: true }));
    } else if ((m = line.match(CLOSE_DEP))) {
      this.closeDep(m[1].length, m[3], MARKS[m[2]], i);
    } else if ((m = line.match(CLOSE_BLOCK))) {
      this.closeBlock(m[1].length);
    } else if ((m = line.match(UNDEFINED))) {
      this.popTo(m[1].length - 1);
      this.attach(leaf(m[2], m[1].length, 'failed', i, { undefinedDep: true }));
    } else if ((m = line.match(OPEN))) {
      this.popTo(m[1].length - 1);
      const dep = leaf(m[2], m[1].length, 'open', i, {});
      const frame: Frame = { indent: m[1].length, name: m[2], dep, parent: this.top() };
      this.attach(dep);
      this.stack.push(frame);
    }
  }

  private closeDep(indent: number, name: string, status: DepStatus, i: number): void {
    const frame = this.stack.find((f) => f.indent === indent && f.name === name);
    if (!frame) return; // a log line that only looks like a close
    this.popTo(indent);
    this.stack.pop();
    frame.dep.status = status;
    frame.dep.lastLine = i;
  }

  private closeBlock(indent: number): void {
    if (!this.stack.some((f) => f.indent === indent)) return;
    this.popTo(indent);
    const frame = this.stack.pop()!;
    discard(frame, this.roots);
    if (frame.name === 'meet' && frame.parent) frame.parent.dep.meetRan = true;
  }
}

function leaf(name: string, indent: number, status: DepStatus, line: number, extra: Partial<ParsedDep>): ParsedDep {
  return {
    name,
    indent,
    status,
    cached: false,
    undefinedDep: false,
    meetRan: false,
    children: [],
    firstLine: line,
    lastLine: line,
    ...extra,
  };
}

/**
 * A block closed with a bare `}` (`meet {`, a log block) or left behind by a line at a lower level (a log line that
 * only
 * looked like an opening) was not a dep: its children move up to where it was. Deps left open by an exception are never
 * discarded: nothing is printed below their level after one.
 */
function discard(frame: Frame, roots: ParsedDep[]): void {
  const siblings = frame.parent ? frame.parent.dep.children : roots;
  const at = siblings.indexOf(frame.dep);
  if (at >= 0) siblings.splice(at, 1, ...frame.dep.children);
}

/** Whether a `meet {` block ran in this dep or anything it required. */
export function meetRanWithin(dep: ParsedDep): boolean {
  return dep.meetRan || dep.children.some(meetRanWithin);
}

/** What a dep's report means for a task: already met, met now, unmet (dry run), or failed. */
export function depOutcome(dep: ParsedDep): 'already met' | 'met' | 'unmet' | 'failed' {
  if (dep.undefinedDep || dep.status === 'open' || dep.status === 'failed') return 'failed';
  if (dep.status === 'unmet') return 'unmet';
  if (dep.cached) return 'already met';
  return meetRanWithin(dep) ? 'met' : 'already met';
}

/** Names of the deps under (and including) `dep` that a dry run found unmet, innermost first. */
export function unmetDeps(dep: ParsedDep): string[] {
  const inner = dep.children.flatMap(unmetDeps);
  return dep.status === 'unmet' ? [...inner, dep.name] : inner;
}
