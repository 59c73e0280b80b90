import { ErrorKind } from '../errors/error-kind';
import { LeaseLostError } from '../errors/lease-lost.error';
import { PermanentError } from '../errors/step.error';
import { isConnectionFailure } from '../persistence/connection-failure';
import { describeDatabaseError, isDataError, isTransactionConflict } from '../persistence/database-errors';
import { RunLogger } from './run-logger';
import { RunStop } from './run-stop';

/** Back-off between in-place retries of a write: 50 ms, doubling, at most 1 s. */
const FIRST_RETRY_MS = 50;
const MAX_RETRY_MS = 1_000;
/** A write chosen as a deadlock (40P01) or serialization (40001) victim is tried again this often. */
const MAX_CONFLICT_RETRIES = 5;

/**
 * The writes of one execution. A connection failure is retried in place, with back-off, for as long
 * as this worker holds the run (its lease keeper stops the run once the lease can no longer be
 * renewed; fencing makes a repeated write safe). A data error (the values were refused) fails the
 * run: the same write would be refused forever. Anything else stops the run here, and it resumes
 * wherever it is claimed once its lease expires.
 */
export class RunWriter {
  constructor(
    private readonly runId: string,
    private readonly stop: RunStop,
    private readonly logger: RunLogger,
    /** Replay: a write means the code went past its records; the run stops there and nothing is written. */
    private readonly replaying = false,
  ) {}

  async write<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (this.replaying) this.stop.reachFrontier(what);
    for (let retry = 0; ; retry++) {
      try {
        const result = await fn();
        if (retry > 0) this.logger.log(`Run ${this.runId}: database reachable again, ${what} succeeded after ${retry} retries`);
        return result;
      } catch (err: unknown) {
        if (isDataError(err)) this.failUnstorable(what, err);
        let gone = this.stop.notHeld();
        // A deadlock or serialization victim was rolled back whole: the same fenced write can simply go again.
        if (gone === undefined && isTransactionConflict(err) && retry < MAX_CONFLICT_RETRIES) {
          await new Promise((resolve) => setTimeout(resolve, FIRST_RETRY_MS * (retry + 1)));
          continue;
        }
        if (gone !== undefined || !isConnectionFailure(err)) {
          this.logger.error(`Run ${this.runId}: database error while ${what}; stopping it here, it resumes when its lease expires: ${describeDatabaseError(err)}`);
          this.stop.finish({ kind: 'lost', reason: `database error while ${what}` });
          throw new LeaseLostError(`Run ${this.runId} stopped: database error while ${what}`, { cause: err });
        }
        if (retry === 0) {
          this.logger.warn(`Run ${this.runId}: database unreachable while ${what} (${describeDatabaseError(err)}); retrying while this worker holds the run`);
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(FIRST_RETRY_MS * 2 ** retry, MAX_RETRY_MS)));
        if ((gone = this.stop.notHeld()) !== undefined) {
          this.logger.warn(`Run ${this.runId}: gave up ${what} (${gone}); it resumes where it is claimed next`);
          this.stop.finish({ kind: 'lost', reason: gone });
          throw new LeaseLostError(`Run ${this.runId} stopped: database unreachable while ${what}`, { cause: err });
        }
      }
    }
  }

  /** The database refused the values of a write: fail the run with an error that says so, instead of trying forever. */
  private failUnstorable(what: string, err: unknown): never {
    const error = new PermanentError(`The database refused to store ${what}: ${describeDatabaseError(err)}`, {
      kind: ErrorKind.ValidationFailed,
      code: 'KAGZI_UNSTORABLE',
    });
    this.logger.warn(`Run ${this.runId}: ${error.message}; failing the run`);
    this.stop.finish({ kind: 'fatal', error });
    throw error;
  }
}
