/**
 * Workflow versioning (SPEC §1 "Versions", Client, WorkflowVersionInfo), against real PostgreSQL: the
 * database-held default and its three cases, pinning, deprecation, listVersions, countWorkflows,
 * routing by (name, version) between workers, and a run of an unserved version that waits.
 * Several apps on one database stand for several processes or deploys. Each app provides APP (a label),
 * and every workflow returns the label of the app that executed it and which class's code ran, so
 * "ran on v1 code, in the old process" is read from the result, not inferred.
 */
import { Inject, Injectable, Provider, Type } from '@nestjs/common';
import {
  DefaultVersionError,
  Duration,
  KagziHealthIndicator,
  PermanentError,
  RunStatus,
  Step,
  Workflow,
  WorkflowContext,
  WorkflowDefinition,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowVersionDeprecatedError,
  WorkflowVersionInfo,
  WorkflowVersionNotFoundError,
} from '@kagzi/nestjs';
import { createTestDatabase, TestDatabase } from './support/database';
import { bootKagzi, closeAllApps, delay, deferred, Deferred, KagziTestApp, rejectionOf, sql, waitFor, waitForStatus } from './support/app';

// ---------------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------------

/** Injection token: which app (process, deploy) this container is. */
const APP = 'VERSIONS_SPEC_APP';

interface Tag {
  tag: string;
  fail?: boolean;
}

/** What a run reports about itself: the app that executed it and the code that ran. */
interface Ran {
  app: string;
  code: string;
  ctxVersion: number;
  tag: string;
}

const IN_FLIGHT: RunStatus[] = ['PENDING', 'RUNNING', 'SLEEPING'];

function app(label: string, ...providers: Provider[]): Provider[] {
  return [{ provide: APP, useValue: label }, ...providers];
}

/** A @Workflow class for (name, version). Each call makes a new class: call it once per pair. */
function versioned(name: string, version: number): Type<WorkflowDefinition<Tag, Ran>> {
  @Workflow({ name, version })
  class Versioned implements WorkflowDefinition<Tag, Ran> {
    constructor(@Inject(APP) private readonly label: string) {}

    async run(input: Tag, ctx: WorkflowContext): Promise<Ran> {
      if (input.fail) throw new PermanentError(`${name} v${version} refused ${input.tag}`, { code: 'REFUSED' });
      return { app: this.label, code: `${name} v${version}`, ctxVersion: ctx.version, tag: input.tag };
    }
  }
  Object.defineProperty(Versioned, 'name', { value: `${name}V${version}` });
  return Versioned;
}

const PricingV1 = versioned('Pricing', 1);
const PricingV2 = versioned('Pricing', 2);
const PricingV3 = versioned('Pricing', 3);
const LedgerV1 = versioned('Ledger', 1);
const LedgerV2 = versioned('Ledger', 2);
const TallyV1 = versioned('Tally', 1);
const TallyV2 = versioned('Tally', 2);
const RouteV1 = versioned('Route', 1);
const RouteV2 = versioned('Route', 2);
const StrandedV1 = versioned('Stranded', 1);
const StrandedV2 = versioned('Stranded', 2);
const FillerV1 = versioned('Filler', 1);

// A deploy: Ship v1 packs; v2 insures, then packs. Packing an order with a gate blocks until it opens.
const gates = new Map<string, Deferred>();
const packing = new Set<string>();

@Injectable()
class ShippingDesk {
  constructor(@Inject(APP) private readonly label: string) {}

  @Step({ name: 'Desk.pack' })
  async pack(orderId: string): Promise<string> {
    packing.add(orderId);
    await gates.get(orderId)?.promise;
    return `packed ${orderId} in ${this.label}`;
  }

  @Step({ name: 'Desk.insure' })
  async insure(orderId: string): Promise<string> {
    return `insured ${orderId}`;
  }
}

@Workflow({ name: 'Ship', version: 1 })
class ShipV1 implements WorkflowDefinition<Tag, Ran> {
  constructor(
    private readonly desk: ShippingDesk,
    @Inject(APP) private readonly label: string,
  ) {}

