import { RunFibers } from './run-fibers';

/** Lets setImmediate callbacks (the deferred idle check) run. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('RunFibers', () => {
  let parkedAt: Date[];
  let fibers: RunFibers;

  beforeEach(() => {
    parkedAt = [];
    fibers = new RunFibers((due) => parkedAt.push(due));
  });

  afterEach(() => fibers.dispose());

  it('the only strand may park the run itself, unless a step executes', () => {
    expect(fibers.canPark()).toBe(true);
    const done = fibers.stepStarted();
    expect(fibers.canPark()).toBe(false);
    expect(fibers.canPark(1)).toBe(true); // the executing step is the caller's own (a failed attempt recording its retry)
    done();
    done(); // idempotent
    expect(fibers.canPark()).toBe(true);
  });

  it('parks (once, at the earliest wake-up) when every strand of a group is blocked and nothing executes', async () => {
    fibers.fork(2);
    const early = new Date(Date.now() + 60_000);
    const late = new Date(Date.now() + 120_000);
    void fibers.block(late);
    void fibers.block(early);
    expect(parkedAt).toEqual([]); // decided after the turn, not at once
    await turn();
    expect(parkedAt).toEqual([early]);
    expect(fibers.parking).toBe(true);
  });

  it('does not park while a step executes beside a blocked strand, and parks once it ends', async () => {
    const executing = fibers.stepStarted();
    void fibers.block(new Date(Date.now() + 60_000)); // Promise.all([ctx.sleep(), this.charge()])
    await turn();
    expect(parkedAt).toEqual([]);
    executing();
    await turn();
    expect(parkedAt).toHaveLength(1);
  });

  it('a step started in the same turn as the last block keeps the run', async () => {
    void fibers.block(new Date(Date.now() + 60_000));
    const executing = fibers.stepStarted(); // started before the deferred check runs
    await turn();
    expect(parkedAt).toEqual([]);
    executing();
  });

  it('a blocked strand whose time comes first continues in process', async () => {
    fibers.fork(2);
    const soon = fibers.block(new Date(Date.now() + 20));
    const executing = fibers.stepStarted(); // the other branch is busy
    await soon;
    expect(parkedAt).toEqual([]);
    expect(fibers.canPark()).toBe(false);
    executing();
  });

  it('the end that settles a group lets its caller run again before the branch counts as ended', async () => {
    const group = fibers.fork(2);
    group.branchEnded(true); // fail-fast: the group settled with one branch still running
    expect(fibers.canPark()).toBe(false); // caller + the running branch
    group.branchEnded();
    expect(fibers.canPark()).toBe(true);
    await turn();
    expect(parkedAt).toEqual([]);
  });

  it('once parking starts, blocked strands are never released', async () => {
    fibers.fork(2);
    let released = false;
    void fibers.block(new Date(Date.now() + 10)).then(() => (released = true));
    fibers.startParking();
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(released).toBe(false);
  });

  it('a blocked strand whose branch is aborted rejects with a Cancelled StepError', async () => {
    const controller = new AbortController();
    fibers.fork(2);
    const waiting = fibers.block(new Date(Date.now() + 60_000), controller.signal);
    controller.abort(new Error('the other branch failed'));
    await expect(waiting).rejects.toMatchObject({ kind: 'CANCELLED' });
  });
});
