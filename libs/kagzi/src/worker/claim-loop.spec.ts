import { CLAIM_GATHER_MS, ClaimLoop, ClaimLoopDeps } from './claim-loop';

/** A loop over fake slots: `busy` runs in flight of `capacity`; every claim is recorded with its size. */
function harness(capacity: number, busy: number, gatherMs?: number) {
  const claims: number[] = [];
  const state = { busy };
  const deps: ClaimLoopDeps<number> = {
    pollIntervalMs: 60_000,
    capacity,
    gatherMs,
    free: () => capacity - state.busy,
    mayClaim: () => true,
    claim: async (max) => {
      claims.push(max);
      return [];
    },
    launch: () => undefined,
    nextDueInMs: async () => undefined,
    polled: () => undefined,
    claimFailed: (err) => {
      throw err;
    },
  };
  return { loop: new ClaimLoop(deps), claims, state };
}

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('ClaimLoop', () => {
  it('claims at once when idle', async () => {
    const { loop, claims } = harness(10, 0);
    loop.start();
    await tick(1);
    await loop.stop();
    expect(claims).toEqual([10]);
  });

  it('when busy with one slot free, waits for more slots before claiming, then claims them together', async () => {
    const { loop, claims, state } = harness(10, 9, 60_000);
    loop.start();
    await tick(5);
    expect(claims).toEqual([]); // one slot of ten: gathering
    state.busy = 7; // two more runs ended
    loop.wake();
    await tick(5);
    expect(claims).toEqual([3]);
    await loop.stop();
  });

  it('claims the slots it has once the gather window has passed', async () => {
    const { loop, claims } = harness(10, 9);
    loop.start();
    await tick(CLAIM_GATHER_MS + 50);
    await loop.stop();
    expect(claims[0]).toBe(1);
  });

  it('never gathers with a small capacity (a quarter rounds up to one slot)', async () => {
    const { loop, claims } = harness(3, 2);
    loop.start();
    await tick(1);
    await loop.stop();
    expect(claims).toEqual([1]);
  });
});
