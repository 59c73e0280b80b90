/**
 * The engine's guarantees (SPEC §2), against real PostgreSQL: exactly-once commit and replay, durable
 * sleep across restarts, the determinism check, lease fencing of a zombie worker, failures, concurrency.
 * Fixtures are ordinary Nest services with @Step methods (the order pipeline is in
 * test/fixtures/order-fixtures.ts, the others beside their tests); every step body records its
 * executions in `effects`, so "ran once" is checked by counting, not inferred.
 */
import { Injectable } from '@nestjs/common';
import {
  ErrorKind,
  PermanentError,
  Step,
  StepError,
  UsageError,
  Workflow,
  WorkflowContext,
  WorkflowDefinition,
  WorkflowFailedError,
} from '@kagzi/nestjs';
import { createTestDatabase, TestDatabase } from './support/database';
import {
  bootKagzi,
  closeAllApps,
  deferred,
  Deferred,
  delay,
  KagziTestApp,
  rejectionOf,
  sql,
  stepRows,
  waitFor,
  waitForStatus,
} from './support/app';
import {
  Charge,
  effects,
  InventoryService,
  NOON,
  OrderInput,
  OrderWorkflow,
  PaymentsService,
  RATE_CARD,
  RemindersService,
  ReminderWorkflow,
  Reservation,
  Shipment,
  ShippingService,
} from './fixtures/order-fixtures';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('core');
});

afterAll(async () => {
  await closeAllApps();
  await db?.drop();
});

// ---------------------------------------------------------------------------------------------------
// A run completes; plain calls; ctx.sleep in a step
// ---------------------------------------------------------------------------------------------------

describe('a three-step order workflow', () => {
  let kagzi: KagziTestApp;

  beforeAll(async () => {
    kagzi = await bootKagzi({
      url: db.url,
      providers: [InventoryService, PaymentsService, ShippingService, OrderWorkflow, RemindersService, ReminderWorkflow],
    });
  });

  afterAll(() => kagzi?.close());

  it('completes, round-tripping Date, undefined, BigInt, Map and Set in the input, step outputs and output', async () => {
    const input: OrderInput = {
      orderId: 'ord-1',
      amount: 12_345_678_901_234_567_890n,
      lines: new Map([
        ['sku-mug', 2],
        ['sku-tee', 1],
      ]),
      placedAt: new Date('2030-01-01T08:30:00.001Z'),
      couponCode: undefined,
    };
    const handle = await kagzi.client.start(OrderWorkflow, input);
    const result = await handle.result({ timeout: '10s' });

    const reservation: Reservation = {
      reservationId: 'res-ord-1',
      skus: new Set(['sku-mug', 'sku-tee']),
      expiresAt: new Date('2030-01-02T13:00:00.123Z'),
      warehouse: undefined,
    };
    const charge: Charge = {
      chargeId: 'ch-ord-1',
      amount: 12_345_678_901_234_567_890n,
      chargedAt: NOON,
      fees: new Map([['processing', 30n]]),
      receiptUrl: undefined,
    };
    const shipment: Shipment = {
      trackingNumber: 'TRK-ord-1',
      eta: new Date('2030-01-03T12:00:00.123Z'),
      labels: new Set(['label:sku-mug', 'label:sku-tee']),
    };
    const allTrue = Object.fromEntries(Object.keys(result.seen).map((k) => [k, true]));
    // toStrictEqual: an `undefined` key must still be there, and Map/Set/BigInt/Date compare by type and content
    expect(result).toStrictEqual({ orderId: 'ord-1', reservation, charge, shipment, couponCode: undefined, seen: allTrue });
    expect(Object.keys(result.seen)).toHaveLength(9);

    const run = await kagzi.client.getRun(handle.runId);
    expect(run.status).toBe('COMPLETED');
    expect(run.workflowName).toBe('Order');
    expect(run.version).toBe(1);
    expect(run.input).toStrictEqual(input);
    expect(run.output).toStrictEqual(result);
    expect(run.completedAt).toBeInstanceOf(Date);
    expect(run.steps.map((s) => [s.key, s.name, s.status])).toEqual([
      ['InventoryService.reserve#1', 'InventoryService.reserve', 'COMPLETED'],
      ['Payments.charge#1', 'Payments.charge', 'COMPLETED'],
      ['Shipping.ship#1', 'Shipping.ship', 'COMPLETED'],
    ]);
    expect(run.steps[0].output).toStrictEqual(reservation);
    expect(run.steps[1].output).toStrictEqual(charge);
    expect(run.steps[2].output).toStrictEqual(shipment);
    for (const step of run.steps) {
      expect(step.error).toBeUndefined();
      expect(step.attempts).toHaveLength(1);
      expect(step.attempts[0].startedAt).toBeInstanceOf(Date);
    }

    for (const step of ['InventoryService.reserve', 'Payments.charge', 'Shipping.ship']) expect(effects.count(step, 'ord-1')).toBe(1);
    expect(await stepRows(db.url, handle.runId)).toHaveLength(3);
  });

  it('treats a @Step method called outside a workflow as a plain call (raw value, no rows)', async () => {
    const [before] = await sql<{ runs: number; steps: number }>(
      db.url,
      'select (select count(*)::int from kagzi.workflow_runs) as runs, (select count(*)::int from kagzi.step_runs) as steps',
    );
    const payments = kagzi.app.get(PaymentsService);

    const quote = await payments.quote('EUR');
    expect(quote).toBe(RATE_CARD); // the very object the body returned, not a stored-and-decoded copy
    expect(await payments.authorize('walk-in', 'visa')).toBe('auth-walk-in');
    await expect(payments.authorize('walk-in-2', 'declined')).rejects.toThrow('card declined');
    expect(effects.count('Payments.quote', 'EUR')).toBe(1);

    const [after] = await sql<{ runs: number; steps: number }>(
      db.url,
      'select (select count(*)::int from kagzi.workflow_runs) as runs, (select count(*)::int from kagzi.step_runs) as steps',
    );
    expect(after).toEqual(before);
  });

  it('throws UsageError from ctx.sleep inside a step body', async () => {
    const handle = await kagzi.client.start(ReminderWorkflow, { customerId: 'c-9' });
    const err = await rejectionOf(handle.result({ timeout: '10s' }));

    expect(effects.misuse.get(handle.runId)).toBeInstanceOf(UsageError);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const failure = (err as WorkflowFailedError).error;
    expect(failure.code).toBe('KAGZI_USAGE');
    expect(failure.stepName).toBe('Reminders.schedule');
    expect(failure.message).toMatch(/inside a step body/);
    expect(effects.count('Reminders.schedule', handle.runId)).toBe(1);
    // the run never went to sleep
    const rows = await stepRows(db.url, handle.runId);
    expect(rows.map((r) => [r.step_key, r.kind, r.status])).toEqual([['Reminders.schedule#1', 'STEP', 'FAILED']]);
    expect(await handle.status()).toBe('FAILED');
  });
});

