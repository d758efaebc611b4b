/** Small markdown helpers shared by the renderers, and GitHub's size limits. */

/** GitHub rejects issue and PR comment bodies longer than this (characters). */
export const COMMENT_LIMIT = 65_536;
/** GitHub rejects check run output summary / text longer than this (characters). */
export const CHECK_TEXT_LIMIT = 65_535;
/** GitHub accepts at most this many annotations per check run request. */
export const ANNOTATIONS_PER_REQUEST = 50;
/** GitHub rejects commit status descriptions longer than this. */
export const STATUS_DESCRIPTION_LIMIT = 140;

/** A markdown table cell: pipes escaped, newlines flattened, so user-controlled text cannot break the table. */
export function cell(text: string | null | undefined): string {
  if (text === null || text === undefined || text === '') return '';
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ').replace(/</g, '&lt;');
}

/** Inline code that survives backticks in the text. */
export function code(text: string): string {
  const fence = text.includes('`') ? '``' : '`';
  return `${fence}${fence.length > 1 ? ' ' : ''}${text}${fence.length > 1 ? ' ' : ''}${fence}`;
}

/** A fenced code block whose fence is longer than any backtick run inside. */
export function codeBlock(text: string, lang = ''): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}${lang}\n${text}\n${fence}`;
}

/** The first 7 characters of a commit, as GitHub shows them. */
export function shortSha(sha: string | null | undefined): string {
  return sha ? sha.slice(0, 7) : 'unknown commit';
}

/** Cuts text to `limit` characters, ending with a note when something was cut. */
export function truncate(text: string, limit: number, note = '\n\n… (truncated)'): string {
  if (text.length <= limit) return text;
  return text.slice(0, Math.max(0, limit - note.length)) + note;
}

/** The last `lines` lines (and at most `chars` characters) of a task's output: the part that says what went wrong. */
export function tail(text: string | undefined, lines = 10, chars = 1_500): string {
  if (!text) return '';
  const kept = text.trimEnd().split('\n').slice(-lines).join('\n');
  return kept.length > chars ? `…${kept.slice(-chars)}` : kept;
}

/** `1 node` / `2 nodes`. */
export function plural(n: number, word: string, suffix = 's'): string {
  return `${n} ${word}${n === 1 ? '' : suffix}`;
}

/**
 * Accumulates lines up to a character budget; optional lines that no longer fit are counted, not added, so a
 * renderer can say how much it left out.
 */
export class Budget {
  readonly lines: string[] = [];
  private used = 0;
  omitted = 0;

  constructor(private readonly limit: number) {}

  /** Adds a line whatever the budget (headings, counts, notes). */
  must(line: string): void {
    this.lines.push(line);
    this.used += line.length + 1;
  }

  /** Adds a line if it fits; returns false (and counts it) when it does not. */
  maybe(line: string): boolean {
    if (this.used + line.length + 1 > this.limit) {
      this.omitted++;
      return false;
    }
    this.must(line);
    return true;
  }

  get length(): number {
    return this.used;
  }

  text(): string {
    return this.lines.join('\n');
  }
}

/** Inline code inside a table cell: GFM splits cells on `|` even inside code spans, so it is escaped. */
export function codeCell(text: string): string {
  return code(text.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|'));
}
