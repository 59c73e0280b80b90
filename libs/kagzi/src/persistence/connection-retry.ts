import { Logger } from '@nestjs/common';
import { DatabaseUnavailableError } from '../errors/database-unavailable.error';
import { isConnectionFailure } from './connection-failure';

/** Back-off between attempts of a client call: 100 ms, doubling, at most 2 s, each with jitter. */
const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 2_000;

/**
 * Retries client calls through a database outage (a restart, a failover, a crash): connection failures
 * are retried with bounded exponential back-off for up to `reconnectTimeoutMs`, then the call fails with
 * DatabaseUnavailableError. Any other error is the call's answer and is thrown at once.
 */
export class ConnectionRetry {
  constructor(
    private readonly reconnectTimeoutMs: number,
    private readonly sleep: (ms: number) => Promise<void> = delay,
  ) {}

  /**
   * Runs `work` until it succeeds or fails with something other than a connection failure. `attempt`
   * starts at 1; a retried write can use it to look for what an attempt whose reply was lost did.
   */
  async run<T>(what: string, work: (attempt: number) => Promise<T>): Promise<T> {
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        return await work(attempt);
      } catch (err: unknown) {
        if (!isConnectionFailure(err)) throw err;
        const elapsed = Date.now() - started;
        const remaining = this.reconnectTimeoutMs - elapsed;
        if (remaining <= 0) {
          throw new DatabaseUnavailableError(
            `${what}: the database was unreachable for ${elapsed} ms (${attempt} attempt${attempt === 1 ? '' : 's'}, reconnectTimeout ${this.reconnectTimeoutMs} ms): ` +
              `${messageOf(err)}`,
            { cause: err },
          );
        }
        // Jitter spreads out the many calls an outage fails at once, so they do not reconnect in lockstep.
        const backoff = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** (attempt - 1));
        await this.sleep(Math.min(remaining, backoff * (0.5 + Math.random() / 2)));
      }
    }
  }
}

/**
 * Boot: `connect` is tried `retryAttempts + 1` times, `retryDelayMs` apart, while it fails with a
 * connection failure (as TypeOrmModule does), each failure logged; then DatabaseUnavailableError. Other
 * errors (a wrong password, a missing database, a failed migration) fail the boot at once.
 */
export async function connectWithRetry<T>(
  connect: () => Promise<T>,
  options: { retryAttempts: number; retryDelayMs: number; logger: Logger; sleep?: (ms: number) => Promise<void> },
): Promise<T> {
  const attempts = options.retryAttempts + 1;
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await connect();
    } catch (err: unknown) {
      if (!isConnectionFailure(err)) throw err;
      if (attempt >= attempts) {
        throw new DatabaseUnavailableError(
          `Unable to connect to the database after ${attempts} attempt${attempts === 1 ? '' : 's'} in ${Math.round((Date.now() - started) / 1000)} s: ${messageOf(err)}. ` +
            'Check that PostgreSQL is running and reachable at the configured URL, or raise retryAttempts / retryDelay to wait longer',
          { cause: err },
        );
      }
      options.logger.error(`Unable to connect to the database (attempt ${attempt}/${attempts}), retrying in ${formatDelay(options.retryDelayMs)}: ${messageOf(err)}`);
      await (options.sleep ?? delay)(options.retryDelayMs);
    }
  }
}

function messageOf(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  const text = err.message || (err instanceof AggregateError ? err.errors.map(messageOf).join('; ') : err.name);
  return typeof code === 'string' && !text.includes(code) ? `${text} (${code})` : text;
}

function formatDelay(ms: number): string {
  return ms >= 1000 && ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
