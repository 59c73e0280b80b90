/**
 * The `kagzi` CLI as an operator runs it: bin/kagzi.js in a child process, against a real PostgreSQL
 * database where an in-test app has left real runs (completed, failed after retries, waiting for a
 * signal), two versions of a workflow and a live worker. Every command's output and exit code, --json
 * parsed, and bad input: one line on stderr, exit 1 (an error) or 2 (bad usage).
 *
 * Each CLI process boots in a second or two, so independent invocations run side by side.
 */
import { RunDetails, RunSummary, WorkerInfo, WorkflowHandle, WorkflowVersionInfo } from '@kagzi/nestjs';
import { KAGZI_MIGRATIONS } from '../migrations';
import { createTestDatabase, TestDatabase } from './support/database';
import { CliResult, expectOneLineError, runCli } from './support/cli-process';
import { bootKagzi, closeAllApps, KagziTestApp, rejectionOf, sql, waitForStatus } from './support/app';
import { CLI_PROVIDERS, CliUnserved, effects, gateway } from './fixtures/cli-workflows';

let db: TestDatabase;
let app: KagziTestApp;
/** Runs by role, each started by the in-test app. */
const runs = { completed: [] as string[], v1: '', failed: [] as string[], toSignal: '', toCancel: '' };

/** Runs the CLI with DATABASE_URL set to the test database (unless `env` overrides it). */
function kagzi(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runCli(db.url, args, env);
}

/** A command that must succeed with --json: its one JSON document. */
async function kagziJson<T>(args: string[]): Promise<T> {
  const result = await kagzi([...args, '--json']);
  expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
  return JSON.parse(result.stdout) as T;
}

function ok(result: CliResult): string {
  expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
  return result.stdout;
}

beforeAll(async () => {
  db = await createTestDatabase('cli');
  app = await bootKagzi({ url: db.url, providers: CLI_PROVIDERS, worker: { name: 'cli-spec-worker' } });
  const { client } = app;
  for (const id of ['c-1', 'c-2']) {
    const handle = await client.start('cli-order', { orderId: id }, { idempotencyKey: id });
    await handle.result({ timeout: '15s' });
    runs.completed.push(handle.runId);
  }
  const v1 = await client.start('cli-order', { orderId: 'c-0' }, { version: 1 });
  await v1.result({ timeout: '15s' });
  runs.v1 = v1.runId;
  gateway.down = true;
  for (const id of ['f-1', 'f-2', 'f-3']) {
    const handle = await client.start('cli-order', { orderId: id }, { idempotencyKey: id });
    await rejectionOf(handle.result({ timeout: '15s' }));
    runs.failed.push(handle.runId);
  }
  gateway.down = false;
  const toSignal = await client.start('cli-approval', { orderId: 'a-1' });
  const toCancel = await client.start('cli-approval', { orderId: 'a-2' });
  await Promise.all([waitForStatus(toSignal, 'WAITING'), waitForStatus(toCancel, 'WAITING')]);
  [runs.toSignal, runs.toCancel] = [toSignal.runId, toCancel.runId];
});

afterAll(async () => {
  await closeAllApps();
  await db?.drop();
});

function handle<O>(runId: string): WorkflowHandle<O> {
  return app.client.getHandle<O>(runId);
}

test('usage errors exit 2 and an unreachable database exits 1, each with one line; --help lists the commands (exit 0)', async () => {
  const [help, unknownCommand, unknownOption, missing, noDatabase, retryNeither, unreachable] = await Promise.all([
    kagzi(['--help']),
    kagzi(['runs', 'lst']),
    kagzi(['runs', 'list', '--bogus']),
    kagzi(['runs', 'show']),
    kagzi(['stats'], { DATABASE_URL: '' }),
    kagzi(['runs', 'retry']),
    kagzi(['--database-url', 'postgres://ops:s3cret@127.0.0.1:1/nowhere', 'runs', 'list']),
  ]);
  for (const command of ['runs', 'versions', 'workers', 'schedules', 'stats', 'migrate', '--database-url', '--schema', '--json']) expect(ok(help)).toContain(command);
  expectOneLineError(unknownCommand, 2, /unknown command 'lst' \(Did you mean list\?\)/);
  expectOneLineError(unknownOption, 2, /unknown option '--bogus'/);
  expectOneLineError(missing, 2, /missing required argument 'runId'/);
  expectOneLineError(noDatabase, 2, /no database: pass --database-url <url> or set DATABASE_URL/);
  expectOneLineError(retryNeither, 2, /runs retry needs a run id, or --status FAILED/);
  expectOneLineError(unreachable, 1, /^kagzi: database unreachable at postgres:\/\/ops:\*\*\*@127\.0\.0\.1:1\/nowhere: connect ECONNREFUSED 127\.0\.0\.1:1\n$/);
  expect(unreachable.stderr).not.toContain('s3cret');
});