  async run(input: Tag, ctx: WorkflowContext): Promise<Ran> {
    const packed = await this.desk.pack(input.tag);
    return { app: this.label, code: 'Ship v1', ctxVersion: ctx.version, tag: packed };
  }
}

@Workflow({ name: 'Ship', version: 2 })
class ShipV2 implements WorkflowDefinition<Tag, Ran> {
  constructor(
    private readonly desk: ShippingDesk,
    @Inject(APP) private readonly label: string,
  ) {}

  async run(input: Tag, ctx: WorkflowContext): Promise<Ran> {
    const insured = await this.desk.insure(input.tag);
    const packed = await this.desk.pack(input.tag);
    return { app: this.label, code: 'Ship v2', ctxVersion: ctx.version, tag: `${insured}, ${packed}` };
  }
}

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('versions');
});

afterAll(async () => {
  for (const gate of gates.values()) gate.resolve();
  await closeAllApps();
  await db?.drop();
});

function byVersion(infos: WorkflowVersionInfo[], version: number): WorkflowVersionInfo {
  const info = infos.find((v) => v.version === version);
  if (!info) throw new Error(`listVersions has no version ${version}: ${JSON.stringify(infos)}`);
  return info;
}

/** The operator's view of one version, compared whole (toMatchObject would accept any superset of `runs`). */
function stateOf(info: WorkflowVersionInfo): Pick<WorkflowVersionInfo, 'isDefault' | 'deprecated' | 'served' | 'runs'> {
  return { isDefault: info.isDefault, deprecated: info.deprecated, served: info.served, runs: info.runs };
}

async function unservedVersions(kagzi: KagziTestApp): Promise<string[]> {
  const result = await kagzi.app.get(KagziHealthIndicator).isHealthy();
  return (result.kagzi as unknown as { unservedVersions: string[] }).unservedVersions;
}

// ---------------------------------------------------------------------------------------------------
// Default resolution: highest registered, database default, highest not deprecated
// ---------------------------------------------------------------------------------------------------