// ---------------------------------------------------------------------------------------------------
// Exactly-once commit and replay across a restart
// ---------------------------------------------------------------------------------------------------

interface Opening {
  accountId: string;
  openedAt: Date;
  nonce: number;
  limits: Map<string, bigint>;
}

const postStarted = new Map<string, Deferred>();
const postGate = new Map<string, Deferred>();
const openingsSeen = new Map<string, Opening[]>();
const postSignals = new Map<string, AbortSignal[]>();

@Injectable()
class LedgerService {
  @Step({ name: 'Ledger.open' })
  async open(accountId: string): Promise<Opening> {
    effects.enter('Ledger.open', accountId);
    // a fresh nonce per execution: a recomputed value would differ from the stored one
    return { accountId, openedAt: new Date(), nonce: Math.random(), limits: new Map([['daily', 10_000n]]) };
  }

  @Step({ name: 'Ledger.post' })
  async post(accountId: string, amount: number): Promise<{ accountId: string; balance: number }> {
    const attempt = effects.enter('Ledger.post', accountId);
    if (attempt === 1) {
      postStarted.get(accountId)?.resolve();
      await postGate.get(accountId)?.promise;
    }
    return { accountId, balance: amount };
  }
}

@Workflow({ name: 'AccountOpening' })
class AccountOpeningWorkflow implements WorkflowDefinition<{ accountId: string }, { opened: Opening; balance: number }> {
  constructor(private readonly ledger: LedgerService) {}

  async run(input: { accountId: string }, ctx: WorkflowContext): Promise<{ opened: Opening; balance: number }> {
    const opened = await this.ledger.open(input.accountId);
    openingsSeen.set(input.accountId, [...(openingsSeen.get(input.accountId) ?? []), opened]);
    postSignals.set(input.accountId, [...(postSignals.get(input.accountId) ?? []), ctx.signal]);
    const posted = await this.ledger.post(input.accountId, 250);
    return { opened, balance: posted.balance };
  }
}

