/**
 * The one rule that ties heartbeats to leases. A heartbeat sent `sinceRenewalMs` after the last one
 * that renewed the leases must land before they expire, with half an interval of slack for timer drift
 * and statement latency. The worker stops its runs (and pauses claims) once this no longer holds; the
 * options validator requires it to hold even after one failed heartbeat (`sinceRenewalMs` = 2 intervals).
 */
export function leaseRenewable(sinceRenewalMs: number, heartbeatIntervalMs: number, leaseDurationMs: number): boolean {
  return sinceRenewalMs + heartbeatIntervalMs / 2 <= leaseDurationMs;
}

/** The validator's form of {@link leaseRenewable}: leases outlive one failed heartbeat (lease >= 2.5 x interval). */
export function survivesFailedHeartbeat(heartbeatIntervalMs: number, leaseDurationMs: number): boolean {
  return leaseRenewable(2 * heartbeatIntervalMs, heartbeatIntervalMs, leaseDurationMs);
}