describe('the default version', () => {
  let first: KagziTestApp;
  let redeployed: KagziTestApp;
  let bystander: KagziTestApp;

  afterAll(async () => {
    await Promise.all([first?.close(), redeployed?.close(), bystander?.close()]);
  });

  it('without a default set, start() takes the highest registered version; options.version pins another', async () => {
    first = await bootKagzi({ url: db.url, providers: app('first', PricingV1, PricingV2) });
    expect(await first.client.getDefaultVersion('Pricing')).toBe(2);

    const byDefault = await first.client.start<Tag, Ran>('Pricing', { tag: 'a' });
    expect(await byDefault.result({ timeout: '10s' })).toEqual({ app: 'first', code: 'Pricing v2', ctxVersion: 2, tag: 'a' });
    expect((await first.client.getRun(byDefault.runId)).version).toBe(2);

    const pinned = await first.client.start<Tag, Ran>('Pricing', { tag: 'b' }, { version: 1 });
    expect(await pinned.result({ timeout: '10s' })).toEqual({ app: 'first', code: 'Pricing v1', ctxVersion: 1, tag: 'b' });
    expect((await first.client.getRun(pinned.runId)).version).toBe(1);

    // A class names the workflow; the version still comes from options.version or the default.
    const byClass = await first.client.start(PricingV1, { tag: 'c' });
    expect(await byClass.result({ timeout: '10s' })).toMatchObject({ code: 'Pricing v2' });
    const byClassPinned = await first.client.start(PricingV2, { tag: 'd' }, { version: 1 });
    expect(await byClassPinned.result({ timeout: '10s' })).toMatchObject({ code: 'Pricing v1' });

    const versions = await first.client.listVersions('Pricing');
    expect(versions.map((v) => [v.version, v.isDefault])).toEqual([
      [1, false],
      [2, true],
    ]);
  });

  it('setDefaultVersion sends new runs to that version, in every process', async () => {
    await first.client.setDefaultVersion('Pricing', 1);
    expect(await first.client.getDefaultVersion('Pricing')).toBe(1);
    const handle = await first.client.start<Tag, Ran>('Pricing', { tag: 'e' });
    expect(await handle.result({ timeout: '10s' })).toMatchObject({ code: 'Pricing v1', ctxVersion: 1 });
    // Explicit versions still win over the default.
    const pinned = await first.client.start<Tag, Ran>('Pricing', { tag: 'f' }, { version: 2 });
    expect(await pinned.result({ timeout: '10s' })).toMatchObject({ code: 'Pricing v2', ctxVersion: 2 });

    // A client-only process without any workflow class reads the same default from the database.
    bystander = await bootKagzi({ url: db.url, worker: false });
    expect(await bystander.client.getDefaultVersion('Pricing')).toBe(1);
    const fromBystander = await bystander.client.start<Tag, Ran>('Pricing', { tag: 'g' });
    expect(await fromBystander.result({ timeout: '10s' })).toMatchObject({ app: 'first', code: 'Pricing v1' });

    const rows = await sql<{ version: number }>(db.url, `select version from kagzi.workflow_versions where workflow_name = 'Pricing' and is_default`);
    expect(rows).toEqual([{ version: 1 }]);
  });

  it('survives closing the app and booting a deploy with another version set (registering never changes it)', async () => {
    const before = await bystander.client.listVersions('Pricing');
    await first.close();
    await delay(20); // so a refreshed last_seen_at is visibly later
    redeployed = await bootKagzi({ url: db.url, providers: app('redeployed', PricingV1, PricingV2, PricingV3) });

    expect(await redeployed.client.getDefaultVersion('Pricing')).toBe(1);
    expect(await bystander.client.getDefaultVersion('Pricing')).toBe(1);
    const handle = await redeployed.client.start<Tag, Ran>('Pricing', { tag: 'h' });
    expect(await handle.result({ timeout: '10s' })).toEqual({ app: 'redeployed', code: 'Pricing v1', ctxVersion: 1, tag: 'h' });

    const after = await redeployed.client.listVersions('Pricing');
    expect(after.map((v) => [v.version, v.isDefault, v.deprecated])).toEqual([
      [1, true, false],
      [2, false, false],
      [3, false, false],
    ]);
    for (const version of [1, 2]) {
      const old = byVersion(before, version);
      const now = byVersion(after, version);
      expect(now.registeredAt).toEqual(old.registeredAt);
      expect(now.lastSeenAt.getTime()).toBeGreaterThan(old.lastSeenAt.getTime());
    }
    expect(byVersion(after, 3).registeredAt.getTime()).toBeGreaterThan(byVersion(before, 2).registeredAt.getTime());
  });

  it('keeps the set default when the highest version is deprecated', async () => {
    await redeployed.client.deprecateVersion('Pricing', 3);
    expect(await redeployed.client.getDefaultVersion('Pricing')).toBe(1);
    const handle = await redeployed.client.start<Tag, Ran>('Pricing', { tag: 'i' });
    expect(await handle.result({ timeout: '10s' })).toMatchObject({ code: 'Pricing v1' });
  });

  it('with no default set, takes the highest version that is not deprecated', async () => {
    // No API clears a default; clearing it by hand is the only way to reach "no default, highest deprecated".
    await sql(db.url, `update kagzi.workflow_versions set is_default = false where workflow_name = 'Pricing'`);
    expect(await redeployed.client.getDefaultVersion('Pricing')).toBe(2);
    const handle = await redeployed.client.start<Tag, Ran>('Pricing', { tag: 'j' });
    expect(await handle.result({ timeout: '10s' })).toEqual({ app: 'redeployed', code: 'Pricing v2', ctxVersion: 2, tag: 'j' });
    const versions = await redeployed.client.listVersions('Pricing');
    expect(versions.map((v) => [v.version, v.isDefault, v.deprecated])).toEqual([
      [1, false, false],
      [2, true, false],
      [3, false, true],
    ]);
  });
});

