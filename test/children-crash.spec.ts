/**
 * A parent that dies between starting its child and recording it (SPEC §5.1, execution/child-workflows.ts):
 * `ctx.startChild` inserts the child run (committed, idempotency key `<parentRunId>/<stepKey>`), then records
 * the parent's CHILD step in a second statement. A process that dies between the two leaves a child row and
 * no record; the replay of the parent must find that same child, not insert a second one.
 *
 * The gap is produced for real: the parent runs in a spawned worker process (test/fixtures/gap-worker-process.ts,
 * CRASH_AT_CHILD_RECORD=1) that SIGKILLs itself when the engine is about to record a CHILD step. The state at
 * the kill is checked in the database (one child row, no CHILD record), then a worker in the jest process takes
 * the parent over once its lease expired and finishes both runs. Side effects are counted in
 * public.gap_effects, written at the start of every workflow entry and step body in either process.
 */
import { join } from 'node:path';
import { WorkflowClient } from '@kagzi/nestjs';
import { createTestDatabase, TestDatabase } from './support/database';
import { FixtureProcess } from './support/fixture-process';
import { bootKagzi, closeAllApps, KagziTestApp, sql } from './support/app';
import { GAP_OPTIONS, GAP_WORKFLOWS, GapChildOutput, GapEffects } from './fixtures/gap-workflows';

const FIXTURE = join(__dirname, 'fixtures', 'gap-worker-process.ts');
const WAIT_MS = 20_000;


/** A spawned gap worker (see test/support/fixture-process.ts). */
class GapProcess extends FixtureProcess {
  constructor(label: string, env: Record<string, string>) {
    super(label, FIXTURE, env, WAIT_MS);
  }
}

let db: TestDatabase;
let client: WorkflowClient;
const processes = new Set<GapProcess>();

beforeAll(async () => {
  db = await createTestDatabase('children_crash');
  // A client-only app runs the migrations; then the side-effect table both processes write to.
  client = (await bootKagzi({ url: db.url, worker: false })).client;
  await sql(
    db.url,
    `create table public.gap_effects (run_id uuid not null, what text not null, worker text not null, pid int not null,
                                      at timestamptz not null default clock_timestamp())`,
  );
});

afterEach(async () => {
  await Promise.all([...processes].map((p) => p.forceStop()));
  processes.clear();
  // Workers of a failed test must not serve the next test's runs: only the client app stays open.
  await closeAllApps();
  client = (await bootKagzi({ url: db.url, worker: false })).client;
  await sql(
    db.url,
    `update kagzi.workflow_runs set status = 'CANCELLED', due_at = null, lease_owner = null, completed_at = now(), updated_at = now()
     where status in ('PENDING', 'RUNNING', 'SLEEPING', 'WAITING')`,
  );
});

afterAll(async () => {
  await Promise.all([...processes].map((p) => p.forceStop()));
  await closeAllApps();
  await db?.drop();
});

function spawnWorker(label: string, env: Record<string, string> = {}): GapProcess {
  const p = new GapProcess(label, { DB_URL: db.url, ...env });
  processes.add(p);
  return p;
}

/** A worker in the jest process serving the same workflows (lease 2 s, claims within 200 ms). */
function bootSurvivor(): Promise<KagziTestApp> {
  return bootKagzi({
    url: db.url,
    worker: { name: 'survivor', concurrency: 4 },
    providers: [{ provide: GAP_OPTIONS, useValue: { url: db.url, worker: 'survivor' } }, GapEffects, ...GAP_WORKFLOWS],
  });
}

const childrenOf = (parentRunId: string): Promise<Array<{ id: string; status: string; output: unknown }>> =>
  sql(db.url, `select id, status, output -> 'json' as output from kagzi.workflow_runs where parent_run_id = $1 order by created_at`, [
    parentRunId,
  ]);

const childSteps = (parentRunId: string): Promise<Array<{ step_key: string; status: string; output: unknown }>> =>
  sql(db.url, `select step_key, status, output -> 'json' as output from kagzi.step_runs where workflow_run_id = $1 and kind = 'CHILD' order by id`, [
    parentRunId,
  ]);

/** Side effects of a run: what happened, in which process (by worker name), in order. */
async function effectsOf(runId: string): Promise<Array<{ what: string; worker: string }>> {
  return sql(db.url, 'select what, worker from public.gap_effects where run_id = $1 order by at', [runId]);
}

/** Which process entered the parent workflow function, in order (its first execution, then each replay). */
const parentEntries = async (runId: string): Promise<string[]> => (await effectsOf(runId)).filter((e) => e.what === 'parent-run').map((e) => e.worker);

/** Which process started the child's step body, once per execution (an attempt killed midway counts too). */
const bodiesOf = async (runId: string): Promise<string[]> => (await effectsOf(runId)).filter((e) => e.what === 'child-body').map((e) => e.worker);

