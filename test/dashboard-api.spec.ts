/**
 * KagziDashboardModule's JSON API over real HTTP (SPEC §5.5), on real PostgreSQL: listing, filters,
 * search and paging; a run's details with its timeline fields; actions and their refusals (400, 403,
 * 404, 409, read-only, a denying guard); workflows and versions, workers, schedules, stats; the page
 * and its assets served from the package.
 */
import { CanActivate, ConsoleLogger, ExecutionContext, INestApplication, Injectable, Logger, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { KagziDashboardModule, KagziDashboardOptions, KagziModule, PermanentError, Step, Workflow, WorkflowClient, WorkflowContext, WorkflowDefinition } from '@kagzi/nestjs';
import { createTestDatabase, TestDatabase } from './support/database';
import { FAST_WORKER, waitFor } from './support/app';

@Injectable()
class Desk {
  @Step()
  async stamp(id: string): Promise<string> {
    return `${id}:stamped`;
  }

  @Step()
  async reject(id: string): Promise<never> {
    throw new PermanentError(`form ${id} rejected`, { code: 'FORM_REJECTED' });
  }
}

@Workflow({ name: 'DashForm', version: 1 })
class FormV1 implements WorkflowDefinition<{ id: string; fail?: boolean; wait?: boolean }, string> {
  constructor(private readonly desk: Desk) {}
  async run(input: { id: string; fail?: boolean; wait?: boolean }, ctx: WorkflowContext): Promise<string> {
    if (input.wait) await ctx.waitForSignal('go');
    const [a, b] = await ctx.parallel([() => this.desk.stamp(`${input.id}-a`), () => this.desk.stamp(`${input.id}-b`)]);
    if (input.fail) await this.desk.reject(input.id);
    return `${a}+${b}`;
  }
}

@Workflow({ name: 'DashForm', version: 2 })
class FormV2 implements WorkflowDefinition<{ id: string }, string> {
  async run(input: { id: string }): Promise<string> {
    return `v2:${input.id}`;
  }
}

@Injectable()
class DenyAll implements CanActivate {
  canActivate(_context: ExecutionContext): boolean {
    return false;
  }
}

/** An app service a guard injects. */
@Injectable()
class ApiKeys {
  isValid(key: unknown): boolean {
    return key === 'secret';
  }
}

@Injectable()
class ApiKeyGuard implements CanActivate {
  constructor(private readonly keys: ApiKeys) {}
  canActivate(context: ExecutionContext): boolean {
    return this.keys.isValid(context.switchToHttp().getRequest<{ headers: Record<string, unknown> }>().headers['x-api-key']);
  }
}

let db: TestDatabase;
const apps: INestApplication[] = [];

async function boot(dashboard: KagziDashboardOptions, providers: Array<new (...args: never[]) => unknown> = []): Promise<{ app: INestApplication; base: string; client: WorkflowClient }> {
  @Module({ imports: [KagziModule.forRoot({ database: { url: db.url }, worker: FAST_WORKER }), KagziDashboardModule.forRoot(dashboard)], providers: [Desk, FormV1, FormV2, ...providers] })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).setLogger(new ConsoleLogger({ logLevels: ['error'] })).compile();
  const app = moduleRef.createNestApplication({ logger: ['error'] });
  await app.listen(0, '127.0.0.1');
  apps.push(app);
  const url = await app.getUrl();
  return { app, base: `${url.replace('[::1]', '127.0.0.1')}${dashboard.path ?? '/kagzi'}`, client: app.get(WorkflowClient) };
}

/** A parsed JSON answer, read loosely: the tests check it with matchers. */
type Json = ReturnType<typeof JSON.parse>;

