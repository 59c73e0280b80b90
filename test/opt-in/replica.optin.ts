/**
 * Read replicas (docs/scaling.md#read-replicas) against a real streaming replica of the local test
 * PostgreSQL: `npm run test:replica` (not part of `npm test`). The replica is started by
 * support/replica-server.ts and logs every statement with its application name.
 *
 * With replay paused on the replica, a run started and finished on the primary is missing from
 * listRuns, countRuns, the dashboard's and the CLI's lists, and getRun shows an older status, while
 * handle.result(), status(), findRun and signal answer at once from the primary. Afterwards the
 * replica's log shows that only display statements ran there, all from Kagzi's read pool.
 */
import { ConsoleLogger, Injectable } from '@nestjs/common';
import { Test, TestingModule } from '@nestjs/testing';
import { KagziDashboardModule, KagziModule, Page, RunSummary, Step, Workflow, WorkflowClient, WorkflowContext, WorkflowDefinition, WorkflowHandle } from '@kagzi/nestjs';
import { DashboardStore } from '../../libs/kagzi/src/dashboard/dashboard.store';
import { createTestDatabase, TestDatabase } from '../support/database';
import { FAST_WORKER, waitForStatus } from '../support/app';
import { runCli } from '../support/cli-process';
import { assertLocalPrimary, withClient } from './support/local-postgres';
import { startStreamingReplica, StreamingReplica } from './support/replica-server';

/** The application name of Kagzi's read pool in this spec (set in readUrl), so the replica's log names it. */
const READ_POOL_APP = 'kagzi-replica-reads';

/** The statements that only display: the only ones allowed on the replica. */
const DISPLAY_STATEMENTS = [
  'getRun', 'getRunSteps', 'getStepAttempts', 'getRunSignals', 'getRunChildren', 'getRunRetries',
  'listRuns', 'countRuns', 'listWorkers', 'listVersions', 'listSchedules', 'searchRuns', 'opsStats',
];

@Injectable()
class Ledger {
  @Step({ name: 'Replica.Ledger.post' })
  async post(id: string): Promise<string> {
    return `posted-${id}`;
  }
}

@Workflow({ name: 'Replica.Order' })
class OrderWorkflow implements WorkflowDefinition<{ id: string }, { id: string; entry: string }> {
  constructor(private readonly ledger: Ledger) {}

  async run(input: { id: string }): Promise<{ id: string; entry: string }> {
    return { id: input.id, entry: await this.ledger.post(input.id) };
  }
}

@Workflow({ name: 'Replica.Approval' })
class ApprovalWorkflow implements WorkflowDefinition<{ id: string }, { approved: unknown }> {
  async run(_input: { id: string }, ctx: WorkflowContext): Promise<{ approved: unknown }> {
    return { approved: await ctx.waitForSignal('approve') };
  }
}

let replica: StreamingReplica | undefined;
let db: TestDatabase | undefined;
let moduleRef: TestingModule | undefined;
let client: WorkflowClient;
let dashboard: DashboardStore;
let readUrl: string;
/** Where the replica's log stood when the app booted. */
let logMark: number;

beforeAll(async () => {
  const started = Date.now();
  replica = await startStreamingReplica(assertLocalPrimary());
  console.log(`streaming replica on port ${replica.port} ready in ${Date.now() - started} ms`);
  db = await createTestDatabase('replica');
  await replica.catchUp(); // the new database exists on the replica
  readUrl = replica.url(db.name, { application_name: READ_POOL_APP });
  logMark = replica.logMark();
  moduleRef = await Test.createTestingModule({
    imports: [KagziModule.forRoot({ database: { url: db.url, readUrl }, worker: FAST_WORKER }), KagziDashboardModule.forRoot({ readOnly: true })],
    providers: [Ledger, OrderWorkflow, ApprovalWorkflow],
  })
    .setLogger(new ConsoleLogger({ logLevels: ['error'] }))
    .compile();
  await moduleRef.init();
  client = moduleRef.get(WorkflowClient);
  dashboard = moduleRef.get(DashboardStore, { strict: false });
  await replica.catchUp(); // the schema and the worker's registration
}, 180_000);

afterAll(async () => {
  await moduleRef?.close();
  await db?.drop();
  await replica?.stop();
});

const ids = (page: Page<RunSummary>): string[] => page.items.map((r) => r.runId);