const runRow = async (runId: string): Promise<{ status: string; lease_owner: string | null } | undefined> =>
  (await sql<{ status: string; lease_owner: string | null }>(db.url, 'select status, lease_owner from kagzi.workflow_runs where id = $1', [runId]))[0];

/**
 * Starts `workflow` in a worker process that dies in the gap, and checks the database holds exactly the gap:
 * the parent RUNNING (its lease held by the dead process), one child row, no CHILD record. Returns the parent's run id and the child run id the dead process had inserted.
 */
async function crashInTheGap(workflow: string, item: string): Promise<{ parentRunId: string; childRunId: string }> {
  const crasher = spawnWorker(`crasher-${item}`, { CRASH_AT_CHILD_RECORD: '1' });
  await crasher.waitFor('ready', (e) => e.event === 'ready');
  const handle = await client.start<{ item: string }, unknown>(workflow, { item });
  const gap = await crasher.waitFor('the CHILD record (the gap)', (e) => e.event === 'gap' && e.runId === handle.runId);
  expect(await crasher.waitForExit()).toEqual({ code: null, signal: 'SIGKILL' });

  const children = await childrenOf(handle.runId);
  expect(children).toHaveLength(1);
  const [child] = children;
  // the record the dead process was about to write named this very child
  expect(JSON.parse(String(gap.childOutput))).toEqual({ json: child.id });
  expect(await childSteps(handle.runId)).toEqual([]);
  expect(await runRow(handle.runId)).toEqual({ status: 'RUNNING', lease_owner: `crasher-${item}` });
  expect(await effectsOf(handle.runId)).toEqual([{ what: 'parent-run', worker: `crasher-${item}` }]);
  return { parentRunId: handle.runId, childRunId: child.id };
}

describe('a parent killed between inserting its child and recording it', () => {
  // Breakage caught: a replay that does not find the child inserted before the crash (a child idempotency key
  // that is not derived from the parent run and step key, a lookup by key that is missing or wrong, an insert
  // that ignores the key) starts a second child: two child rows, the child body run twice, or the parent
  // failing on the conflicting insert instead of resuming.
  it('ctx.startChild: the replay holds the same child; one child row, its body run once', async () => {
    const { parentRunId, childRunId } = await crashInTheGap('Gap.StartParent', 'start');

    const survivor = await bootSurvivor();
    const parent = survivor.client.getHandle<{ childRunId: string }>(parentRunId);
    expect(await parent.result({ timeout: '20s' })).toEqual({ childRunId });
    const childOutput = await survivor.client.getHandle<GapChildOutput>(childRunId).result({ timeout: '20s' });
    expect(childOutput).toEqual({ item: 'start', packed: 'packed-start' });

    const children = await childrenOf(parentRunId);
    expect(children.map((c) => [c.id, c.status])).toEqual([[childRunId, 'COMPLETED']]);
    // one CHILD record, written by the replay, naming the child inserted before the crash
    expect((await childSteps(parentRunId)).map((s) => [s.status, s.output])).toEqual([['COMPLETED', childRunId]]);
    // the parent was entered by the dead process, then replayed by the survivor; the child's body ran exactly once
    expect(await parentEntries(parentRunId)).toEqual(['crasher-start', 'survivor']);
    expect(await bodiesOf(childRunId)).toEqual(['survivor']);
  });

  // Breakage caught: as above, plus a replayed executeChild that waits on a different child (the second one's
  // end) or misses the end of the first child (which may finish while the parent is still RUNNING under the
  // dead lease): the parent would never complete, or complete with another child's output.
  it('ctx.executeChild: the replay waits on the same child and completes with its output; one child row, its body run once', async () => {
    const { parentRunId, childRunId } = await crashInTheGap('Gap.ExecuteParent', 'execute');

    const survivor = await bootSurvivor();
    const parent = survivor.client.getHandle<{ child: GapChildOutput }>(parentRunId);
    expect(await parent.result({ timeout: '20s' })).toEqual({ child: { item: 'execute', packed: 'packed-execute' } });

    const children = await childrenOf(parentRunId);
    expect(children.map((c) => [c.id, c.status, c.output])).toEqual([[childRunId, 'COMPLETED', { item: 'execute', packed: 'packed-execute' }]]);
    expect((await childSteps(parentRunId)).map((s) => [s.status, s.output])).toEqual([['COMPLETED', childRunId]]);
    // the child's end was delivered to the parent once and consumed once
    const ends = await sql(db.url, `select consumed_at is not null as consumed from kagzi.signals where workflow_run_id = $1 and name = $2`, [
      parentRunId,
      `$child:${childRunId}`,
    ]);
    expect(ends).toEqual([{ consumed: true }]);
    // entered by the dead process, then by the survivor (twice if the replay parked before the child ended)
    const entries = await parentEntries(parentRunId);
    expect(entries[0]).toBe('crasher-execute');
    expect(entries.slice(1)).toEqual(entries.length === 3 ? ['survivor', 'survivor'] : ['survivor']);
    expect(await bodiesOf(childRunId)).toEqual(['survivor']);
  });
});
