/**
 * The time `ctx.now()` records. In production it is the wall clock; the testing helpers move it ahead
 * (`kt.clock.advance`) together with every stored due time, so code under test sees the time it skipped to.
 * Due times themselves are never computed from it: they stay in the database's clock, and skipping time
 * moves them instead (see `testing/virtual-clock.ts`).
 */
export const workflowClock = {
  /** Added to the wall clock; 0 outside tests. */
  offsetMs: 0,
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  },
};