it('display reads come from the replica: a run started while replay is paused is missing from them, and result() still completes', async () => {
  const first = await client.start(OrderWorkflow, { id: 'a' });
  await expect(first.result({ timeout: '10s' })).resolves.toEqual({ id: 'a', entry: 'posted-a' });
  const approval = await client.start(ApprovalWorkflow, { id: 'w' });
  await waitForStatus(approval, 'WAITING');
  await replica!.catchUp();
  expect(ids(await client.listRuns()).sort()).toEqual([first.runId, approval.runId].sort());

  await replica!.pauseReplay();
  let second: WorkflowHandle<unknown>;
  try {
    // Everything that decides runs on the primary: start, claim, commit, the NOTIFY-woken result().
    const startedAt = Date.now();
    second = await client.start(OrderWorkflow, { id: 'b' }, { idempotencyKey: 'order-b' });
    await expect(second.result({ timeout: '10s' })).resolves.toEqual({ id: 'b', entry: 'posted-b' });
    await client.signal(approval.runId, 'approve', true);
    await expect(approval.result({ timeout: '10s' })).resolves.toEqual({ approved: true });
    console.log(`run started and completed with replay paused in ${Date.now() - startedAt} ms`);
    expect(await approval.status()).toBe('COMPLETED');
    expect((await client.findRun(OrderWorkflow, 'order-b'))?.runId).toBe(second.runId);

    // What only displays reads the replica, frozen before the second run.
    expect(ids(await client.listRuns()).sort()).toEqual([first.runId, approval.runId].sort());
    expect(await client.countRuns()).toBe(2);
    expect(await client.countRuns({ status: 'COMPLETED' })).toBe(1);
    expect((await client.getRun(approval.runId)).status).toBe('WAITING'); // an older status
    expect((await client.exportRun(approval.runId)).status).toBe('WAITING');
    expect((await dashboard.stats()).byStatus).toEqual({ COMPLETED: 1, WAITING: 1 });
    expect(await dashboard.search('order-b', { limit: 10 })).toEqual([]);
    // A run the replica does not know yet is looked up on the primary before it is reported missing.
    expect((await client.getRun(second.runId)).status).toBe('COMPLETED');

    // The replica's connections for this database: the read pool's only, within its size.
    const sessions = await withClient(readUrl, async (c) =>
      (await c.query<{ app: string; n: number }>("select application_name as app, count(*)::int as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() group by 1")).rows,
    );
    expect(sessions.map((s) => s.app)).toEqual([READ_POOL_APP]);
    expect(sessions[0].n).toBeLessThanOrEqual(10);

    // The CLI's lists take the replica with --read-database-url; without it they read the primary.
    const viaReplica = await runCli(db!.url, ['--read-database-url', readUrl, '--json', 'runs', 'list']);
    expect(viaReplica).toMatchObject({ code: 0, stderr: '' });
    expect(ids(JSON.parse(viaReplica.stdout) as Page<RunSummary>)).not.toContain(second.runId);
    const viaPrimary = await runCli(db!.url, ['--json', 'runs', 'list']);
    expect(ids(JSON.parse(viaPrimary.stdout) as Page<RunSummary>)).toContain(second.runId);
  } finally {
    await replica!.resumeReplay();
  }

  await replica!.catchUp();
  expect(ids(await client.listRuns())).toContain(second.runId);
  expect(await client.countRuns({ status: 'COMPLETED' })).toBe(3);
  expect((await client.getRun(approval.runId)).status).toBe('COMPLETED');
  expect((await client.listWorkers()).length).toBeGreaterThanOrEqual(1);
  expect((await client.listVersions('Replica.Order')).map((v) => v.version)).toEqual([1]);
  expect(await client.listSchedules()).toEqual([]);
});

it('nothing that decides touches the replica: it ran display statements only, all from the read pool', () => {
  const entries = replica!
    .logSince(logMark)
    .map(parseLogLine)
    .filter((e): e is LogEntry => e !== undefined && e.database === db!.name);
  expect(entries.length).toBeGreaterThan(0);
  // The CLI's replica session and the spec's own probe also use READ_POOL_APP; nothing else connected.
  expect([...new Set(entries.map((e) => e.app))]).toEqual([READ_POOL_APP]);
  const ran = [...new Set(entries.map((e) => e.statement))];
  const probe = 'statement: select application_name as app';
  expect(ran.filter((name) => !DISPLAY_STATEMENTS.includes(name) && !name.startsWith(probe))).toEqual([]);
  expect(ran).toEqual(expect.arrayContaining(['listRuns', 'countRuns', 'getRun', 'getRunSteps', 'opsStats', 'searchRuns', 'listWorkers', 'listVersions', 'listSchedules']));
});

interface LogEntry {
  app: string;
  database: string;
  /** A prepared statement's name without its schema tag (`listRuns`), else `statement: <text>` or `execute <unnamed>: <text>`. */
  statement: string;
}

/** `app|database|LOG:  execute k<hash>_listRuns: select …` (log_line_prefix '%a|%d|'); other lines (SQL continued, DETAIL) are undefined. */
function parseLogLine(line: string): LogEntry | undefined {
  const match = /^([^|]*)\|([^|]*)\|LOG:\s+(.*)$/.exec(line);
  if (!match) return undefined;
  const [, app, database, message] = match;
  const named = /^execute k[0-9a-f]{10}_(\w+):/.exec(message);
  if (named) return { app, database, statement: named[1] };
  if (/^(statement|execute)/.test(message)) return { app, database, statement: message.slice(0, 60) };
  return undefined;
}
