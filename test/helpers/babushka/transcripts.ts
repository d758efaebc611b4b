/** The transcripts of docs/babushka.md (copied verbatim to fixtures/transcripts.txt), for golden tests. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Babushka's install directory as the stand-in prints it (`BABUSHKA` in the transcripts). */
export const standInInstallDir = here;

export interface Transcript {
  /** The command line, without the `$ ` prompt and the trailing `# comment`. */
  command: string;
  /** Its output, `~` and `BABUSHKA` still symbolic. */
  output: string;
  exitStatus: number;
}

/** Reads fixtures/transcripts.txt into its commands, outputs and exit statuses. */
export function loadTranscripts(): Transcript[] {
  const text = readFileSync(path.join(here, 'fixtures', 'transcripts.txt'), 'utf8');
  const lines = text.split('\n').filter((l) => !l.startsWith('# '));
  const result: Transcript[] = [];
  let current: { command: string; output: string[] } | null = null;
  for (const line of lines) {
    if (line.startsWith('$ ')) {
      current = { command: line.slice(2).replace(/\s+#.*$/, ''), output: [] };
    } else if (current && /^\[exit status \d+\]$/.test(line)) {
      result.push({
        command: current.command,
        output: current.output.map((l) => l + '\n').join(''),
        exitStatus: Number(line.match(/\d+/)![0]),
      });
      current = null;
    } else if (current && line !== '') {
      current.output.push(line);
    }
  }
  return result;
}

/** Replaces the transcripts' `~/` with the user's home and `BABUSHKA` with the install directory. */
export function substitute(output: string, home: string, installDir = standInInstallDir): string {
  return output.replace(/~\//g, home + '/').replace(/BABUSHKA\//g, installDir + '/');
}