describe('exactly-once commit across a restart', () => {
  it('hands back a run whose step was in progress at shutdown; the next app replays step 1 and finishes', async () => {
    const accountId = 'acct-1';
    postStarted.set(accountId, deferred());
    postGate.set(accountId, deferred());
    const first = await bootKagzi({ url: db.url, providers: [LedgerService, AccountOpeningWorkflow], worker: { shutdownTimeout: '300ms' } });
    const handle = await first.client.start(AccountOpeningWorkflow, { accountId });
    await postStarted.get(accountId)?.promise;

    const closedAt = Date.now();
    await first.close(); // drain times out after 300 ms: the run is handed back, due now
    expect(Date.now() - closedAt).toBeLessThan(5_000);
    const [released] = await sql<{ status: string; lease_owner: string | null; overdue: boolean }>(
      db.url,
      'select status, lease_owner, due_at <= now() as overdue from kagzi.workflow_runs where id = $1',
      [handle.runId],
    );
    expect(released).toEqual({ status: 'PENDING', lease_owner: null, overdue: true });
    expect(postSignals.get(accountId)?.[0].aborted).toBe(true);
    expect((await stepRows(db.url, handle.runId)).map((r) => r.step_key)).toEqual(['Ledger.open#1']);
    postGate.get(accountId)?.resolve(); // the old attempt finishes its body now; it must not commit

    const second = await bootKagzi({ url: db.url, providers: [LedgerService, AccountOpeningWorkflow] });
    const result = await second.client.getHandle<{ opened: Opening; balance: number }>(handle.runId).result({ timeout: '10s' });

    expect(effects.count('Ledger.open', accountId)).toBe(1);
    expect(effects.count('Ledger.post', accountId)).toBe(2); // the handed-back attempt, then the resumed one
    const seen = openingsSeen.get(accountId) ?? [];
    expect(seen).toHaveLength(2); // the first execution and the replay
    expect(seen[1]).toStrictEqual(seen[0]);
    expect(seen[1].openedAt).toBeInstanceOf(Date);
    expect(seen[1].limits).toBeInstanceOf(Map);
    expect(result).toStrictEqual({ opened: seen[0], balance: 250 });

    const run = await second.client.getRun(handle.runId);
    expect(run.status).toBe('COMPLETED');
    expect(run.steps.map((s) => [s.key, s.status])).toEqual([
      ['Ledger.open#1', 'COMPLETED'],
      ['Ledger.post#1', 'COMPLETED'],
    ]);
    expect(run.steps[0].output).toStrictEqual(seen[0]);
    await delay(200); // the abandoned attempt has long returned; it wrote nothing
    expect(await stepRows(db.url, handle.runId)).toHaveLength(2);
    await second.close();
  });
});

// ---------------------------------------------------------------------------------------------------
// Durable sleep
// ---------------------------------------------------------------------------------------------------

const mailedAt = new Map<string, number>();

@Injectable()
class MailerService {
  @Step({ name: 'Mailer.welcome' })
  async welcome(userId: string): Promise<string> {
    effects.enter('Mailer.welcome', userId);
    mailedAt.set(`welcome|${userId}`, Date.now());
    return `welcome:${userId}`;
  }

  @Step({ name: 'Mailer.followUp' })
  async followUp(userId: string): Promise<string> {
    effects.enter('Mailer.followUp', userId);
    mailedAt.set(`followUp|${userId}`, Date.now());
    return `follow-up:${userId}`;
  }
}

@Workflow({ name: 'Drip' })
class DripWorkflow implements WorkflowDefinition<{ userId: string; pause: `${number}ms` }, string[]> {
  constructor(private readonly mailer: MailerService) {}

  async run(input: { userId: string; pause: `${number}ms` }, ctx: WorkflowContext): Promise<string[]> {
    const welcome = await this.mailer.welcome(input.userId);
    await ctx.sleep(input.pause);
    const followUp = await this.mailer.followUp(input.userId);
    return [welcome, followUp];
  }
}

@Workflow({ name: 'Ping' })
class PingWorkflow implements WorkflowDefinition<{ n: number }, number> {
  async run(input: { n: number }): Promise<number> {
    return input.n + 1;
  }
}

