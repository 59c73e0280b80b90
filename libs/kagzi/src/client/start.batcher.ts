import { KagziDatabase } from '../persistence/kagzi-database';
import { BatchRun, insertRuns, InsertRunsRow } from '../persistence/sql/insert-runs.sql';

/** What the group insert says about one start: its run inserted (with the version it got), or "do it alone". */
export type GroupedStart = { kind: 'inserted'; id: string; version: number } | { kind: 'existing'; id: string } | { kind: 'alone'; afterLostReply: boolean };

interface Pending {
  run: BatchRun;
  resolve(outcome: GroupedStart): void;
}

/** Starts per statement at most, and serialized inputs per statement at most. */
const MAX_BATCH = 500;
const MAX_BATCH_BYTES = 8 * 1024 * 1024;

/**
 * Group insert of `client.start()` calls: a start goes alone when no group insert is in flight (its own
 * statement, insert-run.sql.ts, as before); starts that arrive while one is in flight wait for it and
 * then go together in one statement (insert-runs.sql.ts, the statement of `startMany`), with one NOTIFY.
 * Under a burst of starts, many share one round trip and one commit; alone, a start pays nothing extra.
 * Only starts without an idempotency key are grouped: their random ids never wait on another
 * transaction. Anything the group statement cannot settle for an item (a version that is not usable,
 * which stops the whole group; a failed statement) is handed back as `alone`, and the caller's own
 * insert, with its retries and typed errors, settles it.
 */
export class StartBatcher {
  private queue: Pending[] = [];
  private flying = false;

  constructor(private readonly db: KagziDatabase) {}

  /**
   * `alone` at once when nothing is in flight: the caller inserts by itself. A start with an idempotency
   * key always goes alone: its insert waits while another transaction holds the key uncommitted (a
   * caller's open transaction that started the same key), and in a group it would hold up every start
   * queued behind it; alone, only it waits.
   */
  submit(run: BatchRun): Promise<GroupedStart> {
    if (run.idempotencyKey !== undefined) return Promise.resolve({ kind: 'alone', afterLostReply: false });
    if (!this.flying) {
      this.flying = true;
      // Starts submitted in this same tick are grouped behind this one.
      queueMicrotask(() => void this.drain());
      return Promise.resolve({ kind: 'alone', afterLostReply: false });
    }
    return new Promise<GroupedStart>((resolve) => this.queue.push({ run, resolve }));
  }

  /** Lets the first start's own statement go, then sends what queued meanwhile, group after group. */
  private async drain(): Promise<void> {
    // One turn of the event loop: the lone start's statement is on its way; later starts queue behind it.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.queue.length > 0) await this.send(this.take());
    this.flying = false;
  }

  private take(): Pending[] {
    let bytes = 0;
    let n = 0;
    while (n < this.queue.length && n < MAX_BATCH && (n === 0 || bytes + this.queue[n].run.input.length <= MAX_BATCH_BYTES)) bytes += this.queue[n++].run.input.length;
    return this.queue.splice(0, n);
  }

  private async send(group: Pending[]): Promise<void> {
    if (group.length === 1) return group[0].resolve({ kind: 'alone', afterLostReply: false });
    // A key repeated within the group: the first goes in it, the others alone after it (they find its run).
    const seen = new Set<string>();
    const batch: Pending[] = [];
    const later: Pending[] = [];
    for (const p of group) {
      const key = p.run.idempotencyKey === undefined ? undefined : `${p.run.name}\u0000${p.run.idempotencyKey}`;
      if (key !== undefined && seen.has(key)) later.push(p);
      else {
        if (key !== undefined) seen.add(key);
        batch.push(p);
      }
    }
    let row: InsertRunsRow;
    try {
      [row] = await this.db.run<InsertRunsRow>(insertRuns.with(batch.map((p) => p.run)));
    } catch {
      // The statement may have committed before its reply was lost: each insert alone then checks its id.
      for (const p of batch) p.resolve({ kind: 'alone', afterLostReply: true });
      for (const p of later) p.resolve({ kind: 'alone', afterLostReply: false });
      return;
    }
    batch.forEach((p, j) => {
      const id = row.run_ids[j];
      const version = row.versions[j];
      if (row.blocked_item !== null || id === null) p.resolve({ kind: 'alone', afterLostReply: false });
      else if (id === p.run.id && version !== null) p.resolve({ kind: 'inserted', id, version });
      else p.resolve({ kind: 'existing', id });
    });
    for (const p of later) p.resolve({ kind: 'alone', afterLostReply: false });
  }
}
