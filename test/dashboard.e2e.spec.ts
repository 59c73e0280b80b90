/**
 * The dashboard end to end in a real headless Chromium (Debian's `chromium`, driven by playwright-core),
 * against real HTTP Nest apps on real PostgreSQL: the runs list, filters and paging, a failed run's error,
 * a parallel group drawn as lanes with its back-off gaps, cancel / retry / signal / set default from the
 * UI through the confirmation dialog, a read-only mount that refuses with 403 (in the page and to fetch),
 * a guard that denies the API and the page, keyboard use and a narrow window.
 *
 * Screenshots for docs/dashboard.md are written to docs/images/ only with KAGZI_SCREENSHOTS=1.
 * Render times of the runs list (100,000 runs in the database) and of a run with 1,000 steps are printed
 * (figures, not assertions).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ConsoleLogger, INestApplication, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Browser, BrowserContext, chromium, Page } from 'playwright-core';
import { KagziDashboardModule, KagziDashboardOptions, KagziModule, RunStatus, WorkflowClient, WorkflowHandle } from '@kagzi/nestjs';
import { createTestDatabase, TestDatabase } from './support/database';
import { FAST_WORKER, sql, waitFor, waitForStatus } from './support/app';
import {
  DASH_PROVIDERS,
  dashGate,
  DashFailsWorkflow,
  DashManyWorkflow,
  DashParallelWorkflow,
  DashSleeperWorkflow,
  DashVersionedV1,
  DashWaiterWorkflow,
  DenyEveryone,
} from './fixtures/dashboard-workflows';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = process.env.KAGZI_SCREENSHOTS === '1' ? join(__dirname, '..', 'docs', 'images') : undefined;

let db: TestDatabase;
let browser: Browser;
const apps: INestApplication[] = [];

/** The main app (workers, open dashboard at /kagzi); a read-only one and a guarded one share its database. */
let base: string;
let roBase: string;
let lockedBase: string;
let client: WorkflowClient;

async function boot(dashboard: KagziDashboardOptions, worker: boolean): Promise<{ base: string; client: WorkflowClient }> {
  @Module({
    imports: [KagziModule.forRoot({ database: { url: db.url }, worker: worker ? FAST_WORKER : false }), KagziDashboardModule.forRoot(dashboard)],
    providers: worker ? DASH_PROVIDERS : [DenyEveryone],
  })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).setLogger(new ConsoleLogger({ logLevels: ['error'] })).compile();
  const app = moduleRef.createNestApplication({ logger: ['error'] });
  await app.listen(0, '127.0.0.1');
  apps.push(app);
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return { base: `${url}${dashboard.path ?? '/kagzi'}`, client: app.get(WorkflowClient) };
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`No Chromium at ${CHROMIUM}: install it (apt-get install -y chromium) or set CHROMIUM_PATH`);
  }
  db = await createTestDatabase('dashboard_e2e');
  [{ base, client }, { base: roBase }, { base: lockedBase }, browser] = await Promise.all([
    boot({ path: '/kagzi' }, true),
    boot({ path: '/ops-ro', readOnly: true }, false),
    boot({ path: '/locked', guards: [DenyEveryone] }, false),
    chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] }),
  ]);
  if (SCREENSHOTS) mkdirSync(SCREENSHOTS, { recursive: true });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all(apps.map((app) => app.close().catch(() => undefined)));
  await db?.drop();
});

let context: BrowserContext;
let page: Page;
const pageErrors: string[] = [];

beforeEach(async () => {
  context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/status of 40[34]/.test(msg.text())) pageErrors.push(msg.text());
  });
});

afterEach(async () => {
  await context.close();
  // an exception in the page fails the test that caused it
  const errors = pageErrors.splice(0);
  expect(errors).toEqual([]);
});

/** Opens the dashboard at `hash` (`/runs`, `/runs/<id>`) and waits for the view's heading. */
async function open(hash: string, at = base): Promise<void> {
  await page.goto(`${at}/#${hash}`);
  await page.locator('main h1').waitFor();
}

