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

  private async assertKagziDatabase(): Promise<void> {
    const source = this.manager.connection ?? this.manager;
    let theirs = known.get(source);
    if (!theirs) {
      theirs = this.manager.query(FINGERPRINT).then((rows) => (rows as Array<{ id: string }>)[0].id);
      known.set(source, theirs);
    }
    let ours = known.get(this.db);
    if (!ours) {
      ours = this.db.pool.query<{ id: string }>(FINGERPRINT).then((r) => r.rows[0].id);
      known.set(this.db, ours);
    }
    const [a, b] = await Promise.all([theirs, ours]);
    if (a !== b) {
      throw new InvalidOptionsError(
        `start options.manager: the EntityManager's database (${a.split(':')[0]}) is not Kagzi's (${b.split(':')[0]}); ` +
          "a run can join only a transaction on Kagzi's own database: point the DataSource there, or start the run without manager",
      );
    }
  }
}
