/** One claimed slot in this many is reserved for a run never claimed before. */
export const NEW_RUN_EVERY = 4;

/**
 * How one worker's claims are shared between resumed runs (claimed before) and new runs. Resumed runs
 * go first (see claim-runs.sql.ts), but every NEW_RUN_EVERY-th slot the worker claims is offered first
 * to the oldest due new run, so a steady supply of resumed runs cannot starve new ones: the oldest
 * due new run is claimed within this worker's next NEW_RUN_EVERY slots (sooner if another worker takes
 * it), and resumed runs keep at least 3 slots in 4. The count runs across claims because a saturated
 * worker claims one slot at a time; a share of each claim would round to nothing. A reserved slot
 * that finds no new run goes to a resumed one, and the next slot is reserved again.
 */
export class ClaimShare {
  /** Slots claimed since the last reserved one: 0 … NEW_RUN_EVERY − 1. */
  private sinceReserved = 0;

  /** How many of the next `limit` slots go first to new runs. */
  reserved(limit: number): number {
    return Math.floor((this.sinceReserved + limit) / NEW_RUN_EVERY);
  }

  /** After a claim that reserved `reserved` slots and took `newRuns` new runs among `claimed` runs. */
  record(claimed: number, reserved: number, newRuns: number): void {
    if (newRuns < reserved) this.sinceReserved = NEW_RUN_EVERY - 1;
    else this.sinceReserved = (this.sinceReserved + claimed) % NEW_RUN_EVERY;
  }
}
