/** Errors a job handler throws to say "do not retry": the job is recorded as failed and removed from the queue. */
import { PolitburoError } from '../../kernel/types.js';

/** A failure that retrying cannot fix (an invalid description, a payload that makes no sense). */
export class TerminalError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TerminalError';
  }
}

/** True for errors that must not be retried: TerminalError and PolitburoError with reason InvalidSpec. */
export function isTerminal(err: unknown): boolean {
  if (err instanceof TerminalError) return true;
  if (err instanceof PolitburoError) return err.reason === 'InvalidSpec' || err.reason === 'HostKeyMismatch';
  return false;
}
