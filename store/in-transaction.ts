/** One transaction on a client of a pool, safe when the database drops the connection midway. */
import type pg from 'pg';

/** A pool or a client inside a transaction: anything that can run a query. */
export type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

/**
 * Runs `fn` in a transaction on a client of the pool (or joins the transaction when given a client). A connection lost
 * midway fails the next query (so the caller sees it) without its 'error' event ending the process, and the broken
 * client is discarded rather than returned to the pool.
 */
export async function inTransaction<T>(
  db: pg.Pool | pg.PoolClient,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  if (!('totalCount' in db)) return fn(db);
  const client = await db.connect();
  const lost = () => undefined; // reported by the failing query
  client.on('error', lost);
  let broken = false;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => (broken = true));
    throw err;
  } finally {
    client.off('error', lost);
    client.release(broken);
  }
}
