/**
 * `kagzi replay`, the pre-deploy check, as an operator runs it: bin/kagzi.js in a child process against
 * a real PostgreSQL database where an in-test app running the first build of the workflows
 * (test/fixtures/replay-workflows.ts) left completed, failed and waiting runs. The CLI loads another
 * build's app module from --app: the same code (every run ok, exit 0) or a changed argument (the
 * completed runs are non-deterministic, exit 1). Booted in replay mode, that app writes nothing: the
 * database is the same, row for row, after every replay.
 */
import { join } from 'node:path';
import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { createTestDatabase, TestDatabase } from './support/database';
import { CliResult, expectOneLineError, ROOT, runCli } from './support/cli-process';
import { bootKagzi, closeAllApps, rejectionOf, sql, waitForStatus } from './support/app';
import { ReplayOrderV1, ReplayOrderV2, ReplayShop } from './fixtures/replay-workflows';

const SAME = 'test/fixtures/replay-app-same.ts';
const CHANGED = 'test/fixtures/replay-app-changed.ts';

interface ReplayJson {
  runs: Array<{ runId: string; version: number; status: string; verdict: string; ok: boolean; detail: string | null }>;
  summary: { replayed: number; ok: number; nonDeterministic: number; fails: number; notRegistered: number; skipped: number };
}

let db: TestDatabase;
/** Runs of replay-order by role: v1 unless named otherwise. */
const runs = { completed: [] as string[], failed: '', waiting: '', v2Completed: '', v2Waiting: '' };
/** The database as the in-test app left it, before any replay. */
let before: Snapshot;

/** Runs the CLI with DATABASE_URL set to the test database (the fixture apps' KagziModule uses it too). */
function kagzi(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runCli(db.url, args, env);
}

/** Every table of the schema (row count and a digest of its rows), every run's lease epoch, and which schemas exist. */
interface Snapshot {
  tables: Record<string, { rows: number; digest: string }>;
  leaseEpochs: Record<string, number>;
  schemas: string[];
}

async function snapshot(url: string): Promise<Snapshot> {
  const names = await sql<{ table_name: string }>(url, "select table_name from information_schema.tables where table_schema = 'kagzi' order by table_name");
  const tables: Snapshot['tables'] = {};
  for (const { table_name: name } of names) {
    const [row] = await sql<{ rows: number; digest: string }>(
      url,
      `select count(*)::int as rows, coalesce(md5(string_agg(t::text, '|' order by t::text)), '') as digest from kagzi."${name}" t`,
    );
    tables[name] = row;
  }
  const epochs = await sql<{ id: string; lease_epoch: number }>(url, 'select id, lease_epoch from kagzi.workflow_runs');
  const schemas = await sql<{ nspname: string }>(url, "select nspname from pg_namespace where nspname not like 'pg\\_%' order by nspname");
  return { tables, leaseEpochs: Object.fromEntries(epochs.map((r) => [r.id, r.lease_epoch])), schemas: schemas.map((r) => r.nspname) };
}

beforeAll(async () => {
  db = await createTestDatabase('cli-replay');
  const app = await bootKagzi({ url: db.url, providers: [ReplayShop, ReplayOrderV1, ReplayOrderV2] });
  const { client } = app;
  for (const [sku, amount] of [['mug', 5], ['lamp', 12]] as const) {
    const handle = await client.start(ReplayOrderV1, { sku, amount }, { version: 1 });
    await handle.result({ timeout: '10s' });
    runs.completed.push(handle.runId);
  }
  const failed = await client.start(ReplayOrderV1, { sku: 'vase', amount: -3 }, { version: 1 });
  await rejectionOf(failed.result({ timeout: '10s' }));
  runs.failed = failed.runId;
  const v2Completed = await client.start(ReplayOrderV2, { sku: 'chair', amount: 30 }, { version: 2 });
  await v2Completed.result({ timeout: '10s' });
  runs.v2Completed = v2Completed.runId;
  const waiting = await client.start(ReplayOrderV1, { sku: 'desk', amount: 40, approval: true }, { version: 1 });
  await waitForStatus(waiting, 'WAITING');
  runs.waiting = waiting.runId;
  const v2Waiting = await client.start(ReplayOrderV2, { sku: 'sofa', amount: 90, approval: true }, { version: 2 });
  await waitForStatus(v2Waiting, 'WAITING');
  runs.v2Waiting = v2Waiting.runId;
  await app.close(); // from here on nothing but the CLI touches the database
  before = await snapshot(db.url);
});

afterAll(async () => {
  await closeAllApps();
  await db?.drop();
});

/** A line of the human output: the run id, its version and status, then the verdict. */
function line(runId: string, version: number, status: string, verdict: string): RegExp {
  return new RegExp(`^${runId}  v${version}  ${status} *  ${verdict}$`, 'm');
}

