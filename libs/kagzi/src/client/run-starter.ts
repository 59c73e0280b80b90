import { randomUUID } from 'node:crypto';
import { toMilliseconds } from '../common/duration';
import { describeIssues } from '../common/resolve-options';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import { PayloadSerializer } from '../execution/payload.serializer';
import { StartOptions } from '../interfaces/run.interface';
import { recordRunStarted } from '../metrics/run.metrics';
import { afterCallerCommit } from '../persistence/after-caller-commit';
import { CallerTransaction } from '../persistence/caller-transaction';
import { ConnectionRetry } from '../persistence/connection-retry';
import { KagziDatabase } from '../persistence/kagzi-database';
import { RunStore } from '../persistence/run.store';
import { startTrace } from '../tracing/start.trace';
import { startOptionsSchema } from './client-input';
import { RunOutcomeWaiter } from './run-outcome.waiter';
import { StartBatcher } from './start.batcher';
import { versionError } from './version-errors';

/** `client.start`: checked options, one traced insert (in the caller's transaction with `manager`), the id of the run. */
export class RunStarter {
  private readonly group: StartBatcher;

  constructor(
    private readonly runs: RunStore,
    private readonly db: KagziDatabase,
    private readonly serializer: PayloadSerializer,
    private readonly connection: ConnectionRetry,
    private readonly waiter: RunOutcomeWaiter,
  ) {
    this.group = new StartBatcher(db);
  }

  async start(name: string, input: unknown, options: StartOptions): Promise<string> {
    const parsed = startOptionsSchema.safeParse(options);
    if (!parsed.success) throw new InvalidOptionsError(`Invalid start options: ${describeIssues(parsed.error, 'options')}`);
    const delayMs = options.delay === undefined ? 0 : toMilliseconds(options.delay, 'start options.delay');
    const { text } = this.serializer.encode(input, `input of workflow "${name}"`);
    // The id is chosen before the first attempt: an attempt whose reply was lost in an outage may have
    // inserted the run, and the retry then finds it by this id (the insert does nothing on a taken id).
    const id = randomUUID();
    const traced = startTrace(name, id, options.version);
    const run = { id, name, version: options.version, input: text, idempotencyKey: options.idempotencyKey, delayMs, traceContext: traced.carrier };
    if (options.manager !== undefined) {
      // In the caller's transaction: no retry (an outage aborts their transaction anyway), no outcome to look up.
      const caller = new CallerTransaction(this.db, options.manager);
      return traced.around(async () => {
        const inserted = await caller.insertRun(run);
        traced.version(inserted.version);
        if (inserted.id) {
          const { version } = inserted;
          // Counted once the caller's transaction commits: rolled back, the run never existed.
          afterCallerCommit(options.manager as object, () => recordRunStarted(name, version));
          return inserted.id;
        }
        const existing = options.idempotencyKey === undefined ? undefined : await caller.findRunIdByKey(name, options.idempotencyKey);
        if (existing) return existing;
        throw versionError(name, options.version, inserted);
      });
    }
    // Before the insert: a result() awaited in this process then needs no first read (see RunOutcomeWaiter).
    this.waiter.expect(id);
    const traceContext = traced.carrier ? JSON.stringify(traced.carrier) : undefined;
    const runId = await traced
      .around(async () => {
        // Grouped with other starts when one is in flight (start.batcher.ts); else, or when the group cannot settle it, alone.
        const grouped = await this.group.submit({ id, name, version: options.version, input: text, idempotencyKey: options.idempotencyKey, delayMs, traceContext });
        if (grouped.kind === 'existing') return grouped.id;
        if (grouped.kind === 'inserted') {
          traced.version(grouped.version);
          return this.started(name, grouped.version, grouped.id);
        }
        return this.connection.run(`start() of workflow "${name}" (run id ${id})`, async (attempt) => {
          const inserted = await this.runs.insertRun(run);
          traced.version(inserted.version);
          if (inserted.id) return this.started(name, inserted.version, inserted.id);
          // A repeated idempotency key returns the first run, even if its version was deprecated since.
          const existing = options.idempotencyKey === undefined ? undefined : await this.runs.findRunIdByKey(name, options.idempotencyKey);
          if (existing) return existing;
          if ((attempt > 1 || grouped.afterLostReply) && (await this.runs.getRunOutcome(id))) return this.started(name, options.version, id);
          throw versionError(name, options.version, inserted);
        });
      })
      .catch((err: unknown) => {
        this.waiter.forget(id);
        throw err;
      });
    if (runId !== id) this.waiter.forget(id);
    return runId;
  }

  private started(name: string, version: number | null | undefined, runId: string): string {
    recordRunStarted(name, version);
    return runId;
  }
}
