import { Logger } from '@nestjs/common';
import { leaseDeadlineMs, leaseRenewable } from '../common/lease-timing';
import { Lease } from '../persistence/store.types';

export interface LeaseKeeperDeps {
  workerName: string;
  heartbeatIntervalMs: number;
  leaseDurationMs: number;
  logger: Logger;
  /** The leases this worker holds now. */
  held(): Lease[];
  /**
   * One heartbeat statement: renews `leases`, returns the run ids still at their epoch (with a cancel
   * to deliver, or not; `released` when this worker's own park or end committed meanwhile).
   */
  beat(leases: Lease[]): Promise<Map<string, { cancelPending: boolean; released: boolean }>>;
  /** This worker can no longer keep the run under `lease`: stop it here (unless it holds it under a newer lease). */
  lose(lease: Lease, reason: string): void;
  /** A cancel of the run under `lease` waits to be delivered (its notification was missed). */
  cancel(lease: Lease): void;
  /** After every heartbeat (pruning the registry). */
  afterBeat(): Promise<void>;
}

/**
 * Keeps the leases of the runs this worker holds: a heartbeat every interval (and a quarter interval
 * after a failed one), runs whose lease was taken are stopped, and all runs are stopped just before
 * their leases could expire when no heartbeat renewed them (see common/lease-timing.ts).
 */
export class LeaseKeeper {
  private interval?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
  private deadlineTimer?: NodeJS.Timeout;
  private inFlight = false;
  /** Runs the last beat found released by this worker yet still held here (`runId@epoch`). */
  private released = new Set<string>();
  /** When the last heartbeat that renewed the leases was sent (leases are counted from the statement). */
  private renewedAt = Date.now();
  /** The last successful heartbeat (registration counts as one). */
  lastBeatAt?: Date;

  constructor(private readonly deps: LeaseKeeperDeps) {}

  /** Registration just renewed nothing but proves the database answers: leases count from now. */
  start(): void {
    this.renewedAt = Date.now();
    this.lastBeatAt = new Date();
    this.interval = setInterval(() => void this.beat(), this.deps.heartbeatIntervalMs);
    this.interval.unref();
    this.armDeadline();
  }

  stop(): void {
    clearInterval(this.interval);
    clearTimeout(this.retryTimer);
    clearTimeout(this.deadlineTimer);
  }

  /** Whether a heartbeat sent now can still renew the leases in time: claims pause while it cannot. */
  renewable(): boolean {
    return leaseRenewable(Date.now() - this.renewedAt, this.deps.heartbeatIntervalMs, this.deps.leaseDurationMs);
  }

  private async beat(): Promise<void> {
    const deps = this.deps;
    if (this.inFlight) return; // a hanging heartbeat is not stacked with more
    this.inFlight = true;
    const leases = deps.held();
    const sentAt = Date.now();
    try {
      const owned = await deps.beat(leases);
      this.renewedAt = sentAt;
      this.armDeadline();
      this.lastBeatAt = new Date();
      const released = new Set<string>();
      for (const lease of leases) {
        const held = owned.get(lease.runId);
        const id = `${lease.runId}@${lease.epoch}`;
        if (!held) deps.lose(lease, 'its lease could not be renewed (claimed by another worker, or the run is gone)');
        // Released: this worker's own park or end committed during the beat, and its reply settles the
        // run here. Still held a beat later, it never will: stopped then.
        else if (held.released && this.released.has(id)) deps.lose(lease, 'it was released (parked or ended) but its execution here did not stop');
        else if (held.released) released.add(id);
        else if (held.cancelPending) deps.cancel(lease);
      }
      this.released = released;
    } catch (err: unknown) {
      // A blip must not cost the leases: try again a quarter interval later, not only at the next tick.
      const retryMs = Math.ceil(deps.heartbeatIntervalMs / 4);
      deps.logger.warn(`Worker ${deps.workerName}: heartbeat failed (${String(err)}); retrying in ${retryMs} ms`);
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => void this.beat(), retryMs);
      this.retryTimer.unref();
    } finally {
      this.inFlight = false;
    }
    await deps.afterBeat();
  }

  /** If no heartbeat renews the leases by the deadline (heartbeats failing or hanging), stop the runs here rather than race a new owner. */
  private armDeadline(): void {
    clearTimeout(this.deadlineTimer);
    const deadline = this.renewedAt + leaseDeadlineMs(this.deps.heartbeatIntervalMs, this.deps.leaseDurationMs);
    this.deadlineTimer = setTimeout(() => {
      for (const lease of this.deps.held()) this.deps.lose(lease, 'its lease could not be renewed before expiry');
    }, Math.max(0, deadline - Date.now()));
    this.deadlineTimer.unref();
  }
}
