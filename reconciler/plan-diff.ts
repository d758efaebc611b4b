/**
 * How a plan says what changes in a value (docs/cli.md, "plan"): `v1.4.3 → v1.4.4` for an argument, and for a long
 * value or a shell command only the parts that differ (`vm.swappiness=10` → `vm.swappiness=5` reads `10 → 5`). Pure.
 *
 * Values come from the resolved description and the recorded applied spec, where `${secret.NAME}` stays symbolic
 * (kernel/types.ts): a diff shows at most a secret's name, never its value, and keeps a reference whole.
 */

/** Longest value shown; longer ones are cut with `…`. */
export const VALUE_LIMIT = 80;
/** Differences shown per value; the rest are counted. */
export const HUNK_LIMIT = 3;
/** Past this many token pairs, a command is compared by common prefix and suffix only (one difference). */
const LCS_CELLS = 1_000_000;

/** A value as a plan shows it: newlines and tabs escaped, quoted when empty or padded, cut at VALUE_LIMIT. */
export function showValue(v: string | undefined | null): string {
  if (v === undefined || v === null) return '(unset)';
  let s = v.replace(/\\/g, '\\\\').replace(/\r/g, '\\r').replace(/\n/g, '\\n').replace(/\t/g, '\\t');
  if (s === '' || /^\s|\s$/.test(s)) s = `"${s.replace(/"/g, '\\"')}"`;
  return s.length > VALUE_LIMIT ? `${s.slice(0, VALUE_LIMIT - 1)}…` : s;
}

/** One shown difference of a value: `before → after`, occurring `count` times. */
export interface ValueDifference {
  before: string;
  after: string;
  count: number;
}

/** A short value whole; a long one as the parts that differ (see valueDifferences). */
export function describeValueChange(before: string | undefined, after: string | undefined): ValueDifference[] {
  if (before === undefined || after === undefined || (before.length <= VALUE_LIMIT && after.length <= VALUE_LIMIT))
    return [{ before: showValue(before), after: showValue(after), count: 1 }];
  return valueDifferences(before, after);
}

/**
 * The parts of two strings that differ, shown (showValue), each distinct difference once with how often it occurs
 * (the same interpolated value used twice in a command is one difference, count 2).
 */
export function valueDifferences(before: string, after: string): ValueDifference[] {
  const hunks = diffHunks(tokens(before), tokens(after));
  if (hunks.length === 0) return [{ before: showValue(before), after: showValue(after), count: 1 }];
  const distinct = new Map<string, ValueDifference>();
  for (const h of hunks) {
    const d = { before: showValue(h.before), after: showValue(h.after), count: 1 };
    const key = `${d.before}\0${d.after}`;
    const seen = distinct.get(key);
    if (seen) seen.count++;
    else distinct.set(key, d);
  }
  return [...distinct.values()];
}

/** `10 → 5`, or `10 → 5 (2 places)`; at most HUNK_LIMIT of them, then `N more differences`. */
export function differenceLines(diffs: readonly ValueDifference[]): string[] {
  const shown = diffs
    .slice(0, HUNK_LIMIT)
    .map((d) => `${d.before} → ${d.after}${d.count > 1 ? ` (${d.count} places)` : ''}`);
  const more = diffs.length - HUNK_LIMIT;
  if (more > 0) shown.push(`${more} more difference${more === 1 ? '' : 's'}`);
  return shown;
}

/** Words (letters, digits, `._+-`), whitespace runs, whole `${…}` references, or single other characters. */
function tokens(s: string): string[] {
  return s.match(/\$\{[^}]*\}|[A-Za-z0-9_.+-]+|\s+|[^]/g) ?? [];
}

interface Hunk {
  before: string;
  after: string;
}

type Op = { kind: 'same'; text: string } | { kind: 'del'; text: string } | { kind: 'ins'; text: string };