async function call(base: string, path: string, init?: { method?: string; body?: unknown }): Promise<{ status: number; body: Json; type: string | null }> {
  const response = await fetch(`${base}${path}`, {
    method: init?.method ?? 'GET',
    headers: init?.body === undefined ? {} : { 'content-type': 'application/json' },
    body: init?.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await response.text();
  const type = response.headers.get('content-type');
  return { status: response.status, body: type?.includes('json') ? JSON.parse(text) : text, type };
}

let base: string;
let client: WorkflowClient;
const ids: Record<string, string> = {};

beforeAll(async () => {
  db = await createTestDatabase('dashboard_api');
  ({ base, client } = await boot({}));
  await client.setDefaultVersion('DashForm', 1);
  const ok = await client.start(FormV1, { id: 'ok' }, { idempotencyKey: 'form-ok' });
  const bad = await client.start(FormV1, { id: 'bad', fail: true });
  const waiting = await client.start(FormV1, { id: 'wait', wait: true });
  await ok.result({ timeout: '10s' });
  await bad.result({ timeout: '10s' }).catch(() => undefined);
  ids.ok = ok.runId;
  ids.bad = bad.runId;
  ids.waiting = waiting.runId;
  await waitFor('the waiting run parks', async () => (await waiting.status()) === 'WAITING');
});

afterAll(async () => {
  for (const app of apps) await app.close();
  await db?.drop();
});

describe('runs', () => {
  test('lists newest first, filters by status and workflow, pages with the cursor', async () => {
    const all = await call(base, '/api/runs');
    expect(all.status).toBe(200);
    expect(all.body.items.map((r: { runId: string }) => r.runId)).toEqual([ids.waiting, ids.bad, ids.ok]);
    const failed = await call(base, '/api/runs?status=FAILED');
    expect(failed.body.items).toEqual([expect.objectContaining({ runId: ids.bad, status: 'FAILED', workflowName: 'DashForm', version: 1 })]);
    const several = await call(base, '/api/runs?status=failed,completed&workflow=DashForm');
    expect(several.body.items.map((r: { runId: string }) => r.runId)).toEqual([ids.bad, ids.ok]);
    const page1 = await call(base, '/api/runs?limit=2');
    expect(page1.body.items).toHaveLength(2);
    const page2 = await call(base, `/api/runs?limit=2&cursor=${encodeURIComponent(page1.body.nextCursor)}`);
    expect(page2.body.items.map((r: { runId: string }) => r.runId)).toEqual([ids.ok]);
    expect(page2.body.nextCursor).toBeUndefined();
  });

  test('searches by run id and by idempotency key', async () => {
    expect((await call(base, `/api/runs?q=${ids.bad}`)).body.items.map((r: { runId: string }) => r.runId)).toEqual([ids.bad]);
    expect((await call(base, `/api/runs?q=${ids.bad.toUpperCase()}`)).body.items).toHaveLength(1);
    expect((await call(base, '/api/runs?q=form-ok')).body.items).toEqual([expect.objectContaining({ runId: ids.ok, idempotencyKey: 'form-ok' })]);
    expect((await call(base, '/api/runs?q=form-ok&status=FAILED')).body.items).toEqual([]);
    expect((await call(base, '/api/runs?q=nothing-like-this')).body.items).toEqual([]);
  });

  test('bad query parameters are 400 with a message naming them', async () => {
    const forged = (t: string): string => Buffer.from(JSON.stringify([t, '00000000-0000-4000-8000-000000000000'])).toString('base64url');
    for (const query of [
      'status=DONE', 'limit=0', 'limit=abc', 'limit=201', 'colour=red', 'q=', 'q=%00', 'q=abc%00def', 'workflow=%00&q=x',
      `cursor=${forged('2030-02-30 00:00:00+00')}`, `cursor=${forged('0000-01-01 00:00:00+00')}`, `cursor=${forged('2030-01-01 00:00:00+16:00')}`,
    ]) {
      const answer = await call(base, `/api/runs?${query}`);
      expect(answer.status).toBe(400);
      // The query's shape is checked by the route; a cursor's content by listRuns (InvalidOptionsError).
      expect(answer.body.code).toBe(query.startsWith('cursor=') ? 'KAGZI_INVALID_OPTIONS' : 'KAGZI_BAD_REQUEST');
      expect(answer.body.message).toMatch(/query|cursor/);
    }
    const cursor = await call(base, '/api/runs?cursor=garbage');
    expect(cursor.status).toBe(400);
  });

  test("a run's details carry what the timeline needs: kinds, times, the group and branch of each step, attempts and errors", async () => {
    const { status, body } = await call(base, `/api/runs/${ids.bad}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ runId: ids.bad, status: 'FAILED', input: { id: 'bad', fail: true }, error: { kind: 'BUSINESS_LOGIC_ERROR', code: 'FORM_REJECTED' } });
    // A plain ctx.parallel records no row of its own: its steps carry the group's key and their branch.
    const inGroup = body.steps.filter((s: { group?: string }) => s.group === '$parallel#1');
    expect(inGroup.map((s: { branch: string; kind: string }) => [s.kind, s.branch]).sort()).toEqual([['STEP', '$parallel#1[0]'], ['STEP', '$parallel#1[1]']]);
    for (const step of inGroup) expect(Date.parse(step.completedAt)).toBeGreaterThanOrEqual(Date.parse(step.startedAt));
    const rejected = body.steps.find((s: { name: string }) => s.name === 'Desk.reject');
    expect(rejected).toMatchObject({ kind: 'STEP', status: 'FAILED', attempts: [{ attempt: 1, error: { code: 'FORM_REJECTED' } }] });
    expect(rejected.group).toBeUndefined();
  });

  test('actions take JSON only (a form or text body from another site is refused), and a signal name may not be one of the engine\'s ($…)', async () => {
    const post = (path: string, type: string, body: string) => fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': type, origin: 'https://evil.example' }, body });
    for (const [type, body] of [['text/plain', ''], ['application/x-www-form-urlencoded', 'name=go&payload=evil'], ['multipart/form-data; boundary=x', '--x--']]) {
      const answer = await post(`/api/runs/${ids.waiting}/signal`, type, body);
      expect(answer.status).toBe(400);
      expect(await answer.json()).toMatchObject({ code: 'KAGZI_BAD_REQUEST', message: expect.stringContaining('application/json') });
    }
    expect((await post('/api/workflows/DashForm/versions/1/deprecate', 'text/plain', '')).status).toBe(400);
    const forged = await call(base, `/api/runs/${ids.waiting}/signal`, { method: 'POST', body: { name: '$child:00000000-0000-4000-8000-000000000000', payload: { status: 'COMPLETED' } } });
    expect(forged).toMatchObject({ status: 400, body: { code: 'KAGZI_INVALID_OPTIONS', message: expect.stringContaining('reserved') } });
    expect(await client.getHandle(ids.waiting).status()).toBe('WAITING');
  });

  test('unknown and malformed run ids are 404 with a JSON error', async () => {
    const unknown = await call(base, '/api/runs/00000000-0000-4000-8000-000000000000');
    expect(unknown).toMatchObject({ status: 404, body: { code: 'KAGZI_RUN_NOT_FOUND' } });
    expect((await call(base, '/api/runs/not-a-run')).status).toBe(404);
    expect((await call(base, '/api/runs/00000000-0000-4000-8000-000000000000/cancel', { method: 'POST', body: {} })).status).toBe(404);
  });

  test('signal, cancel and retry act on the run; an ended run is 409', async () => {
    const signalled = await call(base, `/api/runs/${ids.waiting}/signal`, { method: 'POST', body: { name: 'go', payload: { by: 'dashboard' } } });
    expect(signalled).toMatchObject({ status: 200, body: { runId: ids.waiting } });
    await client.getHandle(ids.waiting).result({ timeout: '10s' });
    expect((await call(base, `/api/runs/${ids.waiting}/cancel`, { method: 'POST', body: {} })).status).toBe(409);
    expect((await call(base, `/api/runs/${ids.waiting}/signal`, { method: 'POST', body: { name: 'go' } })).body.code).toBe('KAGZI_RUN_NOT_ACTIVE');
    expect((await call(base, `/api/runs/${ids.ok}/retry`, { method: 'POST', body: {} })).status).toBe(409);
    expect((await call(base, `/api/runs/${ids.bad}/signal`, { method: 'POST', body: { payload: 1 } })).status).toBe(400);
    expect((await call(base, `/api/runs/${ids.bad}/retry`, { method: 'POST', body: { force: true } })).status).toBe(400);

    const parked = await client.start(FormV1, { id: 'cancel-me', wait: true });
    await waitFor('parked', async () => (await parked.status()) === 'WAITING');
    expect((await call(base, `/api/runs/${parked.runId}/cancel`, { method: 'POST', body: { reason: 'changed my mind' } })).status).toBe(200);
    await waitFor('cancelled', async () => (await parked.status()) === 'CANCELLED');
    expect((await call(base, `/api/runs/${parked.runId}`)).body).toMatchObject({ cancelReason: 'changed my mind', cancelRequestedAt: expect.any(String) });
    expect((await call(base, `/api/runs/${ids.ok}`)).body.idempotencyKey).toBe('form-ok');
    expect((await call(base, `/api/runs/${ids.bad}/retry`, { method: 'POST', body: {} })).status).toBe(200);
    await waitFor('retried run fails again', async () => (await client.getRun(ids.bad)).retries.length === 1);
  });
});

describe('workflows, workers, schedules, stats', () => {
  test('workflows list every version; set default and deprecate, with 404 and 409 refusals', async () => {
    const { body } = await call(base, '/api/workflows');
    const form = body.find((w: { name: string }) => w.name === 'DashForm');
    expect(form.versions.map((v: { version: number; isDefault: boolean }) => [v.version, v.isDefault])).toEqual([[1, true], [2, false]]);
    expect(await call(base, '/api/workflows/DashForm/default', { method: 'POST', body: { version: 2 } })).toMatchObject({ status: 200, body: { name: 'DashForm', version: 2 } });
    expect(await client.getDefaultVersion('DashForm')).toBe(2);
    expect((await call(base, '/api/workflows/DashForm/default', { method: 'POST', body: { version: 9 } })).status).toBe(404);
    expect((await call(base, '/api/workflows/DashForm/default', { method: 'POST', body: { version: '2' } })).status).toBe(400);
    expect((await call(base, '/api/workflows/DashForm/versions/2/deprecate', { method: 'POST', body: {} })).status).toBe(409); // the default
    expect(await call(base, '/api/workflows/DashForm/versions/1/deprecate', { method: 'POST', body: {} })).toMatchObject({ status: 200, body: { version: 1 } });
    expect((await call(base, '/api/workflows/DashForm/versions/x/deprecate', { method: 'POST', body: {} })).status).toBe(400);
    expect((await call(base, '/api/workflows/Nope/versions/1/deprecate', { method: 'POST', body: {} })).status).toBe(404);
  });

  test('workers, schedules and stats', async () => {
    const workers = await call(base, '/api/workers');
    expect(workers.body).toEqual(expect.arrayContaining([expect.objectContaining({ status: 'RUNNING', workflows: expect.arrayContaining(['DashForm@1', 'DashForm@2']) })]));
    expect((await call(base, '/api/schedules')).body).toEqual([]);
    const stats = await call(base, '/api/stats');
    expect(stats.body).toMatchObject({ byStatus: { COMPLETED: expect.any(Number), FAILED: expect.any(Number) }, backlog: expect.any(Number), measuredAt: expect.any(String) });
  });
});

describe('the page and access', () => {
  test('the page is served with a base URL for its relative assets; unknown files are 404', async () => {
    for (const path of ['', '/']) {
      const page = await call(base, path);
      expect(page.status).toBe(200);
      expect(page.type).toContain('text/html');
      expect(page.body).toContain('<base href="/kagzi/">');
    }
    expect((await call(base, '/assets/nothing.js')).status).toBe(404);
    expect((await call(base, '/assets/..%2F..%2Fpackage.json')).status).toBe(404);
    expect((await call(base, '/api/info')).body).toEqual({ path: '/kagzi', readOnly: false, version: expect.any(String) });
  });

  test('read-only: every action is 403 KAGZI_READ_ONLY, reads work', async () => {
    const ro = await boot({ path: '/ops/runs', readOnly: true });
    expect((await call(ro.base, '/api/runs')).status).toBe(200);
    expect((await call(ro.base, '/api/info')).body.readOnly).toBe(true);
    for (const [path, body] of [
      [`/api/runs/${ids.bad}/cancel`, {}], [`/api/runs/${ids.bad}/retry`, {}], [`/api/runs/${ids.bad}/signal`, { name: 'go' }],
      ['/api/workflows/DashForm/default', { version: 1 }], ['/api/workflows/DashForm/versions/1/deprecate', {}],
    ] as const) {
      expect(await call(ro.base, path, { method: 'POST', body })).toMatchObject({ status: 403, body: { code: 'KAGZI_READ_ONLY' } });
    }
  });

  test('a guard that denies blocks the API and the page', async () => {
    const guarded = await boot({ path: '/guarded', guards: [DenyAll] });
    for (const path of ['/api/runs', '/api/info', '', '/assets/app.js']) {
      expect(await call(guarded.base, path)).toMatchObject({ status: 403, body: { code: 'KAGZI_FORBIDDEN' } });
    }
    expect((await call(guarded.base, `/api/runs/${ids.bad}/retry`, { method: 'POST', body: {} })).status).toBe(403);
  });

  test('an open dashboard (no guard, not read-only) says so at boot; a guarded or read-only one does not', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      await boot({ path: '/open' });
      await boot({ path: '/closed', readOnly: true });
      await boot({ path: '/locked', guards: [DenyAll] });
      const lines = warn.mock.calls.map((c) => String(c[0])).filter((m) => m.includes('The dashboard at'));
      expect(lines).toEqual([expect.stringContaining('The dashboard at /open is open')]);
    } finally {
      warn.mockRestore();
    }
  });

  test("a guard that injects the app's own services (provided in the app's module) guards every route", async () => {
    const keyed = await boot({ path: '/keyed', guards: [ApiKeyGuard] }, [ApiKeys, ApiKeyGuard]);
    expect((await call(keyed.base, '/api/info')).status).toBe(403);
    const allowed = await fetch(`${keyed.base}/api/info`, { headers: { 'x-api-key': 'secret' } });
    expect(allowed.status).toBe(200);
  });

  test('bad options are refused when the module is built', () => {
    expect(() => KagziDashboardModule.forRoot({ path: '/' })).toThrow(/root/);
    expect(() => KagziDashboardModule.forRoot({ path: '/a/../b' })).toThrow(/path/);
    expect(() => KagziDashboardModule.forRoot({ readOnly: 'yes' as unknown as boolean })).toThrow(/readOnly/);
    expect(() => KagziDashboardModule.forRoot({ colour: 'red' } as KagziDashboardOptions)).toThrow(/unknown option "colour"/);
  });
});