test('runs list: a table by default; --json filtered by --workflow and --status, paged with --limit and --cursor', async () => {
  const [table, failed, firstPage, badStatus] = await Promise.all([
    kagzi(['runs', 'list']),
    kagziJson<{ items: RunSummary[] }>(['runs', 'list', '--workflow', 'cli-order', '--status', 'failed']),
    kagziJson<{ items: RunSummary[]; nextCursor?: string }>(['runs', 'list', '--limit', '3']),
    kagzi(['runs', 'list', '--status', 'STUCK']),
  ]);
  const text = ok(table);
  expect(text).toMatch(/run id\s+│ workflow\s+│ version │ status/);
  for (const runId of [...runs.completed, ...runs.failed, runs.toSignal]) expect(text).toContain(runId);
  expect(text).toMatch(new RegExp(`${runs.failed[0]} │ cli-order\\s+│ 2\\s+│ FAILED`));
  expect(failed.items.map((r) => r.runId).sort()).toEqual([...runs.failed].sort());
  expect(failed.items.every((r) => r.status === 'FAILED' && r.workflowName === 'cli-order' && r.version === 2)).toBe(true);
  expect(firstPage.items).toHaveLength(3);
  expect(firstPage.nextCursor).toEqual(expect.any(String));
  const secondPage = await kagziJson<{ items: RunSummary[] }>(['runs', 'list', '--limit', '3', '--cursor', firstPage.nextCursor!]);
  expect(secondPage.items).toHaveLength(3);
  const firstIds = firstPage.items.map((r) => r.runId);
  expect(secondPage.items.filter((r) => firstIds.includes(r.runId))).toEqual([]);
  expectOneLineError(badStatus, 1, /--status must be one of PENDING, RUNNING, SLEEPING, WAITING, COMPLETED, FAILED, CANCELLED; got "STUCK"/);
});