// ---------------------------------------------------------------------------------------------------
// Refusals: unknown names and versions, deprecated versions, deprecating the default
// ---------------------------------------------------------------------------------------------------

describe('refusals', () => {
  let kagzi: KagziTestApp;

  beforeAll(async () => {
    kagzi = await bootKagzi({ url: db.url, providers: app('ledger', LedgerV1, LedgerV2) });
  });

  afterAll(() => kagzi?.close());

  it('an unknown workflow name: WorkflowNotFoundError from every call, nothing inserted', async () => {
    const before = await kagzi.client.countWorkflows();
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['start', () => kagzi.client.start('Ledgr', { tag: 'x' })],
      ['start with a version', () => kagzi.client.start('Ledgr', { tag: 'x' }, { version: 1 })],
      ['getDefaultVersion', () => kagzi.client.getDefaultVersion('Ledgr')],
      ['setDefaultVersion', () => kagzi.client.setDefaultVersion('Ledgr', 1)],
      ['deprecateVersion', () => kagzi.client.deprecateVersion('Ledgr', 1)],
      ['listVersions', () => kagzi.client.listVersions('Ledgr')],
    ];
    for (const [what, call] of calls) {
      const err = await rejectionOf(call());
      expect([what, err]).toEqual([what, expect.any(WorkflowNotFoundError)]);
      expect(err).not.toBeInstanceOf(WorkflowVersionNotFoundError);
      expect((err as Error).message).toContain('Ledgr');
    }
    expect(await kagzi.client.countWorkflows()).toBe(before);
    expect(await sql(db.url, `select 1 from kagzi.workflow_versions where workflow_name = 'Ledgr'`)).toEqual([]);
  });

  it('an unknown version of a known workflow: WorkflowVersionNotFoundError (a WorkflowNotFoundError)', async () => {
    const before = await kagzi.client.countWorkflows({ name: 'Ledger' });
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['start', () => kagzi.client.start('Ledger', { tag: 'x' }, { version: 9 })],
      ['setDefaultVersion', () => kagzi.client.setDefaultVersion('Ledger', 9)],
      ['deprecateVersion', () => kagzi.client.deprecateVersion('Ledger', 9)],
    ];
    for (const [what, call] of calls) {
      const err = await rejectionOf(call());
      expect([what, err]).toEqual([what, expect.any(WorkflowVersionNotFoundError)]);
      expect(err).toBeInstanceOf(WorkflowNotFoundError);
      expect((err as Error).message).toMatch(/Ledger/);
      expect((err as Error).message).toMatch(/9/);
    }
    expect(await kagzi.client.countWorkflows({ name: 'Ledger' })).toBe(before);
    expect(await kagzi.client.getDefaultVersion('Ledger')).toBe(2);
  });

  it('deprecating the default: DefaultVersionError, both the implicit and the set default; nothing changes', async () => {
    const implicit = await rejectionOf(kagzi.client.deprecateVersion('Ledger', 2));
    expect(implicit).toBeInstanceOf(DefaultVersionError);
    expect((implicit as Error).message).toMatch(/setDefaultVersion/);

    await kagzi.client.setDefaultVersion('Ledger', 1);
    const set = await rejectionOf(kagzi.client.deprecateVersion('Ledger', 1));
    expect(set).toBeInstanceOf(DefaultVersionError);

    const versions = await kagzi.client.listVersions('Ledger');
    expect(versions.map((v) => [v.version, v.isDefault, v.deprecated])).toEqual([
      [1, true, false],
      [2, false, false],
    ]);
    expect(versions.every((v) => !('deprecatedAt' in v))).toBe(true);
    await kagzi.client.setDefaultVersion('Ledger', 2);
  });

  it('a deprecated version: start refuses it with WorkflowVersionDeprecatedError, but a repeated idempotency key returns the existing run', async () => {
    // A run pinned to v1 that is still waiting (delayed) when v1 is deprecated.
    const existing = await kagzi.client.start<Tag, Ran>('Ledger', { tag: 'early' }, { version: 1, idempotencyKey: 'ledger-early', delay: '1h' });
    await kagzi.client.deprecateVersion('Ledger', 1);
    const deprecatedAt = byVersion(await kagzi.client.listVersions('Ledger'), 1).deprecatedAt;
    expect(deprecatedAt).toBeInstanceOf(Date);
    await kagzi.client.deprecateVersion('Ledger', 1); // twice: no error, first date kept
    expect(byVersion(await kagzi.client.listVersions('Ledger'), 1).deprecatedAt).toEqual(deprecatedAt);

    const before = await kagzi.client.countWorkflows({ name: 'Ledger' });
    const refused = await rejectionOf(kagzi.client.start('Ledger', { tag: 'late' }, { version: 1 }));
    expect(refused).toBeInstanceOf(WorkflowVersionDeprecatedError);
    expect((refused as Error).message).toMatch(/Ledger/);
    const refusedWithKey = await rejectionOf(kagzi.client.start('Ledger', { tag: 'late' }, { version: 1, idempotencyKey: 'ledger-late' }));
    expect(refusedWithKey).toBeInstanceOf(WorkflowVersionDeprecatedError);
    expect(await kagzi.client.countWorkflows({ name: 'Ledger' })).toBe(before);

    const again = await kagzi.client.start('Ledger', { tag: 'early' }, { version: 1, idempotencyKey: 'ledger-early' });
    expect(again.runId).toBe(existing.runId);
    const againByDefault = await kagzi.client.start('Ledger', { tag: 'early' }, { idempotencyKey: 'ledger-early' });
    expect(againByDefault.runId).toBe(existing.runId);
    expect((await kagzi.client.getRun(existing.runId)).version).toBe(1);
    expect(await kagzi.client.countWorkflows({ name: 'Ledger' })).toBe(before);

    // Nor can a deprecated version become the default; the default still starts.
    await expect(kagzi.client.setDefaultVersion('Ledger', 1)).rejects.toBeInstanceOf(WorkflowVersionDeprecatedError);
    const current = await kagzi.client.start<Tag, Ran>('Ledger', { tag: 'now' });
    expect(await current.result({ timeout: '10s' })).toMatchObject({ code: 'Ledger v2' });
  });
});

