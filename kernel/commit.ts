/** Commit identifiers as git writes them: 40 hex digits (SHA-1) or 64 (SHA-256 repositories). */
export const COMMIT_SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** True for a full commit SHA other than the all-zero one GitHub sends for a created or deleted ref. */
export function isCommitSha(value: unknown): value is string {
  return typeof value === 'string' && COMMIT_SHA.test(value) && !/^0+$/.test(value);
}