/** Longest common subsequence of tokens, as a list of operations (prefix and suffix matched first). */
function diffOps(a: string[], b: string[]): Op[] {
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const head: Op[] = a.slice(0, start).map((text) => ({ kind: 'same', text }));
  const tail: Op[] = a.slice(endA).map((text) => ({ kind: 'same', text }));
  const midA = a.slice(start, endA);
  const midB = b.slice(start, endB);
  const mid: Op[] = [];
  if (midA.length * midB.length > LCS_CELLS) {
    mid.push(...midA.map((text): Op => ({ kind: 'del', text })), ...midB.map((text): Op => ({ kind: 'ins', text })));
  } else {
    const n = midA.length;
    const m = midB.length;
    // lcs[i][j]: length of the LCS of midA[i..] and midB[j..].
    const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i--)
      for (let j = m - 1; j >= 0; j--)
        lcs[i][j] = midA[i] === midB[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && midA[i] === midB[j]) {
        mid.push({ kind: 'same', text: midA[i++] });
        j++;
      } else if (j < m && (i === n || lcs[i][j + 1] >= lcs[i + 1][j])) mid.push({ kind: 'ins', text: midB[j++] });
      else mid.push({ kind: 'del', text: midA[i++] });
    }
  }
  return [...head, ...mid, ...tail];
}

/**
 * Runs of changed tokens. Runs separated only by whitespace are joined (`a b` → `c d` reads as one change); a pure
 * insertion or deletion takes the word before it (else after it) as context, so `--force` added after `install`
 * reads `install → install --force`.
 */
function diffHunks(a: string[], b: string[]): Hunk[] {
  const ops = diffOps(a, b);
  // Spans [start, end) of ops that are changes, joined across whitespace-only gaps.
  const spans: [number, number][] = [];
  for (let k = 0; k < ops.length; k++) {
    if (ops[k].kind === 'same') continue;
    let end = k;
    while (end < ops.length && ops[end].kind !== 'same') end++;
    const last = spans[spans.length - 1];
    if (last && ops.slice(last[1], k).every((o) => /^\s+$/.test(o.text))) last[1] = end;
    else spans.push([k, end]);
    k = end - 1;
  }
  return spans.map(([s, e]) => {
    let start = s;
    let end = e;
    const side = (kind: 'del' | 'ins'): string =>
      ops
        .slice(start, end)
        .filter((o) => o.kind === 'same' || o.kind === kind)
        .map((o) => o.text)
        .join('');
    if (side('del').trim() === '' || side('ins').trim() === '') {
      // Widen to the nearest word before (or after) that both sides share.
      let k = start - 1;
      while (k >= 0 && /^\s+$/.test(ops[k].text)) k--;
      if (k >= 0) start = k;
      else {
        k = end;
        while (k < ops.length && /^\s+$/.test(ops[k].text)) k++;
        if (k < ops.length) end = k + 1;
      }
    }
    return narrow(side('del'), side('ins'));
  });
}

/** Characters of shared context kept around a difference inside a long word. */
const CONTEXT = 12;

/**
 * Trims whitespace both sides share at the ends, and cuts a long difference (one long word, a long line) down to
 * the characters that differ with a little context: `…/releases/v1.4.3/app.tgz…`.
 */
function narrow(before: string, after: string): Hunk {
  if (before.trim() !== after.trim()) {
    before = before.trim();
    after = after.trim();
  }
  if (before.length <= VALUE_LIMIT && after.length <= VALUE_LIMIT) return { before, after };
  let p = 0;
  while (p < before.length && p < after.length && before[p] === after[p]) p++;
  let q = 0;
  while (q < before.length - p && q < after.length - p && before[before.length - 1 - q] === after[after.length - 1 - q])
    q++;
  const cut = (s: string): string => {
    const from = Math.max(0, p - CONTEXT);
    const to = Math.min(s.length, s.length - q + CONTEXT);
    return `${from > 0 ? '…' : ''}${s.slice(from, to)}${to < s.length ? '…' : ''}`;
  };
  return { before: cut(before), after: cut(after) };
}