test("runs show: the steps on a timeline with the parallel branches and each failed attempt's error; --json is getRun's RunDetails", async () => {
  const runId = runs.failed[0];
  const [shown, details, unknown, notAnId] = await Promise.all([
    kagzi(['runs', 'show', runId]),
    kagziJson<RunDetails>(['runs', 'show', runId]),
    kagzi(['runs', 'show', '00000000-0000-4000-8000-000000000000']),
    kagzi(['runs', 'show', '1234']),
  ]);
  const text = ok(shown);
  expect(text).toMatch(new RegExp(`^Run\\s+${runId}\\nWorkflow\\s+cli-order v2\\nStatus\\s+FAILED\\n`));
  expect(text).toMatch(/Error\s+TransientError in Shop\.charge, attempt 3: SERVICE_UNAVAILABLE GATEWAY_DOWN: payment gateway unreachable/);
  expect(text).toMatch(/│ \+\d+ms\s+│ \d+ms\s+│ Shop\.reserve#1 │ -\s+│ COMPLETED │ 1\s+│/);
  expect(text).toMatch(/│ Shop\.pack#1\s+│ \$parallel#1\[0\] │ COMPLETED │/);
  expect(text).toMatch(/│ Shop\.pack#1\s+│ \$parallel#1\[1\] │ COMPLETED │/);
  expect(text).toMatch(/│ Shop\.charge#1\s+│ -\s+│ FAILED\s+│ 3 \(3 failed\) │ +█+ +│/);
  for (const attempt of [1, 2, 3]) {
    expect(text).toMatch(new RegExp(`│ Shop\\.charge#1 │ 1\\s+│ ${attempt}\\s+│ \\+\\d+ms\\s+│ \\d+ms\\s+│ SERVICE_UNAVAILABLE GATEWAY_DOWN: payment gateway unreachable │`));
  }
  expect(details).toEqual(JSON.parse(JSON.stringify(await app.client.getRun(runId))));
  expect(details.steps.find((s) => s.name === 'Shop.charge')?.attempts.map((a) => [a.attempt, a.error?.kind, a.error?.code])).toEqual([
    [1, 'SERVICE_UNAVAILABLE', 'GATEWAY_DOWN'],
    [2, 'SERVICE_UNAVAILABLE', 'GATEWAY_DOWN'],
    [3, 'SERVICE_UNAVAILABLE', 'GATEWAY_DOWN'],
  ]);
  expectOneLineError(unknown, 1, /^kagzi: no workflow run has id 00000000-0000-4000-8000-000000000000\n$/);
  expectOneLineError(notAnId, 1, /^kagzi: "1234" is not a run id \(expected a UUID\)\n$/);
});

test('runs signal: delivers a JSON payload to the waiting run; bad JSON and an ended run are refused with one line', async () => {
  const [badJson, sent, ended] = await Promise.all([
    kagzi(['runs', 'signal', runs.toSignal, 'approve', '--payload', '{ok: true']),
    kagzi(['runs', 'signal', runs.toSignal, 'approve', '--payload', '{"ok":true}']),
    kagzi(['runs', 'signal', runs.completed[0], 'approve']),
  ]);
  expectOneLineError(badJson, 1, /^kagzi: --payload is not valid JSON: /);
  expect(ok(sent)).toBe(`Signal "approve" sent to run ${runs.toSignal}\n`);
  await expect(handle(runs.toSignal).result({ timeout: '10s' })).resolves.toEqual({ approved: true });
  expectOneLineError(ended, 1, new RegExp(`^kagzi: run ${runs.completed[0]} has ended, so signal "approve" cannot be delivered`));
});

test('runs cancel: a waiting run ends CANCELLED with the reason; cancelling it again is a no-op; an ended run is refused', async () => {
  const cancelled = await kagziJson<{ runId: string; status: string; cancelled: boolean }>(['runs', 'cancel', runs.toCancel, '--reason', 'customer called']);
  expect(cancelled).toMatchObject({ runId: runs.toCancel, cancelled: true });
  await waitForStatus(handle(runs.toCancel), 'CANCELLED');
  expect((await app.client.getRun(runs.toCancel)).error?.message).toContain('customer called');
  const [again, ended] = await Promise.all([kagzi(['runs', 'cancel', runs.toCancel]), kagzi(['runs', 'cancel', runs.completed[0]])]);
  expect(ok(again)).toBe(`Run ${runs.toCancel} is already CANCELLED\n`);
  expectOneLineError(ended, 1, new RegExp(`^kagzi: run ${runs.completed[0]} is COMPLETED: only a run that has not ended can be cancelled\\n$`));
});

test('runs start: a run of a registered workflow by name, with JSON input and a version; unknown workflows and bad input refused', async () => {
  const [started, human, unknown, badInput] = await Promise.all([
    kagziJson<{ runId: string; workflowName: string; version: number; status: string }>(['runs', 'start', 'cli-order', '--input', '{"orderId":"s-1"}', '--version', '1']),
    kagzi(['runs', 'start', 'cli-order', '--input', '{"orderId":"s-2"}', '--idempotency-key', 's-2']),
    kagzi(['runs', 'start', 'no-such-workflow']),
    kagzi(['runs', 'start', 'cli-order', '--input', '{"orderId":']),
  ]);
  expect(started).toMatchObject({ workflowName: 'cli-order', version: 1 });
  await expect(handle(started.runId).result({ timeout: '10s' })).resolves.toEqual({ reservation: 'res-s-1' });
  const line = ok(human);
  expect(line).toMatch(/^Started run [0-9a-f-]{36} of cli-order v2 \((PENDING|RUNNING|COMPLETED)\)\n$/);
  const found = await app.client.findRun('cli-order', 's-2');
  expect(line).toContain(found!.runId);
  await expect(found!.result({ timeout: '10s' })).resolves.toEqual({ parcels: ['s-2/a', 's-2/b'], charge: 'ch-s-2' });
  expectOneLineError(unknown, 1, /^kagzi: no workflow named "no-such-workflow" is registered in schema "kagzi": check the name\n$/);
  expectOneLineError(badInput, 1, /^kagzi: --input is not valid JSON: /);
});

test('runs retry <runId>: the failed run resumes from its failed step (completed steps not run again); a COMPLETED run is refused', async () => {
  const [runId] = runs.failed;
  const [retried, refused] = await Promise.all([kagzi(['runs', 'retry', runId]), kagzi(['runs', 'retry', runs.completed[0]])]);
  expect(ok(retried)).toBe(`Run ${runId} (FAILED) is PENDING again: it resumes from where it stopped\n`);
  await expect(handle(runId).result({ timeout: '10s' })).resolves.toEqual({ parcels: ['f-1/a', 'f-1/b'], charge: 'ch-f-1' });
  expect([effects.count('Shop.reserve', 'f-1'), effects.count('Shop.pack', 'f-1:a'), effects.count('Shop.charge', 'f-1')]).toEqual([1, 1, 4]);
  expectOneLineError(refused, 1, new RegExp(`^kagzi: run ${runs.completed[0]} is COMPLETED: only a FAILED or CANCELLED run can be retried\\n$`));
});

test('bulk retry: lists the matching runs and wants --yes when more than one matches; with --yes retries them all', async () => {
  const selection = ['runs', 'retry', '--status', 'FAILED', '--workflow', 'cli-order', '--since', '1h'];
  const pending = runs.failed.slice(1);
  const [plan, planJson, conflicting] = await Promise.all([
    kagzi(selection),
    kagzi([...selection, '--json']),
    kagzi(['runs', 'retry', pending[0], '--status', 'FAILED']),
  ]);
  expect(plan.code).toBe(1);
  expect(plan.stderr).toBe('kagzi: 2 runs match: nothing retried; add --yes to retry them\n');
  expect(plan.stdout).toMatch(/^2 runs match \(FAILED, workflow cli-order, ended in the last 1h\); this would retry them:\n/);
  for (const runId of pending) expect(plan.stdout).toMatch(new RegExp(`${runId} │ cli-order │ 2\\s+│ FAILED │ .* ago\\s+│ would retry │`));
  expect(planJson.code).toBe(1);
  expect(JSON.parse(planJson.stdout)).toMatchObject({ matched: 2, dryRun: true, retried: [] });
  expect(await Promise.all(pending.map((id) => handle(id).status()))).toEqual(['FAILED', 'FAILED']);
  expectOneLineError(conflicting, 2, /runs retry takes a run id, or --status with --workflow\/--since for a bulk retry, not both/);

  const done = await kagziJson<{ matched: number; retried: string[]; refused: unknown[] }>([...selection, '--yes']);
  expect({ ...done, retried: [...done.retried].sort() }).toMatchObject({ matched: 2, retried: [...pending].sort(), refused: [] });
  const outputs = await Promise.all(pending.map((id) => handle(id).result({ timeout: '10s' })));
  expect(outputs).toEqual([{ parcels: ['f-2/a', 'f-2/b'], charge: 'ch-f-2' }, { parcels: ['f-3/a', 'f-3/b'], charge: 'ch-f-3' }]);
  expect(ok(await kagzi(selection))).toBe('No run matches (FAILED, workflow cli-order, ended in the last 1h): nothing to retry.\n');
});

test('versions list, set-default and deprecate; deprecating the default is refused', async () => {
  const [table, listed, unknownVersion] = await Promise.all([
    kagzi(['versions', 'list', 'cli-order']),
    kagziJson<WorkflowVersionInfo[]>(['versions', 'list', 'cli-order']),
    kagzi(['versions', 'set-default', 'cli-order', '9']),
  ]);
  expect(ok(table)).toMatch(/│ version │ default │ deprecated │ served │ runs in flight │ registered │ last seen │\n│ 1\s+│ -\s+│ -\s+│ yes\s+│[^\n]*\n│ 2\s+│ yes\s+│ -\s+│ yes\s+│/);
  expect(listed.map((v) => [v.version, v.isDefault, v.deprecated, v.served])).toEqual([[1, false, false, true], [2, true, false, true]]);
  expectOneLineError(unknownVersion, 1, /^kagzi: workflow "cli-order" has no version 9; `kagzi versions list cli-order` shows the registered ones\n$/);

  expect(ok(await kagzi(['versions', 'set-default', 'cli-order', '1']))).toBe('New runs of cli-order start on v1\n');
  await expect(app.client.getDefaultVersion('cli-order')).resolves.toBe(1);
  const [deprecated, refused] = await Promise.all([kagzi(['versions', 'deprecate', 'cli-order', '2']), kagzi(['versions', 'deprecate', 'cli-order', '1'])]);
  expect(ok(deprecated)).toBe('cli-order v2 is deprecated: no new runs start on it\n');
  expectOneLineError(refused, 1, /current default; call `kagzi versions set-default cli-order <another version>` before deprecating it/);
  const after = await app.client.listVersions('cli-order');
  expect(after.map((v) => [v.version, v.isDefault, v.deprecated])).toEqual([[1, true, false], [2, false, true]]);
});

test('workers list shows the live worker and what it serves; schedules list answers with a list', async () => {
  const [table, workers, schedules] = await Promise.all([
    kagzi(['workers', 'list']),
    kagziJson<WorkerInfo[]>(['workers', 'list']),
    kagziJson<unknown[]>(['schedules', 'list']),
  ]);
  expect(ok(table)).toMatch(/│ cli-spec-worker │ RUNNING │ [^│]+:\d+\s+│ \d+(ms|\.\ds|s) ago\s+│ 0\/10\s+│/);
  expect(workers).toEqual([expect.objectContaining({ name: 'cli-spec-worker', status: 'RUNNING', pid: process.pid, concurrency: 10 })]);
  expect(workers[0].workflows).toEqual(expect.arrayContaining(['cli-order@1', 'cli-order@2', 'cli-approval@1']));
  expect(Array.isArray(schedules)).toBe(true);
});

test('stats: runs by status as the table holds them, and the backlog of due runs no worker claims', async () => {
  const clientOnly = await bootKagzi({ url: db.url, providers: [CliUnserved], worker: false });
  await clientOnly.client.start('cli-unserved', { orderId: 'u-1' });
  await clientOnly.client.start('cli-unserved', { orderId: 'u-2' });
  const [table, stats] = await Promise.all([
    kagzi(['stats']),
    kagziJson<{ runsByStatus: Record<string, number>; total: number; backlog: number; oldestDueAgeMs: number; backlogByWorkflow: unknown[] }>(['stats']),
  ]);
  const counts = await sql<{ status: string; n: number }>(db.url, 'select status, count(*)::int as n from kagzi.workflow_runs group by status');
  expect(Object.fromEntries(Object.entries(stats.runsByStatus).filter(([, n]) => n > 0))).toEqual(Object.fromEntries(counts.map((c) => [c.status, c.n])));
  expect(stats.total).toBe(counts.reduce((sum, c) => sum + c.n, 0));
  expect(stats).toMatchObject({ backlog: 2, backlogByWorkflow: [expect.objectContaining({ workflowName: 'cli-unserved', version: 1, backlog: 2 })] });
  expect(stats.oldestDueAgeMs).toBeGreaterThanOrEqual(0);
  const text = ok(table);
  expect(text).toMatch(/│ pending │ running │ sleeping │ waiting │ completed │ failed │ cancelled │ total │\n│ 2\s+│ 0\s+│ 0\s+│ 0\s+│ \d+\s+│ 0\s+│ 1\s+│ \d+\s+│/);
  expect(text).toMatch(/Backlog\s+2 runs due and not claimed\nOldest due\s+due since \S+ \S+, waiting \S+/);
  expect(text).toMatch(/│ cli-unserved │ 1\s+│ 2\s+│/);
});

test('migrate applies the migrations to a schema that has none, which other commands refuse with one line', async () => {
  const before = await kagzi(['--schema', 'cli_fresh', 'runs', 'list']);
  expectOneLineError(before, 1, /^kagzi: no Kagzi tables in schema "cli_fresh" at postgres:\/\/\S+: run `kagzi migrate`, or check --schema /);
  const names = KAGZI_MIGRATIONS.map((m) => m.name);
  await expect(kagziJson(['--schema', 'cli_fresh', 'migrate'])).resolves.toEqual({ schema: 'cli_fresh', applied: names, migrations: names });
  const [again, listed] = await Promise.all([kagzi(['migrate', '--schema', 'cli_fresh']), kagziJson(['runs', 'list', '--schema', 'cli_fresh'])]);
  expect(ok(again)).toBe(`Schema "cli_fresh" is up to date: ${names.length} migrations applied, the latest ${names[names.length - 1]}\n`);
  expect(listed).toEqual({ items: [] });
});