/** Writes docs/images/<name> (with KAGZI_SCREENSHOTS=1), scrolled to the top or to the element matching `show`. */
async function shot(name: string, show?: string): Promise<void> {
  if (!SCREENSHOTS) return;
  await page.evaluate(show ? `document.querySelector(${JSON.stringify(show)}).scrollIntoView({ block: 'center' })` : 'window.scrollTo(0, 0)');
  await page.screenshot({ path: join(SCREENSHOTS, name), fullPage: false });
}

async function started<I>(workflow: Parameters<WorkflowClient['start']>[0], input: I, status?: RunStatus): Promise<WorkflowHandle<unknown>> {
  const handle = await client.start(workflow, input);
  if (status) await waitForStatus(handle, status, 15_000);
  return handle;
}

/** Confirms the open dialog and waits for it to close. */
async function confirmDialog(): Promise<void> {
  const dialog = page.getByTestId('confirm-dialog');
  await dialog.waitFor();
  await dialog.getByTestId('dialog-confirm').click();
  await dialog.waitFor({ state: 'detached' });
}

describe('the dashboard in Chromium', () => {
  let failed: WorkflowHandle<unknown>;
  let parallel: WorkflowHandle<unknown>;

  beforeAll(async () => {
    // a completed, a failed and a parallel run to look at
    await started(DashVersionedV1, { order: 'o-1' }, 'COMPLETED');
    failed = await started(DashFailsWorkflow, { order: 'o-2' }, 'FAILED');
    parallel = await started(DashParallelWorkflow, { order: 'o-3' }, 'COMPLETED');
  }, 30_000);

  test('runs list: stats, FAILED filter, open a failed run and read its error kind, code and cause', async () => {
    await page.goto(base); // without the trailing slash: the page still finds its assets
    await page.getByTestId('run-row').first().waitFor();
    expect(await page.getByTestId('run-row').count()).toBeGreaterThanOrEqual(3);
    await waitFor('the FAILED count', async () => (await page.getByTestId('stat-FAILED').locator('.stat-value').textContent()) === '1');

    await page.getByTestId('filter-status-FAILED').check();
    await waitFor('only FAILED rows', async () => {
      const statuses = await page.getByTestId('run-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-status')));
      return statuses.length > 0 && statuses.every((s) => s === 'FAILED');
    });
    expect(page.url()).toContain('status=FAILED'); // the filter is in the address
    const row = page.locator(`[data-testid=run-row][data-run-id="${failed.runId}"]`);
    await row.locator('a.run-link').click();

    await page.getByTestId('run-status').filter({ hasText: 'FAILED' }).waitFor();
    const error = page.getByTestId('run-error-section');
    expect(await error.getByTestId('error-kind').first().textContent()).toBe('INVALID_INPUT');
    expect(await error.getByTestId('error-code').first().textContent()).toBe('CARD_DECLINED');
    expect(await error.getByTestId('error-message').first().textContent()).toContain('card of o-2 declined');
    expect(await error.getByTestId('cause-chain').textContent()).toContain('issuer said no');
  });

  test('search by idempotency key and by run id; "Load more" pages with the cursor', async () => {
    await Promise.all(Array.from({ length: 55 }, (_, i) => client.start(DashVersionedV1, { order: `p-${i}` }, { idempotencyKey: `page-key-${i}` })));
    await open('/runs?workflow=dash-versioned');
    await page.getByTestId('run-row').nth(49).waitFor();
    expect(await page.getByTestId('run-row').count()).toBe(50);
    await page.getByTestId('load-more').click();
    await waitFor('the second page', async () => (await page.getByTestId('run-row').count()) >= 56);
    const ids = await page.getByTestId('run-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-run-id')));
    expect(new Set(ids).size).toBe(ids.length);

    await page.getByTestId('filter-q').fill('page-key-7');
    await page.getByTestId('filter-q').press('Enter');
    await waitFor('one row for the key', async () => (await page.getByTestId('run-row').count()) === 1);
    expect(await page.getByTestId('run-row').textContent()).toContain('page-key-7');

    await page.getByTestId('filter-clear').click();
    expect(page.url()).not.toContain('workflow=');
    await page.getByTestId('filter-q').fill(failed.runId);
    await page.getByTestId('filter-apply').click();
    await page.locator(`[data-testid=run-row][data-run-id="${failed.runId}"]`).waitFor();
    await waitFor('only the searched run', async () => (await page.getByTestId('run-row').count()) === 1);
  });

  test('a parallel group is drawn as lanes, with the retried step\'s back-off gaps and a sleep', async () => {
    await open(`/runs/${parallel.runId}`);
    const group = page.getByTestId('group');
    await group.first().waitFor();
    expect(await group.count()).toBe(1);
    expect(await group.getByTestId('lane').count()).toBe(3);
    const flaky = page.locator('[data-testid=step][data-key$="Desk.reserve#1"]');
    expect(await flaky.getByTestId('backoff').count()).toBe(2);
    expect(await page.getByTestId('lane').nth(1).getByTestId('step').count()).toBe(2);
    expect(await page.getByTestId('lane').nth(2).getByTestId('sleep-bar').count()).toBe(1);
    // the bars of the three lanes overlap in time: each lane starts before another ends
    await shot('dashboard-run.png');

    await flaky.locator('summary').click();
    const attempts = flaky.getByTestId('attempt');
    expect(await attempts.count()).toBe(3);
    expect(await attempts.nth(0).getByTestId('error-kind').textContent()).toBe('SERVICE_UNAVAILABLE');
    expect(await attempts.nth(1).getByTestId('error-code').textContent()).toBe('WAREHOUSE_BUSY');
    expect(await attempts.nth(2).textContent()).toContain('ok');
  });

  test('cancel a sleeping run from the UI (confirmation dialog) and see CANCELLED', async () => {
    const sleeper = await started(DashSleeperWorkflow, { order: 'o-4' }, 'SLEEPING');
    await open(`/runs/${sleeper.runId}`);
    await page.getByTestId('run-status').filter({ hasText: 'SLEEPING' }).waitFor();
    // an hour's sleep is drawn up to now, not to its wake-up time (which would squash every other bar)
    expect(await page.getByTestId('sleep-bar').getAttribute('title')).toMatch(/^sleeping until \d{4}-/);
    await page.getByTestId('action-cancel').click();
    await page.getByTestId('dialog-reason').fill('no longer needed');
    await confirmDialog();
    await page.getByTestId('notice').filter({ hasText: 'Cancel requested' }).waitFor();
    await page.getByTestId('run-status').filter({ hasText: 'CANCELLED' }).waitFor({ timeout: 20_000 });
    expect(await sleeper.status()).toBe('CANCELLED');
    expect(await page.getByTestId('action-cancel').count()).toBe(0); // an ended run has no Cancel
    expect(await page.getByTestId('cancel-reason').textContent()).toBe('no longer needed');
  });

  test('retry a failed run from the UI: it runs again and completes, the retry is in its history', async () => {
    const run = await started(DashFailsWorkflow, { order: 'o-5' }, 'FAILED');
    await open(`/runs/${run.runId}`);
    dashGate.fail = false;
    try {
      await page.getByTestId('action-retry').click();
      await confirmDialog();
      await page.getByTestId('run-status').filter({ hasText: 'COMPLETED' }).waitFor({ timeout: 20_000 });
    } finally {
      dashGate.fail = true;
    }
    expect(await page.getByTestId('run-output').textContent()).toContain('o-5:charged');
    expect(await page.getByTestId('retry').count()).toBe(1);
    expect(await page.getByTestId('retry-previous-status').textContent()).toBe('FAILED');
  });

  test('send a signal with a JSON payload (an invalid payload is caught in the dialog)', async () => {
    const waiter = await started(DashWaiterWorkflow, { order: 'o-6' }, 'WAITING');
    await open(`/runs/${waiter.runId}`);
    await page.getByTestId('action-signal').click();
    await page.getByTestId('dialog-name').fill('go');
    await page.getByTestId('dialog-payload').fill('{ "n": 1');
    await page.getByTestId('dialog-confirm').click();
    expect(await page.getByTestId('dialog-error').textContent()).toContain('not valid JSON');
    await page.getByTestId('dialog-payload').fill('{ "n": 1 }');
    await confirmDialog();
    await page.getByTestId('run-status').filter({ hasText: 'COMPLETED' }).waitFor({ timeout: 20_000 });
    expect(JSON.parse((await page.getByTestId('run-output').textContent()) ?? 'null')).toEqual({ received: { n: 1 } });
    expect(await page.getByTestId('signal').count()).toBe(1);
  });

  test('workflows: set a default version through the dialog', async () => {
    await open('/workflows');
    const card = page.locator('[data-testid=workflow][data-name="dash-versioned"]');
    await card.waitFor();
    expect(await card.locator('[data-testid=version][data-default=true]').getAttribute('data-version')).toBe('2');
    await card.getByTestId('set-default-1').click();
    await confirmDialog();
    await card.locator('[data-testid=version][data-version="1"][data-default=true]').waitFor();
    expect(await client.getDefaultVersion('dash-versioned')).toBe(1);
    await shot('dashboard-workflows.png', '[data-testid=workflow][data-name="dash-versioned"]');
  });

  test('read-only: actions are disabled with a note, and the API refuses them with 403 (to the page and to fetch)', async () => {
    const sleeper = await started(DashSleeperWorkflow, { order: 'o-7' }, 'SLEEPING');
    await open(`/runs/${sleeper.runId}`, roBase);
    await page.getByTestId('read-only').waitFor();
    expect(await page.getByTestId('action-cancel').isDisabled()).toBe(true);
    expect(await page.getByTestId('run-actions').textContent()).toContain('read-only');

    // a page that believes it may act (opened before the mount became read-only) shows the server's refusal
    await page.route('**/api/info', (route) => route.fulfill({ json: { path: '/ops-ro', readOnly: false, version: 'test' } }));
    await page.reload();
    await page.getByTestId('action-cancel').click();
    await page.getByTestId('dialog-confirm').click();
    const refusal = page.getByTestId('dialog-error');
    await refusal.waitFor();
    expect(await refusal.textContent()).toMatch(/^403 KAGZI_READ_ONLY: /);

    const response = await fetch(`${roBase}/api/runs/${sleeper.runId}/cancel`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(response.status).toBe(403);
    expect(((await response.json()) as { code: string }).code).toBe('KAGZI_READ_ONLY');
    expect(await sleeper.status()).toBe('SLEEPING');
    await client.cancel(sleeper.runId);
  });

  test('a guard that denies blocks the page and the API with 403', async () => {
    const pageResponse = await page.goto(`${lockedBase}/`);
    expect(pageResponse?.status()).toBe(403);
    const asset = await fetch(`${lockedBase}/assets/app.js`);
    expect(asset.status).toBe(403);
    const api = await fetch(`${lockedBase}/api/runs`);
    expect(api.status).toBe(403);
    expect(((await api.json()) as { code: string }).code).toBe('KAGZI_FORBIDDEN');
  });

  test('keyboard: a run link opens with Enter and focus moves to the page heading; a step expands with Enter', async () => {
    await open('/runs?workflow=dash-parallel');
    const link = page.locator(`[data-testid=run-row][data-run-id="${parallel.runId}"] a.run-link`);
    await link.focus();
    await page.keyboard.press('Enter');
    await page.getByTestId('timeline').waitFor();
    await waitFor('the heading to have focus', () => page.evaluate('document.activeElement && document.activeElement.tagName === "H1"'));
    const summary = page.locator('[data-testid=step][data-key="Desk.validate#1"] summary');
    await summary.focus();
    await page.keyboard.press('Enter');
    expect(await page.locator('[data-testid=step][data-key="Desk.validate#1"]').getAttribute('open')).toBe('');
  });

  test('a narrow window (400 px): no sideways scrolling on the runs list and a run page', async () => {
    await page.setViewportSize({ width: 400, height: 800 });
    await open('/runs');
    await page.getByTestId('run-row').first().waitFor();
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(400);
    await open(`/runs/${parallel.runId}`);
    await page.getByTestId('timeline').waitFor();
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(400);
  });

  test('workers: the live one, and one that stopped heartbeating shows LOST, highlighted; schedules', async () => {
    // a worker of another host that died without a goodbye: its row still says RUNNING, its heartbeat is old
    await sql(
      db.url,
      `insert into kagzi.workers (id, name, hostname, pid, status, started_at, last_heartbeat_at, concurrency, heartbeat_interval_ms, active_runs, workflows, library_version)
       values (gen_random_uuid(), 'billing-7f3a', 'node-b', 4242, 'RUNNING', now() - interval '1 hour', now() - interval '2 minutes', 8, 500, 2, '{dash-fails@1}', '0.1.0')`,
    );
    await open('/workers');
    const worker = page.locator('[data-testid=worker][data-status=RUNNING]');
    await worker.first().waitFor();
    expect(await worker.first().textContent()).toContain('dash-parallel@1');
    const lost = page.locator('[data-testid=worker][data-status=LOST]');
    expect(await lost.textContent()).toContain('billing-7f3a');
    expect(await lost.getAttribute('class')).toContain('worker-lost');
    await shot('dashboard-workers.png');
    await open('/schedules');
    const schedule = page.getByTestId('schedule');
    await schedule.waitFor();
    expect(await schedule.textContent()).toMatch(/dash-nightly v1.*0 3 \* \* \*.*Europe\/Berlin/);
  });

  test('the runs list with a mix of runs (screenshot), live refresh shows a new run without a reload', async () => {
    await started(DashSleeperWorkflow, { order: 'o-8' }, 'SLEEPING');
    await started(DashWaiterWorkflow, { order: 'o-9' }, 'WAITING');
    await open('/runs');
    await page.getByTestId('run-row').first().waitFor();
    const fresh = await client.start(DashVersionedV1, { order: 'o-live' });
    await page.locator(`[data-testid=run-row][data-run-id="${fresh.runId}"]`).waitFor({ timeout: 10_000 });
    await shot('dashboard-runs.png');
  });

  test('render figures: the runs list with 100,000 runs in the database, a run with 1,000 steps', async () => {
    const many = await client.start(DashManyWorkflow, { n: 1000 });
    await sql(
      db.url,
      `insert into kagzi.workflow_runs (id, workflow_name, workflow_version, status, input, output, idempotency_key, created_at, updated_at, completed_at)
       select gen_random_uuid(), 'dash-versioned', 1, case when i % 10 = 0 then 'FAILED' else 'COMPLETED' end, '{"json":{}}', '{"json":null}',
              'bulk-' || i, now() - interval '1 day' - i * interval '1 second', now() - interval '1 day', now() - interval '1 day'
       from generate_series(1, 100000) i`,
    );
    await waitForStatus(many, 'COMPLETED', 60_000);

    const figures: string[] = [];
    /** Page load (blank page to rows on screen, API calls included) and, apart, the main API call from Node. */
    const measure = async (label: string, hash: string, apiPath: string, ready: () => Promise<unknown>): Promise<void> => {
      const a0 = Date.now();
      expect((await fetch(`${base}/api/${apiPath}`)).status).toBe(200);
      const apiMs = Date.now() - a0;
      await page.goto('about:blank');
      const t0 = Date.now();
      await page.goto(`${base}/#${hash}`);
      await ready();
      await page.evaluate('new Promise((painted) => requestAnimationFrame(() => requestAnimationFrame(painted)))');
      figures.push(`${label}: ${Date.now() - t0} ms in the browser (GET api/${apiPath.split('?')[0]} alone: ${apiMs} ms)`);
    };
    await measure('runs list, 50 of 100,000+ runs, with stats', '/runs', 'runs?limit=50', () => page.getByTestId('run-row').nth(49).waitFor());
    await measure('runs list filtered by FAILED', '/runs?status=FAILED', 'runs?status=FAILED&limit=50', () => page.getByTestId('run-row').nth(49).waitFor());
    await measure('runs list searched by idempotency key', '/runs?q=bulk-77777', 'runs?q=bulk-77777', () => page.getByTestId('run-row').first().waitFor());
    await measure('run with 1,000 steps', `/runs/${many.runId}`, `runs/${many.runId}`, () => page.getByTestId('step').nth(999).waitFor({ state: 'attached' }));
    expect(await page.getByTestId('step').count()).toBe(1000);
    console.log(`Dashboard render times in headless Chromium (blank page to rows painted):\n  ${figures.join('\n  ')}`);
  }, 120_000);
});
