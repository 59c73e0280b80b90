/** What Kagzi reads of a TypeORM QueryRunner: whether a transaction is open, how deep, and its DataSource. */
interface TransactionRunner {
  isTransactionActive: boolean;
  transactionDepth?: number;
  dataSource?: { subscribers: unknown[] };
  connection?: { subscribers: unknown[] };
}

/** Work waiting for a caller's transaction to commit, with the savepoint depth it was registered at. */
interface Pending {
  depth: number;
  run(): void;
}

const pending = new WeakMap<TransactionRunner, Pending[]>();
/** DataSources already given the subscriber below. */
const watched = new WeakSet<object>();

/**
 * TypeORM's transaction events on one DataSource: a commit of the outermost transaction runs what was
 * registered in it, a release of a savepoint moves the savepoint's work into the transaction around it,
 * and a rollback (of the transaction, or to a savepoint) drops the work registered inside what it undid,
 * as does a COMMIT that PostgreSQL turned into a rollback (the transaction had failed).
 */
const subscriber = {
  /** PostgreSQL answers the COMMIT of a transaction a failed statement aborted with ROLLBACK, and no error. */
  afterQuery(event: { queryRunner: TransactionRunner; query: string; rawResults?: unknown }): void {
    if (!pending.has(event.queryRunner) || event.query !== 'COMMIT') return;
    if ((event.rawResults as { command?: unknown } | undefined)?.command === 'ROLLBACK') pending.delete(event.queryRunner);
  },
  afterTransactionCommit(event: { queryRunner: TransactionRunner }): void {
    settle(event.queryRunner, (items, depth) => {
      if (depth > 0) return items.map((p) => ({ ...p, depth: Math.min(p.depth, depth) }));
      for (const p of items) p.run();
      return [];
    });
  },
  afterTransactionRollback(event: { queryRunner: TransactionRunner }): void {
    settle(event.queryRunner, (items, depth) => items.filter((p) => p.depth <= depth));
  },
};

function settle(runner: TransactionRunner, next: (items: Pending[], depth: number) => Pending[]): void {
  const items = pending.get(runner);
  if (!items) return;
  const depth = runner.isTransactionActive ? (runner.transactionDepth ?? 1) : 0;
  const left = next(items, depth);
  if (left.length === 0) pending.delete(runner);
  else pending.set(runner, left);
}

/**
 * Runs `fn` once the transaction of the caller's EntityManager commits, or at once when the manager is
 * not in a TypeORM transaction (its statement committed on its own). Rolled back, `fn` never runs: a
 * run started in a transaction that rolled back never existed, and is not counted as started. Works
 * through TypeORM's transaction events (a subscriber added once to the manager's DataSource); a
 * transaction opened with a raw `BEGIN` is not seen, and counts at once.
 */
export function afterCallerCommit(manager: object, fn: () => void): void {
  const runner = (manager as { queryRunner?: TransactionRunner }).queryRunner;
  const source = runner?.dataSource ?? runner?.connection;
  if (!runner?.isTransactionActive || !source || !Array.isArray(source.subscribers)) return fn();
  if (!watched.has(source)) {
    watched.add(source);
    source.subscribers.push(subscriber);
  }
  const items = pending.get(runner) ?? [];
  items.push({ depth: runner.transactionDepth ?? 1, run: fn });
  pending.set(runner, items);
}
