/** Quotes one word for a POSIX shell: any bytes (quotes, spaces, `$()`, backticks, newlines) arrive verbatim. */
export function quoteShell(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
