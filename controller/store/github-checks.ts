/**
 * `github_checks` (migrations 007 and 020): each check of a commit as last reported, the id of its check run on GitHub
 * and the annotations that run already has. The GitHub reporter (controller/github/) writes it: a check is recorded
 * when reported, before its write goes out, so its status here is the latest one even while GitHub lags behind.
 */
import type { Queryable } from '../../store/in-transaction.js';
import { repositoryKey, type RepositoryIdentity } from '../../kernel/repository.js';
import type { CheckStatus, CheckUpdate } from '../ports.js';

/** Which check: a repository (its `repositoryKey`), a commit and a check name. */
export interface CheckKey {
  repo: RepositoryIdentity;
  sha: string;
  name: string;
}

const keyParams = (k: CheckKey) => [repositoryKey(k.repo), k.sha, k.name];

/** Records a check's latest state; the installation and details URL already known are kept when not given. */
export async function recordCheck(
  db: Queryable,
  key: CheckKey,
  update: CheckUpdate,
  installationId: number | undefined,
): Promise<void> {
  await db.query(
    `INSERT INTO github_checks (repository, sha, name, status, conclusion, installation_id, details_url) VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (repository, sha, name) DO UPDATE SET status = EXCLUDED.status, conclusion = EXCLUDED.conclusion,
       installation_id = COALESCE(EXCLUDED.installation_id, github_checks.installation_id),
       details_url = COALESCE(EXCLUDED.details_url, github_checks.details_url), updated_at = now()`,
    [
      ...keyParams(key),
      update.status,
      update.status === 'completed' ? (update.conclusion ?? 'neutral') : null,
      installationId ?? null,
      update.detailsUrl ?? null,
    ],
  );
}

/** The check's status as last recorded, or null when it was never reported. */
export async function readCheckStatus(db: Queryable, key: CheckKey): Promise<CheckStatus | null> {
  const { rows } = await db.query<{ status: CheckStatus }>(
    'SELECT status FROM github_checks WHERE repository = $1 AND sha = $2 AND name = $3',
    keyParams(key),
  );
  return rows[0]?.status ?? null;
}

/** What GitHub already has of a check: its check run (null before it is created) and the annotations sent to it. */
interface CheckRunRecord {
  checkRunId: number | null;
  annotationHashes: string[];
}

export async function readCheckRun(db: Queryable, key: CheckKey): Promise<CheckRunRecord> {
  const { rows } = await db.query<{ check_run_id: string | null; annotation_hashes: string[] }>(
    'SELECT check_run_id::text, annotation_hashes FROM github_checks WHERE repository = $1 AND sha = $2 AND name = $3',
    keyParams(key),
  );
  return {
    checkRunId: rows[0]?.check_run_id ? Number(rows[0].check_run_id) : null,
    annotationHashes: rows[0]?.annotation_hashes ?? [],
  };
}

/** Remembers the id of the check run created for the check. */
export async function saveCheckRunId(db: Queryable, key: CheckKey, checkRunId: number): Promise<void> {
  await db.query(
    'UPDATE github_checks SET check_run_id = $4, updated_at = now() WHERE repository = $1 AND sha = $2 AND name = $3',
    [...keyParams(key), checkRunId],
  );
}

/** Remembers annotations the check run now has (hashes of what was sent). */
export async function addAnnotationHashes(db: Queryable, key: CheckKey, hashes: readonly string[]): Promise<void> {
  if (hashes.length === 0) return;
  await db.query(
    'UPDATE github_checks SET annotation_hashes = annotation_hashes || $4::text[] WHERE repository = $1 AND sha = $2 AND name = $3',
    [...keyParams(key), hashes],
  );
}

/** A check not completed yet, as recorded. */
export interface PendingCheck {
  /** `repositoryKey` of a GitHub repository: `owner/name`. */
  repository: string;
  sha: string;
  name: string;
  status: Exclude<CheckStatus, 'completed'>;
  installationId: number | null;
  detailsUrl: string | null;
}

/** Checks not completed and not updated for `notUpdatedForMs`, oldest first. */
export async function listPendingChecks(db: Queryable, notUpdatedForMs: number): Promise<PendingCheck[]> {
  const { rows } = await db.query<{
    repository: string;
    sha: string;
    name: string;
    status: PendingCheck['status'];
    installation_id: string | null;
    details_url: string | null;
  }>(
    `SELECT repository, sha, name, status, installation_id::text, details_url FROM github_checks
      WHERE status <> 'completed' AND updated_at < now() - $1 * interval '1 millisecond' ORDER BY id`,
    [notUpdatedForMs],
  );
  return rows.map((r) => ({
    repository: r.repository,
    sha: r.sha,
    name: r.name,
    status: r.status,
    installationId: r.installation_id ? Number(r.installation_id) : null,
    detailsUrl: r.details_url,
  }));
}