test('the same code: every v1 run is ok (completed, failing as recorded, continuing at its signal wait); exit 0', async () => {
  const result = await kagzi(['replay', '--app', SAME, '--workflow', 'replay-order', '--version', '1']);
  expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
  const lines = result.stdout.trimEnd().split('\n');
  expect(lines).toHaveLength(5);
  // newest first
  expect(lines.slice(0, 4).map((l) => l.slice(0, 36))).toEqual([runs.waiting, runs.failed, runs.completed[1], runs.completed[0]]);
  for (const runId of runs.completed) expect(result.stdout).toMatch(line(runId, 1, 'COMPLETED', 'ok completed'));
  expect(result.stdout).toMatch(line(runs.failed, 1, 'FAILED', 'ok fails as recorded: cannot charge -3'));
  expect(result.stdout).toMatch(line(runs.waiting, 1, 'WAITING', 'ok continues at waiting for signal "approve"'));
  expect(lines[4]).toBe('4 runs replayed: 4 ok, 0 non-deterministic');
});

test('a changed step argument: the runs that recorded the charge are NON-DETERMINISTIC naming the step, the waiting run is ok; exit 1', async () => {
  const result = await kagzi(['replay', '--app', CHANGED, '--workflow', 'replay-order', '--version', '1']);
  expect(result.code).toBe(1);
  expect(result.stderr).toBe('kagzi: 3 of 4 runs would fail with this code\n');
  const mismatch = 'NON-DETERMINISTIC: step "Shop\\.charge" \\(key Shop\\.charge#1\\) no longer matches the recorded history: it was called with different arguments than when the run first executed it\\.';
  for (const runId of runs.completed) expect(result.stdout).toMatch(line(runId, 1, 'COMPLETED', mismatch));
  expect(result.stdout).toMatch(line(runs.failed, 1, 'FAILED', mismatch));
  expect(result.stdout).toMatch(line(runs.waiting, 1, 'WAITING', 'ok continues at waiting for signal "approve"'));
  expect(result.stdout).toMatch(/\n4 runs replayed: 1 ok, 3 non-deterministic\nWorkflow code must make the same step calls with the same arguments on every replay; ship changed logic as a new workflow version\.\n$/);
});

test('--json: the runs with their verdicts and a summary; without --version a run in flight of a version the app lacks fails, an ended one is skipped', async () => {
  const [changed, same, limited] = await Promise.all([
    kagzi(['replay', '--app', CHANGED, '--workflow', 'replay-order', '--json']),
    kagzi(['--json', 'replay', '--app', SAME, '--workflow', 'replay-order', '--status', 'completed,waiting']),
    kagzi(['replay', '--app', SAME, '--workflow', 'replay-order', '--version', '1', '--status', 'COMPLETED', '--limit', '1', '--json']),
  ]);
  expect(changed.code).toBe(1);
  expect(changed.stderr).toBe('kagzi: 4 of 6 runs would fail with this code\n');
  const report = JSON.parse(changed.stdout) as ReplayJson;
  expect(report.runs.map((r) => [r.runId, r.version, r.status, r.verdict, r.ok])).toEqual([
    [runs.v2Waiting, 2, 'WAITING', 'not-registered', false],
    [runs.waiting, 1, 'WAITING', 'continues', true],
    [runs.v2Completed, 2, 'COMPLETED', 'skipped', true],
    [runs.failed, 1, 'FAILED', 'non-deterministic', false],
    [runs.completed[1], 1, 'COMPLETED', 'non-deterministic', false],
    [runs.completed[0], 1, 'COMPLETED', 'non-deterministic', false],
  ]);
  expect(report.runs[0].detail).toBe('the app registers no replay-order v2: no worker of this build would continue the run');
  expect(report.runs[1].detail).toBe('waiting for signal "approve"');
  expect(report.runs[3].detail).toMatch(new RegExp(`^Non-determinism in run ${runs.failed}: step "Shop\\.charge" \\(key Shop\\.charge#1\\)`));
  expect(report.summary).toEqual({ replayed: 6, ok: 1, nonDeterministic: 3, fails: 0, notRegistered: 1, skipped: 1 });

  expect(same.code).toBe(1); // the v2 run in flight: this build registers no v2
  const sameReport = JSON.parse(same.stdout) as ReplayJson;
  expect(sameReport.runs.map((r) => [r.runId, r.verdict])).toEqual([
    [runs.v2Waiting, 'not-registered'],
    [runs.waiting, 'continues'],
    [runs.v2Completed, 'skipped'],
    [runs.completed[1], 'completed'],
    [runs.completed[0], 'completed'],
  ]);
  expect(sameReport.summary).toEqual({ replayed: 5, ok: 3, nonDeterministic: 0, fails: 0, notRegistered: 1, skipped: 1 });

  expect({ code: limited.code, stderr: limited.stderr }).toEqual({ code: 0, stderr: '' });
  expect(JSON.parse(limited.stdout)).toEqual({
    runs: [{ runId: runs.completed[1], version: 1, status: 'COMPLETED', verdict: 'completed', ok: true, detail: null }],
    summary: { replayed: 1, ok: 1, nonDeterministic: 0, fails: 0, notRegistered: 0, skipped: 0 },
  });
});

