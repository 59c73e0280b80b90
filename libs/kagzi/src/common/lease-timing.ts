/**
 * The one rule that ties heartbeats to leases. Leases run from when the last heartbeat that renewed
 * them was sent. The worker stops its runs a quarter interval before that lease can expire
 * ({@link leaseDeadlineMs}), and a heartbeat must be sent a quarter interval before that deadline to
 * count: one sent `sinceRenewalMs` after the last renewal can still renew in time iff
 * {@link leaseRenewable}. The worker pauses claims once it cannot; the options validator requires it
 * to hold even after one failed heartbeat ({@link survivesFailedHeartbeat}).
 */
export function leaseRenewable(sinceRenewalMs: number, heartbeatIntervalMs: number, leaseDurationMs: number): boolean {
  return sinceRenewalMs + heartbeatIntervalMs / 2 <= leaseDurationMs;
}

/** How long after the last renewal was sent the worker stops the runs it holds: before any lease can expire. */
export function leaseDeadlineMs(heartbeatIntervalMs: number, leaseDurationMs: number): number {
  return leaseDurationMs - heartbeatIntervalMs / 4;
}

/** The validator's form of {@link leaseRenewable}: leases outlive one failed heartbeat (lease >= 2.5 x interval). */
export function survivesFailedHeartbeat(heartbeatIntervalMs: number, leaseDurationMs: number): boolean {
  return leaseRenewable(2 * heartbeatIntervalMs, heartbeatIntervalMs, leaseDurationMs);
}