// ---------------------------------------------------------------------------------------------------
// A deploy: v1 in flight finishes on v1 code while new runs start on v2
// ---------------------------------------------------------------------------------------------------

describe('a deploy from v1 to v2', () => {
  let old: KagziTestApp;
  let next: KagziTestApp;

  afterAll(async () => {
    await Promise.all([old?.close(), next?.close()]);
  });

  it('runs in flight on v1 finish on v1 code while new runs start on v2, and v1 drains to zero', async () => {
    old = await bootKagzi({ url: db.url, providers: app('old', ShippingDesk, ShipV1), worker: { name: 'ship-old' } });
    gates.set('o-1', deferred());
    const inFlight = await old.client.start<Tag, Ran>('Ship', { tag: 'o-1' });
    await waitFor('v1 to be packing o-1', () => packing.has('o-1'));
    expect((await old.client.getRun(inFlight.runId)).version).toBe(1);

    // Pin the default before v2 registers, then deploy v2 beside v1.
    await old.client.setDefaultVersion('Ship', 1);
    next = await bootKagzi({ url: db.url, providers: app('new', ShippingDesk, ShipV2), worker: { name: 'ship-new' } });
    const stillV1 = await next.client.start<Tag, Ran>('Ship', { tag: 'o-2' });
    expect(await stillV1.result({ timeout: '10s' })).toEqual({ app: 'old', code: 'Ship v1', ctxVersion: 1, tag: 'packed o-2 in old' });

    await next.client.setDefaultVersion('Ship', 2);
    const onV2 = await next.client.start<Tag, Ran>('Ship', { tag: 'o-3' });
    expect(await onV2.result({ timeout: '10s' })).toEqual({ app: 'new', code: 'Ship v2', ctxVersion: 2, tag: 'insured o-3, packed o-3 in new' });
    expect((await next.client.getRun(onV2.runId)).version).toBe(2);

    // A v1 run that is queued, not yet claimed, when v1 is deprecated below.
    const queued = await next.client.start<Tag, Ran>('Ship', { tag: 'o-5' }, { version: 1, delay: '2s' });

    // Drain: o-1 is still running on v1, o-5 waits for its start time.
    expect(await inFlight.status()).toBe('RUNNING');
    expect(await next.client.countWorkflows({ name: 'Ship', version: 1, status: IN_FLIGHT })).toBe(2);
    const during = await next.client.listVersions('Ship');
    expect(stateOf(byVersion(during, 1))).toEqual({ isDefault: false, deprecated: false, served: true, runs: { RUNNING: 1, PENDING: 1 } });
    expect(stateOf(byVersion(during, 2))).toEqual({ isDefault: true, deprecated: false, served: true, runs: {} });

    // v1 is no longer the default: it may be deprecated while its runs are in flight; new v1 starts are refused.
    await next.client.deprecateVersion('Ship', 1);
    await expect(next.client.start('Ship', { tag: 'o-4' }, { version: 1 })).rejects.toBeInstanceOf(WorkflowVersionDeprecatedError);
    expect(await queued.status()).toBe('PENDING');
    expect(await queued.result({ timeout: '10s' })).toEqual({ app: 'old', code: 'Ship v1', ctxVersion: 1, tag: 'packed o-5 in old' });

    gates.get('o-1')?.resolve();
    expect(await inFlight.result({ timeout: '10s' })).toEqual({ app: 'old', code: 'Ship v1', ctxVersion: 1, tag: 'packed o-1 in old' });
    const finished = await next.client.getRun(inFlight.runId);
    expect(finished).toMatchObject({ version: 1, status: 'COMPLETED' });
    expect(finished.steps.map((s) => s.name)).toEqual(['Desk.pack']);
    expect(await next.client.countWorkflows({ name: 'Ship', version: 1, status: IN_FLIGHT })).toBe(0);
    expect(await next.client.countWorkflows({ name: 'Ship', version: 1, status: 'COMPLETED' })).toBe(3);

    // Remove v1: its last process goes away and nothing is stranded.
    await old.close();
    const after = await next.client.listVersions('Ship');
    expect(stateOf(byVersion(after, 1))).toEqual({ isDefault: false, deprecated: true, served: false, runs: {} });
    expect(byVersion(after, 1).deprecatedAt).toBeInstanceOf(Date);
    expect(await unservedVersions(next)).not.toContain('Ship@1');
  });
});

