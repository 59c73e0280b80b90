import { CLIENT_POLL_INTERVAL_MS } from '../common/limits';
import { Duration, toMilliseconds } from '../common/duration';
import { nameProblem } from '../common/names';
import { ResolvedKagziOptions } from '../common/resolve-options';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import { RunNotFoundError } from '../errors/run-not-found.error';
import { ShuttingDownError } from '../errors/shutting-down.error';
import { PayloadSerializer } from '../execution/payload.serializer';
import { TERMINAL_STATUSES } from '../interfaces/run.interface';
import { ConnectionRetry } from '../persistence/connection-retry';
import { EventStore } from '../persistence/event.store';
import { NotificationListener } from '../persistence/notification.listener';
import { WakeableDelay } from '../worker/wakeable-delay';
import { assertRunId } from './client-input';

/**
 * `client.getEvent`: the latest value a run set for a key, or with a timeout, the first one set before
 * it passes. A waiting read is woken by the `event` notification of its run and key, and re-reads at the
 * poll interval too, so a lost notification only delays it.
 */
export class EventReader {
  private readonly retry: ConnectionRetry;
  private readonly pollIntervalMs: number;
  /** Waiting reads by run id and key. */
  private readonly waiting = new Map<string, Set<WakeableDelay>>();
  private closed = false;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly events: EventStore,
    notifications: NotificationListener,
    private readonly serializer: PayloadSerializer,
    options: ResolvedKagziOptions,
  ) {
    this.retry = new ConnectionRetry(options.reconnectTimeoutMs);
    this.pollIntervalMs = options.worker ? options.worker.pollIntervalMs : CLIENT_POLL_INTERVAL_MS;
    this.unsubscribe = notifications.onEvent((runId, key) => this.waiting.get(topicOf(runId, key))?.forEach((delay) => delay.wake()));
  }

  async read<T>(runId: string, key: string, options: { timeout?: Duration } = {}): Promise<T | undefined> {
    assertRunId(runId);
    const problem = nameProblem(key);
    if (problem) throw new InvalidOptionsError(`getEvent(): the event key ${problem}`);
    if (typeof options !== 'object' || options === null) throw new InvalidOptionsError(`getEvent(): options must be an object; got ${options === null ? 'null' : typeof options}`);
    const deadline = Date.now() + (options.timeout === undefined ? 0 : toMilliseconds(options.timeout, 'getEvent() options.timeout'));
    const topic = topicOf(runId, key);
    const wake = new WakeableDelay();
    // Listening before the first read: a value set after it wakes this read.
    const set = this.waiting.get(topic) ?? new Set<WakeableDelay>();
    set.add(wake);
    this.waiting.set(topic, set);
    try {
      for (;;) {
        if (this.closed) throw new ShuttingDownError(`Kagzi is shutting down; read event "${key}" of run ${runId} later`);
        wake.clearPending();
        const found = await this.retry.run(`getEvent(${runId}, '${key}')`, () => this.events.get(runId, key));
        if (!found.known) throw new RunNotFoundError(`No workflow run has id ${runId}`);
        if (found.set) return this.serializer.decode<T>(found.value);
        const left = deadline - Date.now();
        // A run that has ended sets nothing more: no need to wait out the timeout.
        if (left <= 0 || TERMINAL_STATUSES.includes(found.status)) return undefined;
        await wake.wait(Math.min(left, this.pollIntervalMs));
      }
    } finally {
      set.delete(wake);
      if (set.size === 0 && this.waiting.get(topic) === set) this.waiting.delete(topic);
    }
  }

  onApplicationShutdown(): void {
    this.closed = true;
    this.unsubscribe();
    for (const set of this.waiting.values()) set.forEach((delay) => delay.wake());
  }
}

function topicOf(runId: string, key: string): string {
  return `${runId}\u0000${key}`;
}
