/**
 * The one rule that ties heartbeats to leases. Leases run from when the last heartbeat that renewed
 * them was sent. A heartbeat sent `sinceRenewalMs` after that renews them in time iff
 * {@link leaseRenewable}: half an interval is left for it to land (timer drift, a new connection
 * after a blip). The worker pauses claims once that no longer holds and stops its runs just before
 * the leases can expire ({@link leaseDeadlineMs}); the options validator requires the rule to hold
 * even after one failed heartbeat ({@link survivesFailedHeartbeat}).
 */
export function leaseRenewable(sinceRenewalMs: number, heartbeatIntervalMs: number, leaseDurationMs: number): boolean {
  return sinceRenewalMs + heartbeatIntervalMs / 2 <= leaseDurationMs;
}

/** How long after the last renewal was sent the worker stops the runs it holds: a fifth of an interval before any lease can expire. */
export function leaseDeadlineMs(heartbeatIntervalMs: number, leaseDurationMs: number): number {
  return leaseDurationMs - heartbeatIntervalMs / 5;
}

/** The validator's form of {@link leaseRenewable}: leases outlive one failed heartbeat (lease >= 2.5 x interval). */
export function survivesFailedHeartbeat(heartbeatIntervalMs: number, leaseDurationMs: number): boolean {
  return leaseRenewable(2 * heartbeatIntervalMs, heartbeatIntervalMs, leaseDurationMs);
}
