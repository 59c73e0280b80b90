import { InvalidOptionsError } from '../errors/invalid-options.error';
import { KagziDatabase } from './kagzi-database';
import { InsertRunResult } from './run.rows';
import { findRunByKey } from './sql/find-run-by-key.sql';
import { insertRun } from './sql/insert-run.sql';
import { BoundStatement } from './statement';

/** What Kagzi needs of a TypeORM EntityManager: to run SQL on its connection (in its transaction, if any). */
export interface CallerSql {
  query(sql: string, parameters?: unknown[]): Promise<unknown>;
  /** The DataSource the manager belongs to (TypeORM's `manager.connection`). */
  readonly connection?: object;
}

/** Identifies a database: its name, its oid and its server's start time (two servers never share all three). */
const FINGERPRINT = `select current_database() || ':' || (select oid from pg_database where datname = current_database())::text || ':' || pg_postmaster_start_time()::text as id`;

/** Fingerprints of the databases of the DataSources seen so far, and of Kagzi's own. */
const known = new WeakMap<object, Promise<string>>();

/**
 * Runs Kagzi's statements on a caller's EntityManager (`client.start(…, { manager })`), so the run is
 * written in the caller's transaction: it exists only if that transaction commits, and the wake-up
 * NOTIFY is delivered at commit. Refused when the manager's database is not Kagzi's.
 */
export class CallerTransaction {
  constructor(
    private readonly db: KagziDatabase,
    private readonly manager: CallerSql,
  ) {}

  async insertRun(run: Parameters<typeof insertRun.with>[0]): Promise<InsertRunResult> {
    await this.assertKagziDatabase();
    const [row] = await this.run<InsertRunResult>(insertRun.with(run));
    return row;
  }

  async findRunIdByKey(name: string, idempotencyKey: string): Promise<string | undefined> {
    const [row] = await this.run<{ id: string }>(findRunByKey.with({ name, idempotencyKey }));
    return row?.id;
  }

  private async run<R>(statement: BoundStatement): Promise<R[]> {
    const result = await this.manager.query(statement.text(this.db.schema), statement.values);
    return (Array.isArray(result) ? result : ((result as { rows?: R[] } | undefined)?.rows ?? [])) as R[];
  }

  private assertKagziDatabase(): Promise<void> {
    return assertCallerDatabase(this.db, this.manager, 'start() options.manager');
  }
}

/**
 * Refuses an EntityManager whose database is not Kagzi's, before anything is written on it (a run there
 * would never reach Kagzi's workers). A manager of the DataSource Kagzi shares is Kagzi's by construction
 * and costs no query; that matters, because taking a second connection from a pool whose connections are
 * all held by such transactions would wait forever. Otherwise both databases' fingerprints are read once
 * (the caller's on its own connection, Kagzi's on Kagzi's pool) and compared; on a mismatch both are read
 * again, since one may date from before a restart of the server.
 */
export async function assertCallerDatabase(db: KagziDatabase, manager: CallerSql, api: string): Promise<void> {
  const source = manager.connection ?? manager;
  if ((source as { driver?: { master?: unknown } }).driver?.master === db.pool) return;
  let [a, b] = await fingerprints(db, manager, source);
  if (a !== b) {
    // Either may be from before a restart of the server (its start time is part of it): read both again.
    known.delete(source);
    known.delete(db);
    [a, b] = await fingerprints(db, manager, source);
  }
  if (a !== b) {
    throw new InvalidOptionsError(
      `${api}: the EntityManager's database (${a.split(':')[0]}) is not Kagzi's (${b.split(':')[0]}); ` +
        "a run can join only a transaction on Kagzi's own database: point the DataSource there, or start without manager",
    );
  }
}

/** The caller's and Kagzi's database fingerprints, each read once and remembered. */
function fingerprints(db: KagziDatabase, manager: CallerSql, source: object): Promise<[string, string]> {
  let theirs = known.get(source);
  if (!theirs) {
    theirs = manager.query(FINGERPRINT).then((rows) => rowsOf(rows)[0].id);
    known.set(source, theirs);
    theirs.catch(() => known.delete(source)); // a failed read is not remembered
  }
  let ours = known.get(db);
  if (!ours) {
    ours = db.pool.query<{ id: string }>(FINGERPRINT).then((r) => r.rows[0].id);
    known.set(db, ours);
    ours.catch(() => known.delete(db));
  }
  return Promise.all([theirs, ours]);
}

/** TypeORM's `query()` resolves to the rows; a bare pg-like client to `{ rows }`. */
function rowsOf(result: unknown): Array<{ id: string }> {
  return (Array.isArray(result) ? result : ((result as { rows?: unknown[] } | undefined)?.rows ?? [])) as Array<{ id: string }>;
}
