import { performance } from 'node:perf_hooks';
import { ConsoleLogger, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Client } from 'pg';
import { KagziDashboardModule, KagziModule } from '@kagzi/nestjs';
import { emit, note, round, summarize } from '../report';
import { ScenarioContext } from '../scenario';

/** Runs in the table, as the issue measures with; spread over workflows and statuses like a busy app's history. */
const RUNS = 100_000;
const WORKFLOWS = 10;
/** The big run: steps (a tenth of them in parallel groups of 10 branches, one in twenty retried once), sleeps. */
const BIG_RUN_STEPS = 1_000;
const SAMPLES = 15;

/**
 * What the dashboard's API costs with 100,000 runs in the database: each route's server time over real
 * HTTP (p50 and max of 15 calls, after one warm-up), and the plan of each statement behind it (index
 * or scan). When Chromium is installed (CHROMIUM_PATH or /usr/bin/chromium), also the time until the runs
 * list and a run with 1,000 steps are rendered in a real browser.
 */
export async function runDashboard(ctx: ScenarioContext): Promise<void> {
  const url = ctx.target.database?.url;
  if (!url) throw new Error('dashboard: needs a PostgreSQL URL (the local server or KAGZI_BENCH_DATABASE_URL), not the embedded default');
  const schema = ctx.target.schema;
  @Module({ imports: [KagziModule.forRoot({ database: { url }, schema, worker: false }), KagziDashboardModule.forRoot({ readOnly: true })] })
  class DashboardBenchModule {}
  const app = await NestFactory.create(DashboardBenchModule, { logger: new ConsoleLogger({ logLevels: ['error'] }) });
  await app.listen(0, '127.0.0.1');
  const base = `${(await app.getUrl()).replace('[::1]', '127.0.0.1')}/kagzi`;
  const sql = new Client({ connectionString: url });
  await sql.connect();
  try {
    const bigRunId = await seed(sql, schema);
    const failedKey = (await sql.query<{ k: string }>(`select idempotency_key as k from "${schema}".workflow_runs where status = 'FAILED' limit 1`)).rows[0].k;
    const firstPage = (await get(base, '/api/runs?limit=50')) as { nextCursor: string };
    let deepCursor = firstPage.nextCursor;
    for (let i = 0; i < 40; i++) deepCursor = ((await get(base, `/api/runs?limit=50&cursor=${encodeURIComponent(deepCursor)}`)) as { nextCursor: string }).nextCursor;
    const routes: Array<[string, string]> = [
      ['runs, first page', '/api/runs?limit=50'],
      ['runs, page 42 (cursor)', `/api/runs?limit=50&cursor=${encodeURIComponent(deepCursor)}`],
      ['runs, status FAILED', '/api/runs?status=FAILED&limit=50'],
      ['runs, one workflow', '/api/runs?workflow=Bench.dash.3&limit=50'],
      ['runs, one workflow + status', '/api/runs?workflow=Bench.dash.3&status=FAILED,CANCELLED&limit=50'],
      ['search by idempotency key', `/api/runs?q=${failedKey}`],
      ['search by run id', `/api/runs?q=${bigRunId}`],
      ['a run with 1,000 steps', `/api/runs/${bigRunId}`],
      ['workflows and versions', '/api/workflows'],
      ['stats', '/api/stats'],
      ['workers', '/api/workers'],
    ];
    const params = { runs: RUNS, workflows: WORKFLOWS, big_run_steps: BIG_RUN_STEPS };
    for (const [label, path] of routes) {
      await get(base, path);
      const times: number[] = [];
      for (let i = 0; i < SAMPLES; i++) {
        const t0 = performance.now();
        await get(base, path);
        times.push(performance.now() - t0);
      }
      const s = summarize(times);
      emit({ scenario: 'dashboard', metric: `${label} (HTTP)`, value: s.p50, unit: 'ms', n: SAMPLES, params, detail: { max_ms: round(s.max) } });
    }
    await browserTimings(base, bigRunId, params);
  } finally {
    await sql.end();
    await app.close();
  }
}

async function get(base: string, path: string): Promise<unknown> {
  const response = await fetch(`${base}${path}`);
  if (!response.ok) throw new Error(`dashboard: GET ${path} answered ${response.status}: ${await response.text()}`);
  return response.json();
}

