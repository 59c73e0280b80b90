/** The rule that ties heartbeats to leases (lease >= 2.5 x heartbeat for the validator). Pure arithmetic. */
import { leaseDeadlineMs, leaseRenewable, survivesFailedHeartbeat } from './lease-timing';

describe('lease timing', () => {
  it('a heartbeat renews in time while half an interval is left for it to land', () => {
    // heartbeat 10 s, lease 30 s: renewable until 25 s after the last renewal was sent
    expect(leaseRenewable(25_000, 10_000, 30_000)).toBe(true);
    expect(leaseRenewable(25_001, 10_000, 30_000)).toBe(false);
    expect(leaseRenewable(0, 10_000, 30_000)).toBe(true);
  });

  it('runs are stopped a fifth of an interval before the lease can expire', () => {
    expect(leaseDeadlineMs(10_000, 30_000)).toBe(28_000);
    expect(leaseDeadlineMs(500, 2_000)).toBe(1_900);
  });

  it('the validator asks for lease >= 2.5 x heartbeat: a lease outlives one failed heartbeat', () => {
    expect(survivesFailedHeartbeat(10_000, 25_000)).toBe(true);
    expect(survivesFailedHeartbeat(10_000, 24_999)).toBe(false);
    expect(survivesFailedHeartbeat(500, 2_000)).toBe(true); // the tests' fast worker
    expect(survivesFailedHeartbeat(1_000, 2_000)).toBe(false);
  });
});
