import { Logger } from '@nestjs/common';
import { Lease } from '../persistence/store.types';
import { LeaseKeeper } from './lease-keeper';

type Beat = Map<string, { cancelPending: boolean; released: boolean }>;

/** A keeper whose n-th heartbeat (from 0) replies `reply(n)`, over the leases in `held`; records losses and cancels. */
function harness(held: Lease[], reply: (n: number) => Beat) {
  const lost: string[] = [];
  const cancelled: string[] = [];
  let beats = 0;
  const keeper = new LeaseKeeper({
    workerName: 'w',
    heartbeatIntervalMs: 10,
    leaseDurationMs: 60_000,
    logger: new Logger('test'),
    held: () => [...held],
    beat: async () => reply(beats++),
    lose: (lease, reason) => lost.push(`${lease.runId}: ${reason}`),
    cancel: (lease) => cancelled.push(lease.runId),
    afterBeat: async () => undefined,
  });
  /** Runs the keeper until `n` heartbeats have been answered. */
  const beatsDone = async (n: number): Promise<void> => {
    keeper.start();
    for (let i = 0; i < 400 && beats < n; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    await new Promise((resolve) => setImmediate(resolve));
    keeper.stop();
  };
  return { lost, cancelled, beatsDone };
}

const lease = (runId: string): Lease => ({ runId, owner: 'w', epoch: 2 });
const reply = (entries: [string, { cancelPending: boolean; released: boolean }][]): Beat => new Map(entries);
const OWNED = { cancelPending: false, released: false };
const RELEASED = { cancelPending: false, released: true };

describe('LeaseKeeper', () => {
  it('stops a run missing from the beat (claimed elsewhere or gone), not one this worker released during it', async () => {
    const h = harness([lease('owned'), lease('parked'), lease('taken')], () =>
      reply([['owned', OWNED], ['parked', { cancelPending: true, released: true }]]),
    );
    await h.beatsDone(1);
    expect(h.lost).toEqual(['taken: its lease could not be renewed (claimed by another worker, or the run is gone)']);
    expect(h.cancelled).toEqual([]); // a released run gets no cancel delivery
  });

  it('never stops a run released in one beat and no longer held at the next', async () => {
    const held = [lease('parked')];
    const h = harness(held, (n) => {
      if (n > 0) return reply([]);
      held.length = 0; // the park's reply arrives just after this beat's: the worker lets the run go
      return reply([['parked', RELEASED]]);
    });
    await h.beatsDone(3);
    expect(h.lost).toEqual([]);
  });

  it('stops a run still held a beat after it was found released', async () => {
    const h = harness([lease('stuck')], () => reply([['stuck', RELEASED]]));
    await h.beatsDone(2);
    expect(h.lost[0]).toBe('stuck: it was released (parked or ended) but its execution here did not stop');
  });

  it('delivers a pending cancel of a run it still owns', async () => {
    const h = harness([lease('owned')], () => reply([['owned', { cancelPending: true, released: false }]]));
    await h.beatsDone(1);
    expect(h.lost).toEqual([]);
    expect(h.cancelled).toEqual(['owned']);
  });
});
