import { WakeableDelay } from './wakeable-delay';

/** What the loop claims with, how it launches a run and how it learns about time: passed in, so it only loops. */
export interface ClaimLoopDeps<R> {
  pollIntervalMs: number;
  /** Execution slots in all (the worker's concurrency). */
  capacity: number;
  /** How long to gather free slots at most (default CLAIM_GATHER_MS). */
  gatherMs?: number;
  /** Free execution slots now. */
  free(): number;
  /** False while claimed runs could not be kept (leases not renewable): the loop then only waits. */
  mayClaim(): boolean;
  claim(max: number): Promise<R[]>;
  launch(run: R): void;
  /** Milliseconds until the next served run is due (negative: overdue), or undefined when none waits. */
  nextDueInMs(): Promise<number | undefined>;
  /** The loop looked for work and could have taken it (or every slot was busy): the health check's "deaf worker" test. */
  polled(): void;
  /** A claim failed; the loop tries again at the next poll. */
  claimFailed(err: unknown): void;
}

/** How long a busy worker waits for more slots to free before claiming fewer than a quarter of them. */
export const CLAIM_GATHER_MS = 5;

/**
 * Claims due runs, at most as many as there are free slots, while started. NOTIFY (`wake()`) ends
 * its wait at once; otherwise it waits until the next due time or the poll interval, whichever is
 * sooner. States: created → running → stopped.
 * A busy worker claims in groups: while runs are in flight (their slots free soon) and fewer than a
 * quarter of the slots are free, it waits up to CLAIM_GATHER_MS for more, so a saturated worker sends
 * one claim per few runs rather than one per run. An idle worker claims at once.
 */
export class ClaimLoop<R> {
  private readonly delay = new WakeableDelay();
  private readonly wakeTimers = new Set<NodeJS.Timeout>();
  private running = false;
  private done: Promise<void> = Promise.resolve();
  /** While gathering free slots: when to claim anyway. */
  private gatherUntil?: number;

  constructor(private readonly deps: ClaimLoopDeps<R>) {}

  start(): void {
    this.running = true;
    this.done = this.loop();
  }

  /** Stops claiming; resolves once the claim under way (if any) has launched its runs. */
  async stop(): Promise<void> {
    this.running = false;
    this.delay.wake();
    for (const t of this.wakeTimers) clearTimeout(t);
    this.wakeTimers.clear();
    await this.done;
  }

  /** Work may be due (a NOTIFY, a freed slot): claim now. A wake during a claim is remembered. */
  wake(): void {
    this.delay.wake();
  }

  /** A run of this worker is due at `when`: wake then rather than at the next poll. */
  wakeAt(when: Date): void {
    const inMs = when.getTime() - Date.now();
    // Already due (a zero back-off): a timer would still cost a millisecond or more.
    if (inMs <= 0) return this.wake();
    // Beyond a poll interval the loop asks for the next due time anyway: no timer needed.
    if (inMs > this.deps.pollIntervalMs || !this.running) return;
    const timer = setTimeout(() => {
      this.wakeTimers.delete(timer);
      this.wake();
    }, inMs);
    timer.unref();
    this.wakeTimers.add(timer);
  }

  /** Milliseconds to wait for more free slots before claiming; 0: claim now. */
  private gatherFor(free: number): number {
    const { capacity } = this.deps;
    if (free <= 0 || free >= Math.ceil(capacity / 4) || free === capacity) {
      this.gatherUntil = undefined;
      return 0;
    }
    const now = Date.now();
    this.gatherUntil ??= now + (this.deps.gatherMs ?? CLAIM_GATHER_MS);
    if (now < this.gatherUntil) return this.gatherUntil - now;
    this.gatherUntil = undefined;
    return 0;
  }

  private async loop(): Promise<void> {
    const deps = this.deps;
    while (this.running) {
      const free = deps.free();
      let idleMs = deps.pollIntervalMs;
      // Wakes that arrived before this point are answered by this iteration's claim.
      this.delay.clearPending();
      if (free <= 0) deps.polled();
      const wait = this.gatherFor(free);
      if (wait > 0) {
        await this.delay.wait(wait);
        continue;
      }
      if (free > 0 && deps.mayClaim()) {
        try {
          const claimed = await deps.claim(free);
          deps.polled();
          for (const run of claimed) deps.launch(run);
          if (claimed.length === free) continue;
          // Only when the claim came back empty is it worth asking when the next run is due: a run
          // that was just claimed does not need this worker to poll for it.
          if (claimed.length === 0 && !this.delay.pending) {
            const dueIn = await deps.nextDueInMs();
            if (dueIn !== undefined) idleMs = Math.min(idleMs, Math.max(0, Math.ceil(dueIn)));
          }
        } catch (err: unknown) {
          if (!this.running) break;
          deps.claimFailed(err);
        }
      }
      if (!this.running) break;
      await this.delay.wait(idleMs);
    }
  }
}