test('bad usage exits 2; a missing or unloadable app, an unknown export and a workflow the app does not register exit 1, each with one line', async () => {
  const [noApp, noWorkflow, badLimit, missing, noModule, badExport, unknown, unknownVersion, noRuns] = await Promise.all([
    kagzi(['replay', '--workflow', 'replay-order']),
    kagzi(['replay', '--app', SAME]),
    kagzi(['replay', '--app', SAME, '--workflow', 'replay-order', '--limit', '0']),
    kagzi(['replay', '--app', 'test/fixtures/no-such-app.js', '--workflow', 'replay-order']),
    kagzi(['replay', '--app', 'test/fixtures/replay-workflows.ts', '--workflow', 'replay-order']),
    kagzi(['replay', '--app', CHANGED, '--export', 'AppModule', '--workflow', 'replay-order']),
    kagzi(['replay', '--app', SAME, '--workflow', 'replay-invoice']),
    kagzi(['replay', '--app', SAME, '--workflow', 'replay-order', '--version', '2']),
    kagzi(['replay', '--app', SAME, '--workflow', 'replay-nightly']),
  ]);
  expectOneLineError(noApp, 2, /^kagzi: required option '--app <path>' not specified; see --help\n$/);
  expectOneLineError(noWorkflow, 2, /^kagzi: required option '--workflow <name>' not specified; see --help\n$/);
  expectOneLineError(badLimit, 1, /^kagzi: --limit must be a whole number from 1 to 10000; got "0"\n$/);
  expectOneLineError(missing, 1, new RegExp(`^kagzi: --app test/fixtures/no-such-app\\.js: no such file \\(${join(ROOT, 'test/fixtures/no-such-app.js')}\\)\\n$`));
  expectOneLineError(noModule, 1, /^kagzi: the app test\/fixtures\/replay-workflows\.ts exports no AppModule, no default export and no @Module class: pass --export <name>\n$/);
  expectOneLineError(badExport, 1, /^kagzi: the app test\/fixtures\/replay-app-changed\.ts exports no class "AppModule" \(classes it exports: ChangedAppModule, ReplayOrderInCents\)\n$/);
  expectOneLineError(unknown, 1, /^kagzi: the app's AppModule \(test\/fixtures\/replay-app-same\.ts\) does not register workflow "replay-invoice" \(its workflows: "replay-nightly", "replay-order"\)\n$/);
  expectOneLineError(unknownVersion, 1, /^kagzi: the app's AppModule \(test\/fixtures\/replay-app-same\.ts\) does not register replay-order v2 \(it registers v1\)\n$/);
  expect(noRuns).toEqual({ code: 0, stdout: '0 runs replayed: no run of workflow "replay-nightly" matches\n', stderr: '' });
});

test("an app whose database is unreachable fails at once (no boot retries), naming the app", async () => {
  const started = Date.now();
  const result = await kagzi(['--database-url', db.url, 'replay', '--app', SAME, '--workflow', 'replay-order'], { DATABASE_URL: 'postgres://app:s3cret@127.0.0.1:1/shop' });
  expectOneLineError(result, 1, /^kagzi: the app's AppModule \(test\/fixtures\/replay-app-same\.ts\) did not boot: database unreachable: connect ECONNREFUSED 127\.0\.0\.1:1\n$/);
  expect(Date.now() - started).toBeLessThan(15_000);
});

test('replay mode writes nothing: every table is the same row for row, no run was claimed, and an app on an unmigrated schema boots without migrating it', async () => {
  const elsewhere = await kagzi(['replay', '--app', SAME, '--workflow', 'replay-order', '--version', '1'], { REPLAY_APP_SCHEMA: 'replay_elsewhere' });
  expect({ code: elsewhere.code, stderr: elsewhere.stderr }).toEqual({ code: 0, stderr: '' });
  const after = await snapshot(db.url);
  expect(after.leaseEpochs).toEqual(before.leaseEpochs);
  expect(after).toEqual(before);
  expect(after.schemas).not.toContain('replay_elsewhere');
});

test('the control: the same app module booted normally registers its worker, its versions and its schedule, and migrates its schema', async () => {
  const control = await createTestDatabase('cli-replay-control');
  const previous = process.env.KAGZI_DATABASE_URL;
  let context: INestApplicationContext | undefined;
  try {
    process.env.KAGZI_DATABASE_URL = control.url;
    const { AppModule } = await import('./fixtures/replay-app-same');
    context = await NestFactory.createApplicationContext(AppModule, { logger: ['error'] });
    const written = await snapshot(control.url);
    expect(written.tables.workers.rows).toBe(1);
    expect(written.tables.schedules.rows).toBe(1);
    expect(written.tables.kagzi_migrations.rows).toBeGreaterThan(0);
    const versions = await sql(control.url, 'select workflow_name, version from kagzi.workflow_versions order by workflow_name');
    expect(versions).toEqual([{ workflow_name: 'replay-nightly', version: 1 }, { workflow_name: 'replay-order', version: 1 }]);
  } finally {
    if (previous === undefined) delete process.env.KAGZI_DATABASE_URL;
    else process.env.KAGZI_DATABASE_URL = previous;
    await context?.close();
    await control.drop();
  }
});