/** 100,000 ended and live runs over 10 workflows, with keys; one run with 1,000 steps; statistics analyzed. */
async function seed(sql: Client, s: string): Promise<string> {
  const t0 = performance.now();
  await sql.query(
    `insert into "${s}".workflow_versions (workflow_name, version) select 'Bench.dash.' || w, 1 from generate_series(1, $1::int) w`,
    [WORKFLOWS],
  );
  await sql.query(
    `insert into "${s}".workflow_runs (id, workflow_name, workflow_version, status, input, output, error, idempotency_key, created_at, updated_at, completed_at, due_at)
     select gen_random_uuid(), 'Bench.dash.' || (1 + i % $2::int), 1, st, '{"json":{"n":1}}',
            case when st = 'COMPLETED' then '{"json":{"ok":true}}'::json end,
            case when st = 'FAILED' then '{"name":"StepError","kind":"TIMEOUT","message":"gateway timed out"}'::jsonb end,
            'order-' || i, now() - (i || ' seconds')::interval, now() - (i || ' seconds')::interval,
            case when st in ('COMPLETED', 'FAILED', 'CANCELLED') then now() - (i || ' seconds')::interval end,
            case when st in ('SLEEPING', 'WAITING', 'PENDING') then now() + interval '1 day' end
     from (select i, case when i % 20 = 7 then 'FAILED' when i % 33 = 5 then 'CANCELLED' when i % 50 = 9 then 'SLEEPING'
                          when i % 97 = 3 then 'WAITING' when i % 101 = 1 then 'PENDING' else 'COMPLETED' end as st
           from generate_series(1, $1::int) i) g`,
    [RUNS, WORKFLOWS],
  );
  const big = await sql.query<{ id: string }>(
    `insert into "${s}".workflow_runs (id, workflow_name, workflow_version, status, input, created_at, updated_at, started_at, due_at)
     values (gen_random_uuid(), 'Bench.dash.1', 1, 'SLEEPING', '{"json":{"big":true}}', now() - interval '2 hours', now(), now() - interval '2 hours', now() + interval '1 day')
     returning id`,
  );
  const id = big.rows[0].id;
  // Step i starts i*5 s after the run; every tenth block of 10 is a parallel group of 10 branches; every 20th step was retried.
  await sql.query(
    `insert into "${s}".step_runs (workflow_run_id, step_key, step_name, kind, status, output, attempts, started_at, completed_at, parallel_group_id, parent_step_id)
     select $1::uuid, k.key, k.name, k.kind, 'COMPLETED', case when k.kind = 'STEP' then '{"json":{"i":1}}'::json end,
            case when i % 20 = 0 then 2 else 1 end,
            now() - interval '2 hours' + (i * 5 || ' seconds')::interval, now() - interval '2 hours' + (i * 5 + 3 || ' seconds')::interval, k.grp, k.branch
     from generate_series(1, $2::int) i,
          lateral (select case when i % 100 between 1 and 10 then '$parallel#' || (i / 100) || '[' || (i % 100 - 1) || ']/Work.part#1' else 'Work.step#' || i end as key,
                          case when i % 50 = 25 then 'ctx.sleep' when i % 100 between 1 and 10 then 'Work.part' else 'Work.step' end as name,
                          case when i % 50 = 25 then 'SLEEP' else 'STEP' end as kind,
                          case when i % 100 between 1 and 10 then '$parallel#' || (i / 100) end as grp,
                          case when i % 100 between 1 and 10 then '$parallel#' || (i / 100) || '[' || (i % 100 - 1) || ']' end as branch) k`,
    [id, BIG_RUN_STEPS],
  );
  await sql.query(
    `insert into "${s}".step_attempts (workflow_run_id, step_key, attempt, started_at, finished_at, error)
     select g.workflow_run_id, g.step_key, a, g.started_at + ((a - 1) * 2 || ' seconds')::interval, g.started_at + ((a - 1) * 2 + 1 || ' seconds')::interval,
            case when a < g.attempts then '{"name":"TransientError","kind":"SERVICE_UNAVAILABLE","message":"busy"}'::jsonb end
     from "${s}".step_runs g, generate_series(1, g.attempts) a where g.workflow_run_id = $1::uuid and g.kind = 'STEP'`,
    [id],
  );
  await sql.query(`vacuum analyze "${s}".workflow_runs`);
  await sql.query(`analyze "${s}".step_runs`);
  await sql.query(`analyze "${s}".step_attempts`);
  note(`[dashboard] seeded ${RUNS} runs and a run with ${BIG_RUN_STEPS} steps in ${round((performance.now() - t0) / 1000)} s`);
  return id;
}

/** Time to a rendered runs list and run page in headless Chromium; skipped (with a note) when it is not installed. */
async function browserTimings(base: string, bigRunId: string, params: Record<string, unknown>): Promise<void> {
  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  let chromium: typeof import('playwright-core').chromium;
  try {
    ({ chromium } = await import('playwright-core'));
    const { existsSync } = await import('node:fs');
    if (!existsSync(executablePath)) throw new Error(`no browser at ${executablePath}`);
  } catch (err: unknown) {
    note(`[dashboard] render times skipped: ${String(err)} (apt-get install chromium, or set CHROMIUM_PATH)`);
    return;
  }
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    for (const [label, url, selector] of [
      ['runs list rendered', `${base}/#/runs`, '[data-testid="runs-table"] tbody tr'],
      ['run with 1,000 steps rendered', `${base}/#/runs/${bigRunId}`, '[data-testid="timeline"]'],
    ] as const) {
      const times: number[] = [];
      for (let i = 0; i < 6; i++) {
        await page.goto('about:blank');
        const t0 = performance.now();
        await page.goto(url);
        await page.waitForSelector(selector, { timeout: 30_000 });
        times.push(performance.now() - t0);
      }
      times.shift(); // the first load fills the caches
      const s = summarize(times);
      emit({ scenario: 'dashboard', metric: label, value: s.p50, unit: 'ms', n: times.length, target: '<=1000', params, detail: { max_ms: round(s.max) } });
    }
  } finally {
    await browser.close();
  }
}