// ---------------------------------------------------------------------------------------------------
// countWorkflows and listVersions
// ---------------------------------------------------------------------------------------------------

describe('countWorkflows and listVersions', () => {
  let kagzi: KagziTestApp;

  beforeAll(async () => {
    kagzi = await bootKagzi({ url: db.url, providers: app('tally', TallyV1, TallyV2), worker: { name: 'tally' } });
    const start = (tag: string, version: number, extra: { fail?: boolean; delay?: Duration } = {}) =>
      kagzi.client.start<Tag, Ran>('Tally', { tag, fail: extra.fail }, { version, ...(extra.delay ? { delay: extra.delay } : {}) });
    const done = await Promise.all([start('c1', 1), start('c2', 1), start('c3', 1), start('c4', 2), start('c5', 2)]);
    const failed = await start('f1', 2, { fail: true });
    await Promise.all([start('p1', 1, { delay: '1h' }), start('p2', 1, { delay: '1h' })]);
    const cancelled = await start('x1', 2, { delay: '1h' });
    await cancelled.cancel('not needed');
    await Promise.all(done.map((h) => h.result({ timeout: '10s' })));
    await expect(failed.result({ timeout: '10s' })).rejects.toBeInstanceOf(WorkflowFailedError);
    await waitForStatus(cancelled, 'CANCELLED');
  });

  afterAll(() => kagzi?.close());

  it('counts by name, version and status (one status or several)', async () => {
    const count = (filter: Parameters<KagziTestApp['client']['countWorkflows']>[0]) => kagzi.client.countWorkflows(filter);
    expect(await count({ name: 'Tally' })).toBe(9);
    expect(await count({ name: 'Tally', version: 1 })).toBe(5);
    expect(await count({ name: 'Tally', version: 2 })).toBe(4);
    expect(await count({ name: 'Tally', status: 'COMPLETED' })).toBe(5);
    expect(await count({ name: 'Tally', version: 1, status: 'COMPLETED' })).toBe(3);
    expect(await count({ name: 'Tally', version: 2, status: 'COMPLETED' })).toBe(2);
    expect(await count({ name: 'Tally', version: 2, status: 'FAILED' })).toBe(1);
    expect(await count({ name: 'Tally', version: 2, status: ['FAILED', 'CANCELLED'] })).toBe(2);
    expect(await count({ name: 'Tally', version: 1, status: IN_FLIGHT })).toBe(2);
    expect(await count({ name: 'Tally', version: 2, status: IN_FLIGHT })).toBe(0);
    expect(await count({ name: 'Tally', version: 3 })).toBe(0);
    expect(await count({ name: 'Tallies' })).toBe(0);
    const all = await count({});
    const [{ n }] = await sql<{ n: number }>(db.url, 'select count(*)::int as n from kagzi.workflow_runs');
    expect(all).toBe(n);
    expect(await count({ status: 'CANCELLED', version: 2 })).toBeGreaterThanOrEqual(1);
  });

  it('listVersions: default, deprecation, registration, liveness, and runs in flight per status', async () => {
    const versions = await kagzi.client.listVersions('Tally');
    expect(versions).toHaveLength(2);
    const [v1, v2] = versions;
    expect(v1).toEqual({
      name: 'Tally',
      version: 1,
      isDefault: false,
      deprecated: false,
      registeredAt: expect.any(Date),
      lastSeenAt: expect.any(Date),
      served: true,
      runs: { PENDING: 2 },
    });
    expect(v2).toEqual({
      name: 'Tally',
      version: 2,
      isDefault: true,
      deprecated: false,
      registeredAt: expect.any(Date),
      lastSeenAt: expect.any(Date),
      served: true,
      runs: {},
    });
    for (const v of versions) {
      expect(v.lastSeenAt.getTime()).toBeGreaterThanOrEqual(v.registeredAt.getTime());
      expect(Math.abs(Date.now() - v.registeredAt.getTime())).toBeLessThan(60_000);
    }

    await kagzi.client.setDefaultVersion('Tally', 1);
    await kagzi.client.deprecateVersion('Tally', 2);
    const [d1, d2] = await kagzi.client.listVersions('Tally');
    expect(d1).toMatchObject({ isDefault: true, deprecated: false });
    expect(d1).not.toHaveProperty('deprecatedAt');
    expect(d2).toMatchObject({ isDefault: false, deprecated: true, deprecatedAt: expect.any(Date) });
  });
});

