/** The `drift_alerts` table: the fingerprint of the last drift alert sent per environment (one alert per change). */
import type { Queryable } from '../../store/in-transaction.js';

/** Records the fingerprint of an alert about to be sent; false when it is the one already recorded (nothing new). */
export async function recordDriftAlert(
  db: Queryable,
  repository: string,
  environment: string,
  fingerprint: string,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO drift_alerts (repository, environment, fingerprint) VALUES ($1, $2, $3)
     ON CONFLICT (repository, environment) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, sent_at = now()
      WHERE drift_alerts.fingerprint IS DISTINCT FROM EXCLUDED.fingerprint
     RETURNING 1`,
    [repository, environment, fingerprint],
  );
  return (rowCount ?? 0) > 0;
}

/** Forgets the environment's alert (its drift is resolved); false when there was none to forget. */
export async function clearDriftAlert(db: Queryable, repository: string, environment: string): Promise<boolean> {
  const { rowCount } = await db.query(`DELETE FROM drift_alerts WHERE repository = $1 AND environment = $2`, [
    repository,
    environment,
  ]);
  return (rowCount ?? 0) > 0;
}
