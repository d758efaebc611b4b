/** Replaces every secret value with `***` wherever text is shown, logged or stored. */
export class Redactor {
  private readonly values: string[];

  constructor(secretValues: Iterable<string>) {
    // Longest first, so a secret containing another is hidden whole.
    this.values = [...new Set([...secretValues].filter((v) => v.length > 0))].sort((a, b) => b.length - a.length);
  }

  /** A secret spanning lines cannot be redacted line by line. */
  get multiline(): boolean {
    return this.values.some((v) => v.includes('\n'));
  }

  redact(text: string): string {
    let out = text;
    for (const v of this.values) out = out.split(v).join('***');
    return out;
  }
}
