/**
 * Transactional steps under hostile timing:
 * - a REPEATABLE READ body that reads, then outlives a heartbeat, commits on its first attempt: its
 *   first statement holds the run row, so the heartbeat's renewals cannot make the record's lock at the
 *   end fail with a serialization error (it failed every attempt);
 * - a body stuck in a lock wait fails at its step timeout, and a cancel ends its run, at once rather
 *   than when the lock is released: the rollback of a body still running is not waited for.
 */
import { Injectable } from '@nestjs/common';
import { RetryPolicy, Step, stepTransaction, Workflow, WorkflowContext, WorkflowDefinition } from '@kagzi/nestjs';
import { Client } from 'pg';
import { createTestDatabase, TestDatabase } from './support/database';
import { bootKagzi, closeAllApps, delay, KagziTestApp, sql } from './support/app';
import { SideEffects } from './support/side-effects';

const effects = new SideEffects();

@Injectable()
class Ledger {
  /** Reads, works for 1.5 s (three heartbeats of FAST_WORKER), then writes. */
  @Step({ transactional: true, isolation: 'REPEATABLE READ', retry: RetryPolicy.fixed({ interval: '10ms', maxAttempts: 3 }) })
  async slowRepeatable(id: string): Promise<number> {
    const n = effects.enter('slowRepeatable', id);
    const manager = stepTransaction();
    await manager.query('select count(*) from entries');
    await delay(1_500);
    await manager.query('insert into entries (id, attempt) values ($1, $2)', [id, n]);
    return n;
  }

  /** Waits for a row lock the test holds: its 500 ms timeout should end the attempt. */
  @Step({ transactional: true, timeout: '500ms', retry: RetryPolicy.fixed({ interval: '10ms', maxAttempts: 1 }) })
  async stuck(id: string): Promise<number> {
    const n = effects.enter('stuck', id);
    await stepTransaction().query('update locked set v = v + 1 where id = 1');
    return n;
  }
}

@Injectable()
class Blocked {
  /** No timeout: waits for the row lock the test holds. */
  @Step({ transactional: true })
  async wait(id: string): Promise<number> {
    const n = effects.enter('blockedWait', id);
    await stepTransaction().query('update locked set v = v + 1 where id = 1');
    return n;
  }
}

@Workflow({ name: 'HazardBlocked', version: 1 })
class BlockedWorkflow implements WorkflowDefinition<string, number> {
  constructor(private readonly blocked: Blocked) {}
  async run(id: string): Promise<number> {
    return this.blocked.wait(id);
  }
}

@Workflow({ name: 'HazardLedger', version: 1 })
class LedgerWorkflow implements WorkflowDefinition<{ id: string; kind: 'slow' | 'stuck' }, number> {
  constructor(private readonly ledger: Ledger) {}
  async run(input: { id: string; kind: 'slow' | 'stuck' }, _ctx: WorkflowContext): Promise<number> {
    return input.kind === 'slow' ? this.ledger.slowRepeatable(input.id) : this.ledger.stuck(input.id);
  }
}

let db: TestDatabase;
let kagzi: KagziTestApp;

beforeAll(async () => {
  db = await createTestDatabase('transactional_hazards');
  await sql(db.url, 'create table entries (id text not null, attempt int not null)');
  await sql(db.url, 'create table locked (id int primary key, v int not null)');
  await sql(db.url, 'insert into locked values (1, 0)');
  kagzi = await bootKagzi({ url: db.url, providers: [Ledger, LedgerWorkflow, Blocked, BlockedWorkflow] });
});

afterAll(async () => {
  await closeAllApps();
  await db?.drop();
});

test('a REPEATABLE READ step that reads and then outlives a heartbeat commits on its first attempt', async () => {
  const handle = await kagzi.client.start(LedgerWorkflow, { id: 'rr-slow', kind: 'slow' });
  const outcome = await handle.result({ timeout: '20s' }).then(
    (v) => ({ ok: true as const, v }),
    (e: unknown) => ({ ok: false as const, e: String(e) }),
  );
  const run = await kagzi.client.getRun(handle.runId);
  const attemptErrors = run.steps[0]?.attempts.map((a) => a.error?.message ?? null);
  expect({ outcome, attempts: effects.count('slowRepeatable', 'rr-slow'), attemptErrors }).toEqual({ outcome: { ok: true, v: 1 }, attempts: 1, attemptErrors: [null] });
}, 30_000);

test('a transactional step stuck in a lock wait fails at its timeout, not when the lock is released', async () => {
  const holder = new Client({ connectionString: db.url });
  await holder.connect();
  await holder.query('begin');
  await holder.query('select * from locked where id = 1 for update');
  let released = 0;
  try {
    const handle = await kagzi.client.start(LedgerWorkflow, { id: 'stuck', kind: 'stuck' });
    const started = Date.now();
    let how = '';
    const ended = handle.result({ timeout: '20s' }).then(
      (v) => ((how = `completed ${String(v)}`), Date.now()),
      (e: unknown) => ((how = String(e)), Date.now()),
    );
    // Hold the lock 8 s: the step's timeout is 500 ms.
    await Promise.race([ended, delay(8_000)]);
    released = Date.now();
    await holder.query('rollback');
    const at = await ended;
    expect({ endedBeforeLockReleased: at <= released, msAfterStart: at - started < 4_000, how, msAfterRelease: at - released }).toEqual({
      endedBeforeLockReleased: true, msAfterStart: true, how: expect.stringMatching(/timed out/), msAfterRelease: expect.any(Number),
    });
  } finally {
    await holder.query('rollback').catch(() => undefined);
    await holder.end();
  }
}, 30_000);

test('a cancel of a run whose transactional step waits for a lock ends the run before the lock is released', async () => {
  const holder = new Client({ connectionString: db.url });
  await holder.connect();
  await holder.query('begin');
  await holder.query('select * from locked where id = 1 for update');
  try {
    const handle = await kagzi.client.start(BlockedWorkflow, 'cancel-me');
    await waitForEntered('blockedWait', 'cancel-me');
    await delay(300);
    await handle.cancel('customer gave up');
    const cancelledAt = Date.now();
    let endedAt = 0;
    const ended = handle.result({ timeout: '20s' }).then(
      () => (endedAt = Date.now()),
      () => (endedAt = Date.now()),
    );
    await Promise.race([ended, delay(6_000)]);
    const releasedAt = Date.now();
    await holder.query('rollback');
    await ended;
    expect({ endedBeforeLockReleased: endedAt <= releasedAt, within3s: endedAt - cancelledAt < 3_000, status: await handle.status() }).toEqual({
      endedBeforeLockReleased: true, within3s: true, status: 'CANCELLED',
    });
  } finally {
    await holder.query('rollback').catch(() => undefined);
    await holder.end();
  }
}, 30_000);

async function waitForEntered(step: string, subject: string): Promise<void> {
  for (let i = 0; i < 200 && effects.count(step, subject) === 0; i++) await delay(25);
}