// ---------------------------------------------------------------------------------------------------
// Routing: a worker claims only the versions it serves
// ---------------------------------------------------------------------------------------------------

describe('routing by version', () => {
  let workerA: KagziTestApp;
  let workerB: KagziTestApp;
  let gateway: KagziTestApp;

  beforeAll(async () => {
    [workerA, workerB, gateway] = await Promise.all([
      bootKagzi({ url: db.url, providers: app('A', RouteV1), worker: { name: 'route-a' } }),
      bootKagzi({ url: db.url, providers: app('B', RouteV2), worker: { name: 'route-b' } }),
      bootKagzi({ url: db.url, worker: false }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([workerA?.close(), workerB?.close(), gateway?.close()]);
  });

  it('runs of v1 execute only on the worker serving v1, runs of v2 only on the one serving v2', async () => {
    const workers = await gateway.client.listWorkers();
    expect(workers.find((w) => w.name === 'route-a' && w.status === 'RUNNING')?.workflows).toEqual(['Route@1']);
    expect(workers.find((w) => w.name === 'route-b' && w.status === 'RUNNING')?.workflows).toEqual(['Route@2']);

    // Started from a process without the code, all at once, so both workers race for every one of them.
    const handles = await Promise.all(
      Array.from({ length: 16 }, (_, i) => {
        const version = (i % 2) + 1;
        return gateway.client.start<Tag, Ran>('Route', { tag: `r${i}` }, { version }).then((h) => ({ version, h }));
      }),
    );
    for (const { version, h } of handles) {
      const result = await h.result({ timeout: '10s' });
      expect(result).toEqual({ app: version === 1 ? 'A' : 'B', code: `Route v${version}`, ctxVersion: version, tag: result.tag });
    }
    expect(await gateway.client.countWorkflows({ name: 'Route', version: 1, status: 'COMPLETED' })).toBe(8);
    expect(await gateway.client.countWorkflows({ name: 'Route', version: 2, status: 'COMPLETED' })).toBe(8);
    const versions = await gateway.client.listVersions('Route');
    expect(versions.map((v) => [v.version, v.served])).toEqual([
      [1, true],
      [2, true],
    ]);
  });
});

// ---------------------------------------------------------------------------------------------------
// A run of a version no live worker serves waits, is reported, and completes once one arrives
// ---------------------------------------------------------------------------------------------------

describe('a version no live worker serves', () => {
  let restricted: KagziTestApp;
  let v2Only: KagziTestApp;
  let rescuer: KagziTestApp;

  afterAll(async () => {
    await Promise.all([restricted?.close(), v2Only?.close(), rescuer?.close()]);
  });

  it('waits PENDING, shows as unserved in listVersions and the health indicator, then completes when a worker serving it boots', async () => {
    // Has the Stranded v1 class but its worker serves only Filler; another worker serves Stranded v2.
    restricted = await bootKagzi({ url: db.url, providers: app('restricted', StrandedV1, FillerV1), worker: { name: 'filler-only', workflows: ['Filler'] } });
    v2Only = await bootKagzi({ url: db.url, providers: app('v2-only', StrandedV2), worker: { name: 'stranded-v2' } });
    expect(restricted.worker.snapshot().served).toEqual({ names: ['Filler'], versions: [1] });

    const stranded = await restricted.client.start<Tag, Ran>('Stranded', { tag: 's1' }, { version: 1 });
    const control = await restricted.client.start<Tag, Ran>('Stranded', { tag: 's2' });
    expect(await control.result({ timeout: '10s' })).toMatchObject({ app: 'v2-only', code: 'Stranded v2' });

    await delay(1_200); // six poll intervals of both workers
    expect(await stranded.status()).toBe('PENDING');
    const run = await restricted.client.getRun(stranded.runId);
    expect(run).toMatchObject({ version: 1, status: 'PENDING', steps: [] });

    const waiting = await restricted.client.listVersions('Stranded');
    expect(stateOf(byVersion(waiting, 1))).toEqual({ isDefault: false, deprecated: false, served: false, runs: { PENDING: 1 } });
    expect(stateOf(byVersion(waiting, 2))).toEqual({ isDefault: true, deprecated: false, served: true, runs: {} });
    for (const kagzi of [restricted, v2Only]) {
      const unserved = await unservedVersions(kagzi);
      expect(unserved).toContain('Stranded@1');
      expect(unserved).not.toContain('Stranded@2');
    }

    rescuer = await bootKagzi({ url: db.url, providers: app('rescuer', StrandedV1), worker: { name: 'stranded-v1' } });
    expect(await stranded.result({ timeout: '10s' })).toEqual({ app: 'rescuer', code: 'Stranded v1', ctxVersion: 1, tag: 's1' });

    const served = await restricted.client.listVersions('Stranded');
    expect(stateOf(byVersion(served, 1))).toEqual({ isDefault: false, deprecated: false, served: true, runs: {} });
    expect(await unservedVersions(restricted)).not.toContain('Stranded@1');
  });
});