describe('durable sleep', () => {
  it('survives a restart: step A once, the sleep, step B once, not before the wake-up time', async () => {
    const userId = 'u-sleep';
    const startedAt = Date.now();
    const first = await bootKagzi({ url: db.url, providers: [MailerService, DripWorkflow] });
    const handle = await first.client.start(DripWorkflow, { userId, pause: '1000ms' });
    await waitForStatus(handle, 'SLEEPING');
    await first.close();
    const [parked] = await sql<{ status: string; lease_owner: string | null }>(db.url, 'select status, lease_owner from kagzi.workflow_runs where id = $1', [
      handle.runId,
    ]);
    expect(parked).toEqual({ status: 'SLEEPING', lease_owner: null });

    const second = await bootKagzi({ url: db.url, providers: [MailerService, DripWorkflow] });
    const result = await second.client.getHandle(handle.runId).result({ timeout: '10s' });
    expect(result).toEqual([`welcome:${userId}`, `follow-up:${userId}`]);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1_000);
    expect(effects.count('Mailer.welcome', userId)).toBe(1);
    expect(effects.count('Mailer.followUp', userId)).toBe(1);
    expect((mailedAt.get(`followUp|${userId}`) ?? 0) - (mailedAt.get(`welcome|${userId}`) ?? 0)).toBeGreaterThanOrEqual(1_000);
    const rows = await stepRows(db.url, handle.runId);
    expect(rows.map((r) => [r.step_key, r.kind])).toEqual([
      ['Mailer.welcome#1', 'STEP'],
      ['$sleep#1', 'SLEEP'],
      ['Mailer.followUp#1', 'STEP'],
    ]);
    await second.close();
  });

  it('holds no worker slot while sleeping (concurrency 1: a short run started meanwhile finishes first)', async () => {
    const userId = 'u-slot';
    const kagzi = await bootKagzi({ url: db.url, providers: [MailerService, DripWorkflow, PingWorkflow], worker: { concurrency: 1 } });
    try {
      const sleeper = await kagzi.client.start(DripWorkflow, { userId, pause: '1500ms' });
      await waitForStatus(sleeper, 'SLEEPING');
      const pingStarted = Date.now();
      const ping = await kagzi.client.start(PingWorkflow, { n: 41 });
      expect(await ping.result({ timeout: '10s' })).toBe(42);
      expect(Date.now() - pingStarted).toBeLessThan(1_000);
      expect(await sleeper.status()).toBe('SLEEPING'); // the sleeper did not have to finish first

      await sleeper.result({ timeout: '10s' });
      const [pingRun, sleeperRun] = await Promise.all([kagzi.client.getRun(ping.runId), kagzi.client.getRun(sleeper.runId)]);
      expect(pingRun.completedAt!.getTime()).toBeLessThan(sleeperRun.completedAt!.getTime());
      expect(effects.count('Mailer.followUp', userId)).toBe(1);
    } finally {
      await kagzi.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// Determinism check, and keys per step name
// ---------------------------------------------------------------------------------------------------

/** Module-level state a careless workflow reads: changing it between executions changes a step's arguments. */
let activeCoupon = 'SPRING10';
let auditEnabled = false;

@Injectable()
class PricingService {
  @Step({ name: 'Pricing.applyDiscount' })
  async applyDiscount(cartId: string, coupon: string): Promise<{ coupon: string; percent: number }> {
    effects.enter('Pricing.applyDiscount', cartId);
    return { coupon, percent: coupon === 'SPRING10' ? 10 : 90 };
  }

  @Step({ name: 'Pricing.finalize' })
  async finalize(cartId: string, percent: number): Promise<string> {
    effects.enter('Pricing.finalize', cartId);
    return `${cartId}:-${percent}%`;
  }
}

@Workflow({ name: 'Checkout' })
class CheckoutWorkflow implements WorkflowDefinition<{ cartId: string }, string> {
  constructor(private readonly pricing: PricingService) {}

  async run(input: { cartId: string }, ctx: WorkflowContext): Promise<string> {
    const discount = await this.pricing.applyDiscount(input.cartId, activeCoupon);
    await ctx.sleep('1s');
    return this.pricing.finalize(input.cartId, discount.percent);
  }
}

@Injectable()
class AccountsService {
  @Step({ name: 'Accounts.create' })
  async create(userId: string): Promise<{ accountId: string }> {
    effects.enter('Accounts.create', userId);
    return { accountId: `acc-${userId}` };
  }

  @Step({ name: 'Accounts.activate' })
  async activate(accountId: string): Promise<boolean> {
    effects.enter('Accounts.activate', accountId);
    return true;
  }
}

@Injectable()
class AuditService {
  @Step({ name: 'Audit.record' })
  async record(userId: string, event: string): Promise<void> {
    effects.enter('Audit.record', `${userId}:${event}`);
  }
}

@Workflow({ name: 'Onboarding' })
class OnboardingWorkflow implements WorkflowDefinition<{ userId: string }, string> {
  constructor(
    private readonly accounts: AccountsService,
    private readonly audit: AuditService,
  ) {}

  async run(input: { userId: string }, ctx: WorkflowContext): Promise<string> {
    if (auditEnabled) await this.audit.record(input.userId, 'onboarding'); // added by a later deploy
    const { accountId } = await this.accounts.create(input.userId);
    await ctx.sleep('1s');
    await this.accounts.activate(accountId);
    return accountId;
  }
}

describe('determinism check', () => {
  afterAll(() => {
    activeCoupon = 'SPRING10';
    auditEnabled = false;
  });

  it('fails a replay whose step arguments changed with NON_DETERMINISM naming the step, never reusing the stored value', async () => {
    const providers = [PricingService, CheckoutWorkflow];
    const first = await bootKagzi({ url: db.url, providers });
    const handle = await first.client.start(CheckoutWorkflow, { cartId: 'cart-7' });
    await waitForStatus(handle, 'SLEEPING');
    await first.close();

    activeCoupon = 'EVERYTHING90'; // "a deploy" changed what the workflow passes to the step
    const second = await bootKagzi({ url: db.url, providers });
    const err = await rejectionOf(second.client.getHandle(handle.runId).result({ timeout: '10s' }));

    expect(err).toBeInstanceOf(WorkflowFailedError);
    const failure = (err as WorkflowFailedError).error;
    expect(failure).toBeInstanceOf(StepError);
    expect(failure.kind).toBe(ErrorKind.NonDeterminism);
    expect(failure.message).toContain('Pricing.applyDiscount');
    expect(failure.stepName).toBe('Pricing.applyDiscount');
    expect(effects.count('Pricing.applyDiscount', 'cart-7')).toBe(1); // not re-executed with the new arguments
    expect(effects.count('Pricing.finalize', 'cart-7')).toBe(0); // the stored 10% never reached later steps
    const run = await second.client.getRun(handle.runId);
    expect(run.status).toBe('FAILED');
    expect(run.error?.kind).toBe('NON_DETERMINISM');
    await second.close();
  });

  it('keeps the keys of existing steps when a step under another name is added before them', async () => {
    const providers = [AccountsService, AuditService, OnboardingWorkflow];
    const first = await bootKagzi({ url: db.url, providers });
    const handle = await first.client.start(OnboardingWorkflow, { userId: 'ada' });
    await waitForStatus(handle, 'SLEEPING');
    await first.close();

    auditEnabled = true; // the new code calls Audit.record before Accounts.create
    const second = await bootKagzi({ url: db.url, providers });
    expect(await second.client.getHandle(handle.runId).result({ timeout: '10s' })).toBe('acc-ada');

    expect(effects.count('Accounts.create', 'ada')).toBe(1); // replayed from its unchanged key
    expect(effects.count('Audit.record', 'ada:onboarding')).toBe(1);
    expect(effects.count('Accounts.activate', 'acc-ada')).toBe(1);
    const keys = (await stepRows(db.url, handle.runId)).map((r) => r.step_key).sort();
    expect(keys).toEqual(['$sleep#1', 'Accounts.activate#1', 'Accounts.create#1', 'Audit.record#1']);
    await second.close();
  });
});

// ---------------------------------------------------------------------------------------------------
// A zombie worker's writes are fenced
// ---------------------------------------------------------------------------------------------------

const refundStarted = new Map<string, Deferred>();
const refundGate = new Map<string, Deferred>();
const refundSignals = new Map<string, AbortSignal[]>();

@Injectable()
class RefundsService {
  @Step({ name: 'Refunds.issue' })
  async issue(orderId: string): Promise<{ refundId: string }> {
    const attempt = effects.enter('Refunds.issue', orderId);
    if (attempt === 1) {
      refundStarted.get(orderId)?.resolve();
      await refundGate.get(orderId)?.promise;
    }
    return { refundId: `rf-${orderId}-${attempt}` };
  }

  @Step({ name: 'Refunds.notifyCustomer' })
  async notifyCustomer(orderId: string, refundId: string): Promise<string> {
    effects.enter('Refunds.notifyCustomer', orderId);
    return `mailed ${refundId}`;
  }
}

@Workflow({ name: 'Refund' })
class RefundWorkflow implements WorkflowDefinition<{ orderId: string }, string> {
  constructor(private readonly refunds: RefundsService) {}

  async run(input: { orderId: string }, ctx: WorkflowContext): Promise<string> {
    refundSignals.set(input.orderId, [...(refundSignals.get(input.orderId) ?? []), ctx.signal]);
    const { refundId } = await this.refunds.issue(input.orderId);
    return this.refunds.notifyCustomer(input.orderId, refundId);
  }
}

describe('zombie fencing', () => {
  /** Another worker "took" the run: what a claim after lease expiry does to the row. */
  const stealLease = (runId: string): Promise<unknown> =>
    sql(db.url, `update kagzi.workflow_runs set lease_epoch = lease_epoch + 1, lease_owner = 'someone-else' where id = $1`, [runId]);
  /** The thief died too: its lease is expired, so the run is due again. */
  const expireLease = (runId: string): Promise<unknown> => sql(db.url, 'update kagzi.workflow_runs set due_at = now() where id = $1', [runId]);

  async function refundScenario(orderId: string, kagzi: KagziTestApp, beforeRelease: (signal: AbortSignal) => Promise<void>): Promise<string> {
    refundStarted.set(orderId, deferred());
    refundGate.set(orderId, deferred());
    const handle = await kagzi.client.start(RefundWorkflow, { orderId });
    await refundStarted.get(orderId)?.promise;
    const zombieSignal = refundSignals.get(orderId)![0];
    expect(zombieSignal.aborted).toBe(false);

    await stealLease(handle.runId);
    await beforeRelease(zombieSignal);
    refundGate.get(orderId)?.resolve(); // the zombie's step body returns now and tries to commit
    await waitFor('the zombie execution to be aborted', () => zombieSignal.aborted, 5_000);
    await delay(300);
    expect(await stepRows(db.url, handle.runId)).toEqual([]); // nothing written by the zombie
    expect(effects.count('Refunds.notifyCustomer', orderId)).toBe(0); // and it went no further
    const [row] = await sql<{ status: string; lease_owner: string }>(db.url, 'select status, lease_owner from kagzi.workflow_runs where id = $1', [
      handle.runId,
    ]);
    expect(row).toEqual({ status: 'RUNNING', lease_owner: 'someone-else' });

    await expireLease(handle.runId);
    const result = await handle.result({ timeout: '10s' });
    const rows = await stepRows(db.url, handle.runId);
    expect(rows.map((r) => [r.step_key, r.status])).toEqual([
      ['Refunds.issue#1', 'COMPLETED'],
      ['Refunds.notifyCustomer#1', 'COMPLETED'],
    ]);
    expect(effects.count('Refunds.issue', orderId)).toBe(2);
    expect(effects.count('Refunds.notifyCustomer', orderId)).toBe(1);
    return result;
  }

  it('refuses the commit of a worker whose lease was taken, aborts its ctx.signal, and lets a new claim finish', async () => {
    // heartbeats too rare to notice the theft: the commit itself must be refused
    const kagzi = await bootKagzi({ url: db.url, providers: [RefundsService, RefundWorkflow], worker: { leaseDuration: '30s', heartbeatInterval: '10s' } });
    try {
      const result = await refundScenario('ord-z1', kagzi, async () => undefined);
      expect(result).toBe('mailed rf-ord-z1-2'); // the zombie's rf-ord-z1-1 was never stored
    } finally {
      await kagzi.close();
    }
  });

  it('aborts ctx.signal at the next heartbeat once the lease is gone, while the step is still running', async () => {
    const kagzi = await bootKagzi({ url: db.url, providers: [RefundsService, RefundWorkflow], worker: { leaseDuration: '5s', heartbeatInterval: '200ms' } });
    try {
      const result = await refundScenario('ord-z2', kagzi, async (signal) => {
        // the step body is still blocked: only the heartbeat can have noticed
        await waitFor('the heartbeat to notice the lost lease', () => signal.aborted, 3_000);
      });
      expect(result).toBe('mailed rf-ord-z2-2');
    } finally {
      await kagzi.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// Failures
// ---------------------------------------------------------------------------------------------------

@Workflow({ name: 'Purchase' })
class PurchaseWorkflow implements WorkflowDefinition<{ orderId: string; card: string }, string> {
  constructor(private readonly payments: PaymentsService) {}

  async run(input: { orderId: string; card: string }): Promise<string> {
    return this.payments.authorize(input.orderId, input.card);
  }
}

interface SeenFailure {
  isStepError: boolean;
  isPermanent: boolean;
  kind: string;
  message: string;
  code?: string;
  stepName: string;
}
const failuresSeen = new Map<string, SeenFailure[]>();

@Injectable()
class BillingService {
  @Step({ name: 'Billing.sendInvoice' })
  async sendInvoice(orderId: string, method: string): Promise<string> {
    effects.enter('Billing.sendInvoice', orderId);
    return `invoice:${orderId}:${method}`;
  }
}

@Workflow({ name: 'Subscription' })
class SubscriptionWorkflow implements WorkflowDefinition<{ orderId: string; card: string }, { failure?: SeenFailure; invoice: string }> {
  constructor(
    private readonly payments: PaymentsService,
    private readonly billing: BillingService,
  ) {}

  async run(input: { orderId: string; card: string }, ctx: WorkflowContext): Promise<{ failure?: SeenFailure; invoice: string }> {
    let failure: SeenFailure | undefined;
    try {
      await this.payments.authorize(input.orderId, input.card);
    } catch (err: unknown) {
      const e = err as StepError;
      failure = { isStepError: e instanceof StepError, isPermanent: e instanceof PermanentError, kind: e.kind, message: e.message, code: e.code, stepName: e.stepName };
    }
    failuresSeen.set(input.orderId, [...(failuresSeen.get(input.orderId) ?? []), failure as SeenFailure]);
    await ctx.sleep('1s');
    const invoice = await this.billing.sendInvoice(input.orderId, failure ? 'bank-transfer' : 'card');
    return { failure, invoice };
  }
}

describe('failures', () => {
  let kagzi: KagziTestApp;

  beforeAll(async () => {
    kagzi = await bootKagzi({ url: db.url, providers: [InventoryService, PaymentsService, ShippingService, PurchaseWorkflow] });
  });

  afterAll(() => kagzi?.close());

  it('fails the run with the PermanentError a step threw: kind, message, code and step name preserved', async () => {
    const handle = await kagzi.client.start(PurchaseWorkflow, { orderId: 'ord-f1', card: 'declined' });
    const err = await rejectionOf(handle.result({ timeout: '10s' }));

    expect(err).toBeInstanceOf(WorkflowFailedError);
    const failed = err as WorkflowFailedError;
    expect(failed.runId).toBe(handle.runId);
    expect(failed.error).toBeInstanceOf(StepError);
    expect(failed.error).toBeInstanceOf(PermanentError);
    expect(failed.error.kind).toBe(ErrorKind.BusinessLogicError);
    expect(failed.error.kind).toBe('BUSINESS_LOGIC_ERROR');
    expect(failed.error.message).toBe('card declined');
    expect(failed.error.code).toBe('DECLINED');
    expect(failed.error.stepName).toBe('Payments.authorize');
    expect(failed.error.retryable).toBe(false);
    expect(effects.count('Payments.authorize', 'ord-f1')).toBe(1);

    const run = await kagzi.client.getRun(handle.runId);
    expect(run.status).toBe('FAILED');
    expect(run.output).toBeUndefined();
    expect(run.error).toMatchObject({ kind: 'BUSINESS_LOGIC_ERROR', message: 'card declined', code: 'DECLINED', stepName: 'Payments.authorize' });
    expect(run.steps).toHaveLength(1);
    const [step] = run.steps;
    expect(step).toMatchObject({ key: 'Payments.authorize#1', name: 'Payments.authorize', status: 'FAILED' });
    expect(step.output).toBeUndefined();
    expect(step.error).toMatchObject({ name: 'PermanentError', kind: 'BUSINESS_LOGIC_ERROR', message: 'card declined', code: 'DECLINED', stepName: 'Payments.authorize' });
    expect(step.attempts).toHaveLength(1);
    expect(step.attempts[0].error).toMatchObject({ kind: 'BUSINESS_LOGIC_ERROR', message: 'card declined' });
  });

  it('classifies a plain Error as UNKNOWN, keeping its message', async () => {
    const handle = await kagzi.client.start(PurchaseWorkflow, { orderId: 'ord-f2', card: 'flaky' });
    const err = await rejectionOf(handle.result({ timeout: '10s' }));

    expect(err).toBeInstanceOf(WorkflowFailedError);
    const failure = (err as WorkflowFailedError).error;
    expect(failure).toBeInstanceOf(StepError);
    expect(failure.kind).toBe(ErrorKind.Unknown);
    expect(failure.message).toBe('gateway closed the connection');
    expect(failure.stepName).toBe('Payments.authorize');
    const run = await kagzi.client.getRun(handle.runId);
    expect(run.steps[0]).toMatchObject({ status: 'FAILED', error: { kind: 'UNKNOWN', message: 'gateway closed the connection' } });
  });

  it('lets a workflow catch a step failure and continue; a replay after restart rethrows it from the record', async () => {
    const orderId = 'ord-f3';
    const providers = [PaymentsService, BillingService, SubscriptionWorkflow];
    const first = await bootKagzi({ url: db.url, providers });
    const handle = await first.client.start(SubscriptionWorkflow, { orderId, card: 'declined' });
    await waitForStatus(handle, 'SLEEPING');
    await first.close();

    const second = await bootKagzi({ url: db.url, providers });
    const result = await second.client.getHandle<{ failure?: SeenFailure; invoice: string }>(handle.runId).result({ timeout: '10s' });

    const expected: SeenFailure = {
      isStepError: true,
      isPermanent: true,
      kind: 'BUSINESS_LOGIC_ERROR',
      message: 'card declined',
      code: 'DECLINED',
      stepName: 'Payments.authorize',
    };
    expect(result).toEqual({ failure: expected, invoice: `invoice:${orderId}:bank-transfer` });
    expect(effects.count('Payments.authorize', orderId)).toBe(1); // the failing step was not executed again
    expect(failuresSeen.get(orderId)).toEqual([expected, expected]); // first execution, then the replay
    expect(effects.count('Billing.sendInvoice', orderId)).toBe(1);
    const run = await second.client.getRun(handle.runId);
    expect(run.status).toBe('COMPLETED');
    expect(run.steps.map((s) => [s.key, s.status])).toEqual([
      ['Payments.authorize#1', 'FAILED'],
      ['$sleep#1', 'COMPLETED'],
      ['Billing.sendInvoice#1', 'COMPLETED'],
    ]);
    await second.close();
  });
});

// ---------------------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------------------

const renders = { active: 0, max: 0 };

@Injectable()
class ThumbnailService {
  @Step({ name: 'Thumbnails.render' })
  async render(imageId: string, size: string): Promise<string> {
    effects.enter('Thumbnails.render', `${imageId}/${size}`);
    renders.active++;
    renders.max = Math.max(renders.max, renders.active);
    try {
      await delay(120);
    } finally {
      renders.active--;
    }
    return `${imageId}@${size}`;
  }
}

@Workflow({ name: 'Gallery' })
class GalleryWorkflow implements WorkflowDefinition<{ imageId: string }, string[]> {
  constructor(private readonly thumbnails: ThumbnailService) {}

  async run(input: { imageId: string }): Promise<string[]> {
    const small = await this.thumbnails.render(input.imageId, 'small');
    const large = await this.thumbnails.render(input.imageId, 'large');
    return [small, large];
  }
}

describe('worker concurrency', () => {
  it('runs at most `concurrency` runs at once (2 across 6 runs)', async () => {
    const kagzi = await bootKagzi({ url: db.url, providers: [ThumbnailService, GalleryWorkflow], worker: { concurrency: 2 } });
    try {
      const ids = ['img-1', 'img-2', 'img-3', 'img-4', 'img-5', 'img-6'];
      const handles = await Promise.all(ids.map((imageId) => kagzi.client.start(GalleryWorkflow, { imageId })));
      const results = await Promise.all(handles.map((h) => h.result({ timeout: '10s' })));

      expect(results).toEqual(ids.map((id) => [`${id}@small`, `${id}@large`]));
      expect(renders.max).toBe(2); // never 3+, and the worker did use both slots
      for (const id of ids) {
        expect(effects.count('Thumbnails.render', `${id}/small`)).toBe(1);
        expect(effects.count('Thumbnails.render', `${id}/large`)).toBe(1);
      }
    } finally {
      await kagzi.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// Writes the database refuses for their data (SQLSTATE class 22/23)
// ---------------------------------------------------------------------------------------------------

@Injectable()
class ArchiveService {
  @Step({ name: 'Archive.store' })
  async store(docId: string): Promise<string> {
    effects.enter('Archive.store', docId);
    return `stored:${docId}`;
  }
}

@Workflow({ name: 'Archive' })
class ArchiveWorkflow implements WorkflowDefinition<{ docId: string; poison?: boolean }, string> {
  constructor(private readonly archive: ArchiveService) {}

  async run(input: { docId: string; poison?: boolean }): Promise<string> {
    effects.enterRun('Archive', input.docId);
    if (input.poison) throw new PermanentError(`poison pill for ${input.docId}`);
    return this.archive.store(input.docId);
  }
}

describe('a write the database refuses for its data', () => {
  let kagzi: KagziTestApp;

  beforeAll(async () => {
    kagzi = await bootKagzi({ url: db.url, providers: [ArchiveService, ArchiveWorkflow] });
    // The refusals a data error (SQLSTATE class 22) causes: a step record, and a run's failure record.
    await sql(
      db.url,
      `create function public.refuse_data() returns trigger language plpgsql as $$
       begin raise exception 'refused by the test' using errcode = '22P05'; end $$;
       create trigger refuse_step before insert on kagzi.step_runs for each row
         when (new.step_name = 'Archive.store')
         execute function public.refuse_data();
       create trigger refuse_failure before update on kagzi.workflow_runs for each row
         when (new.status = 'FAILED' and new.error::text like '%poison pill%') execute function public.refuse_data();`,
    );
  });

  afterAll(async () => {
    await kagzi?.close();
    await sql(db.url, 'drop trigger refuse_step on kagzi.step_runs; drop trigger refuse_failure on kagzi.workflow_runs');
  });

  it('fails the run once with KAGZI_UNSTORABLE instead of re-running the step after every lease expiry', async () => {
    const handle = await kagzi.client.start(ArchiveWorkflow, { docId: 'refuse-step-1' });
    const err = await rejectionOf(handle.result({ timeout: '10s' }));
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const failure = (err as WorkflowFailedError).error;
    expect(failure).toMatchObject({ kind: ErrorKind.ValidationFailed, code: 'KAGZI_UNSTORABLE' });
    expect(failure.message).toMatch(/refused by the test \(SQLSTATE 22P05\)/);
    await delay(2_500); // a lease (2 s) later: no worker picked the run up again
    expect(effects.count('Archive.store', 'refuse-step-1')).toBe(1);
    const [run] = await sql<{ status: string; lease_epoch: number }>(db.url, 'select status, lease_epoch from kagzi.workflow_runs where id = $1', [handle.runId]);
    expect(run).toEqual({ status: 'FAILED', lease_epoch: 1 });
  });

  it('a failure whose error the database refuses is recorded with an error that says so', async () => {
    const handle = await kagzi.client.start(ArchiveWorkflow, { docId: 'poison-1', poison: true });
    const err = await rejectionOf(handle.result({ timeout: '10s' }));
    const failure = (err as WorkflowFailedError).error;
    expect(failure.code).toBe('KAGZI_UNSTORABLE');
    expect(failure.kind).toBe(ErrorKind.BusinessLogicError);
    expect(failure.message).toMatch(/^The run failed with \[BUSINESS_LOGIC_ERROR\], but its error could not be stored: .*SQLSTATE 22P05/);
    expect(effects.runEntries('Archive', 'poison-1')).toBe(1);
  });
});
