import { OnApplicationShutdown } from '@nestjs/common';
import { DataSource, EntityManager, QueryRunner } from 'typeorm';
import { poolSize } from '../common/limits';
import { ResolvedKagziOptions } from '../common/resolve-options';
import { KagziDatabase, StatementRunner } from './kagzi-database';
import { BoundStatement } from './statement';

/** PostgreSQL's isolation levels, for `@Step({ transactional: true, isolation })`. */
export type IsolationLevel = 'READ COMMITTED' | 'REPEATABLE READ' | 'SERIALIZABLE';

/** One transactional step attempt's transaction: the body's EntityManager, then the record's commit (or a rollback). */
export interface StepTransaction {
  readonly manager: EntityManager;
  /** Runs a Kagzi statement in the transaction. */
  readonly run: StatementRunner;
  commit(): Promise<void>;
  /** Rolls back if still open, and gives the connection back. Idempotent. */
  release(): Promise<void>;
}

/**
 * Transactions of `@Step({ transactional: true })` on Kagzi's database, through TypeORM: on the app's
 * DataSource when Kagzi shares it (`database: { dataSource }`), else on a DataSource Kagzi opens with
 * its own connection settings at the first transactional step (and closes at shutdown).
 */
export class StepTransactions implements OnApplicationShutdown {
  private own?: Promise<DataSource>;
  private readonly defaults = new WeakMap<DataSource, Promise<string>>();

  constructor(
    private readonly db: KagziDatabase,
    private readonly options: ResolvedKagziOptions,
  ) {}

  async begin(isolation: IsolationLevel): Promise<StepTransaction> {
    const source = await this.dataSource();
    const runner = source.createQueryRunner();
    await runner.connect();
    try {
      // TypeORM sends an isolation level as a statement of its own after START TRANSACTION: leave it out
      // when it is what the server starts transactions with anyway (READ COMMITTED by default).
      const implicit = isolation === (await this.serverDefault(source, runner));
      await runner.startTransaction(implicit ? undefined : isolation);
    } catch (err: unknown) {
      await runner.release().catch(() => undefined);
      throw err;
    }
    return transactionOf(runner, this.db.schema);
  }

  /** After every worker drained (their hooks run before this one). */
  async onApplicationShutdown(): Promise<void> {
    const own = await this.own?.catch(() => undefined);
    if (own?.isInitialized) await own.destroy();
  }

  /** The level a transaction gets without one (none when the DataSource sets its own), read once per DataSource. */
  private serverDefault(source: DataSource, runner: QueryRunner): Promise<string | undefined> {
    if ((source.options as { isolationLevel?: string }).isolationLevel !== undefined) return Promise.resolve(undefined);
    let level = this.defaults.get(source);
    if (!level) {
      level = runner.query('show default_transaction_isolation').then((rows: Array<{ default_transaction_isolation: string }>) => rows[0].default_transaction_isolation.toUpperCase());
      this.defaults.set(source, level);
    }
    return level;
  }

  private dataSource(): Promise<DataSource> {
    if (this.options.database.kind === 'dataSource') return Promise.resolve(this.options.database.dataSource);
    this.own ??= new DataSource({ type: 'postgres', extra: { ...this.db.connection, max: poolSize(this.options.worker ? this.options.worker.concurrency : undefined) } }).initialize();
    return this.own;
  }
}

function transactionOf(runner: QueryRunner, schema: string): StepTransaction {
  let open = true;
  let releasing: Promise<void> | undefined;
  return {
    manager: runner.manager,
    run: async <R>(statement: BoundStatement) => (await runner.query(statement.text(schema), statement.values)) as R[],
    commit: async () => {
      await runner.commitTransaction();
      open = false;
    },
    // Once: a second call (the attempt's end while the first rollback waits) shares the first.
    release: () =>
      (releasing ??= (async () => {
        if (runner.isReleased) return;
        try {
          if (open && runner.isTransactionActive) await runner.rollbackTransaction();
        } finally {
          open = false;
          await runner.release();
        }
      })()),
  };
}
