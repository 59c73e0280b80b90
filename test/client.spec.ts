/**
 * The WorkflowClient API and what it does with bad input (SPEC §1 Client, §2 guarantee 5): typed errors
 * that name the problem, raised at the call that caused it, with nothing inserted and other runs unharmed.
 */
import { Injectable, Logger, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  Duration,
  InvalidOptionsError,
  KagziModule,
  WorkflowClient,
  PayloadTooLargeError,
  ResultTimeoutError,
  RunNotFoundError,
  RunSummary,
  StartOptions,
  Step,
  UnserializableValueError,
  Workflow,
  WorkflowCancelledError,
  WorkflowContext,
  WorkflowDefinition,
  WorkflowFailedError,
  WorkflowNotFoundError,
} from '@kagzi/nestjs';
import { createTestDatabase, TestDatabase } from './support/database';
import {
  bootKagzi,
  CallCounter,
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

const calls = new CallCounter();
const UNKNOWN_RUN_ID = '00000000-0000-4000-8000-000000000000';

// ---------------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------------

@Injectable()
class GreeterService {
  @Step({ name: 'Greeter.compose' })
  async compose(name: string): Promise<string> {
    calls.bump('Greeter.compose', name);
    return `Hello, ${name}!`;
  }
}

@Workflow({ name: 'Greeting' })
class GreetingWorkflow implements WorkflowDefinition<{ name: string }, string> {
  constructor(private readonly greeter: GreeterService) {}

  async run(input: { name: string }): Promise<string> {
    return this.greeter.compose(input.name);
  }
}

/** Looks like a workflow but lacks @Workflow. */
@Injectable()
class NotAWorkflow implements WorkflowDefinition<{ name: string }, string> {
  async run(input: { name: string }): Promise<string> {
    return input.name;
  }
}

@Injectable()
class ReportsService {
  @Step({ name: 'Reports.render' })
  async render(reportId: string, bytes: number): Promise<string> {
    calls.bump('Reports.render', reportId);
    return 'x'.repeat(bytes);
  }

  @Step({ name: 'Reports.subscribe' })
  async subscribe(reportId: string): Promise<{ cron: string; onReady: () => void }> {
    calls.bump('Reports.subscribe', reportId);
    return { cron: '0 9 * * 1', onReady: () => undefined }; // a callback cannot be stored
  }
}

interface ReportInput {
  reportId: string;
  bytes: number;
  /** Return the body twice: each step output fits, the workflow output does not. */
  twice?: boolean;
  subscribe?: boolean;
}

@Workflow({ name: 'Report' })
class ReportWorkflow implements WorkflowDefinition<ReportInput, number | string> {
  constructor(private readonly reports: ReportsService) {}

  async run(input: ReportInput): Promise<number | string> {
    if (input.subscribe) await this.reports.subscribe(input.reportId);
    const body = await this.reports.render(input.reportId, input.bytes);
    return input.twice ? body + body : body.length;
  }
}

@Workflow({ name: 'Signup' })
class SignupWorkflow implements WorkflowDefinition<{ email: string }, string> {
  async run(input: { email: string }): Promise<string> {
    calls.bump('Signup.run', input.email);
    return `welcome ${input.email}`;
  }
}

@Injectable()
class TrialsService {
  @Step({ name: 'Trials.begin' })
  async begin(userId: string): Promise<string> {
    calls.bump('Trials.begin', userId);
    return `trial:${userId}`;
  }

  @Step({ name: 'Trials.convert' })
  async convert(userId: string): Promise<string> {
    calls.bump('Trials.convert', userId);
    return `paid:${userId}`;
  }
}

@Workflow({ name: 'Trial' })
class TrialWorkflow implements WorkflowDefinition<{ userId: string }, string> {
  constructor(private readonly trials: TrialsService) {}

  async run(input: { userId: string }, ctx: WorkflowContext): Promise<string> {
    await this.trials.begin(input.userId);
    await ctx.sleep('1s');
    return this.trials.convert(input.userId);
  }
}

const dumpStarted = new Map<string, Deferred>();
const dumpGate = new Map<string, Deferred>();
const exportSignals = new Map<string, AbortSignal>();

@Injectable()
class ExporterService {
  @Step({ name: 'Exporter.dump' })
  async dump(jobId: string): Promise<string> {
    calls.bump('Exporter.dump', jobId);
    dumpStarted.get(jobId)?.resolve();
    await dumpGate.get(jobId)?.promise;
    return `s3://exports/${jobId}.csv`;
  }

  @Step({ name: 'Exporter.upload' })
  async upload(jobId: string, location: string): Promise<string> {
    calls.bump('Exporter.upload', jobId);
    return location;
  }
}

@Workflow({ name: 'Export' })
class ExportWorkflow implements WorkflowDefinition<{ jobId: string }, string> {
  constructor(private readonly exporter: ExporterService) {}

  async run(input: { jobId: string }, ctx: WorkflowContext): Promise<string> {
    exportSignals.set(input.jobId, ctx.signal);
    const location = await this.exporter.dump(input.jobId);
    return this.exporter.upload(input.jobId, location);
  }
}

@Injectable()
class SlowService {
  @Step({ name: 'Slow.crunch' })
  async crunch(ms: number): Promise<number> {
    await delay(ms);
    return ms;
  }
}

@Workflow({ name: 'Slow' })
class SlowWorkflow implements WorkflowDefinition<{ ms: number }, number> {
  constructor(private readonly slow: SlowService) {}

  async run(input: { ms: number }): Promise<number> {
    return this.slow.crunch(input.ms);
  }
}

/** Served only by the slow-polling app of the delayed-start test. */
@Workflow({ name: 'Welcome' })
class WelcomeWorkflow implements WorkflowDefinition<{ userId: string }, { userId: string; at: Date }> {
  async run(input: { userId: string }): Promise<{ userId: string; at: Date }> {
    return { userId: input.userId, at: new Date() };
  }
}

@Workflow({ name: 'Newsletter' })
class NewsletterWorkflow implements WorkflowDefinition<{ issue: number }, number> {
  async run(input: { issue: number }): Promise<number> {
    return input.issue;
  }
}

@Workflow({ name: 'Digest' })
class DigestWorkflow implements WorkflowDefinition<{ week: number }, number> {
  async run(input: { week: number }, ctx: WorkflowContext): Promise<number> {
    await ctx.sleep('1h');
    return input.week;
  }
}

const MAIN_PROVIDERS = [
  GreeterService,
  GreetingWorkflow,
  NotAWorkflow,
  ReportsService,
  ReportWorkflow,
  SignupWorkflow,
  TrialsService,
  TrialWorkflow,
  ExporterService,
  ExportWorkflow,
  SlowService,
  SlowWorkflow,
];

let db: TestDatabase;
let kagzi: KagziTestApp;

beforeAll(async () => {
  db = await createTestDatabase('client');
  kagzi = await bootKagzi({ url: db.url, providers: MAIN_PROVIDERS, maxPayloadBytes: 1024 });
});

afterAll(async () => {
  await closeAllApps();
  await db?.drop();
});

// ---------------------------------------------------------------------------------------------------
// 1, 2: starting runs
// ---------------------------------------------------------------------------------------------------

describe('start', () => {
  it('starts a workflow by name and by class', async () => {
    const byName = await kagzi.client.start<{ name: string }, string>('Greeting', { name: 'Ada' });
    const byClass = await kagzi.client.start(GreetingWorkflow, { name: 'Grace' });
    expect(byName.runId).not.toBe(byClass.runId);
    expect(await byName.result({ timeout: '10s' })).toBe('Hello, Ada!');
    expect(await byClass.result({ timeout: '10s' })).toBe('Hello, Grace!');
    for (const handle of [byName, byClass]) {
      const run = await kagzi.client.getRun(handle.runId);
      expect(run).toMatchObject({ workflowName: 'Greeting', version: 1, status: 'COMPLETED' });
    }
  });

  it('rejects unknown workflows and versions with WorkflowNotFoundError, inserting nothing', async () => {
    const before = await kagzi.client.countWorkflows();

    const unknownName = await rejectionOf(kagzi.client.start('Greting', { name: 'typo' }));
    expect(unknownName).toBeInstanceOf(WorkflowNotFoundError);
    expect((unknownName as Error).message).toContain('Greting');

    const unknownVersion = await rejectionOf(kagzi.client.start('Greeting', { name: 'v7' }, { version: 7 }));
    expect(unknownVersion).toBeInstanceOf(WorkflowNotFoundError);
    expect((unknownVersion as Error).message).toMatch(/Greeting/);
    expect((unknownVersion as Error).message).toMatch(/7/);

    const notAWorkflow = await rejectionOf(kagzi.client.start(NotAWorkflow, { name: 'plain' }));
    expect(notAWorkflow).toBeInstanceOf(WorkflowNotFoundError);
    expect((notAWorkflow as Error).message).toContain('NotAWorkflow');

    expect(await kagzi.client.countWorkflows()).toBe(before);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['version: 0', { version: 0 }, /version/],
    ['version: 1.5', { version: 1.5 }, /version/],
    ["delay: '5 parsecs'", { delay: '5 parsecs' }, /delay/],
    ["idempotencyKey: ''", { idempotencyKey: '' }, /idempotencyKey/],
    ['an unknown option', { priority: 'high' }, /priority/],
  ])('rejects malformed start options (%s) with InvalidOptionsError naming the option, inserting nothing', async (_label, options, names) => {
    const before = await kagzi.client.countWorkflows();
    const err = await rejectionOf(kagzi.client.start('Greeting', { name: 'opts' }, options as StartOptions));
    expect(err).toBeInstanceOf(InvalidOptionsError);
    expect((err as Error).message).toMatch(names);
    expect(await kagzi.client.countWorkflows()).toBe(before);
  });
});

// ---------------------------------------------------------------------------------------------------
// 3: payload limits and unserializable values
// ---------------------------------------------------------------------------------------------------

describe('payloads (maxPayloadBytes: 1024)', () => {
  type Handle = Awaited<ReturnType<KagziTestApp['client']['start']>>;

  async function failureOf(handle: Handle): Promise<WorkflowFailedError['error']> {
    const err = await rejectionOf(handle.result({ timeout: '10s' }));
    expect(err).toBeInstanceOf(WorkflowFailedError);
    return (err as WorkflowFailedError).error;
  }

  it('rejects bad inputs at start and fails runs whose outputs cannot be stored, while other runs complete', async () => {
    const before = await kagzi.client.countWorkflows();
    const [tooLarge, unserializable, oversizedStep, callbackStep, oversizedOutput, ...good] = await Promise.allSettled([
      kagzi.client.start('Greeting', { name: 'y'.repeat(2048) }),
      kagzi.client.start('Greeting', { name: 'Hook', hooks: { onDone: () => undefined } } as unknown as { name: string }),
      kagzi.client.start(ReportWorkflow, { reportId: 'big', bytes: 2048 }),
      kagzi.client.start(ReportWorkflow, { reportId: 'callback', bytes: 10, subscribe: true }),
      kagzi.client.start(ReportWorkflow, { reportId: 'twice', bytes: 700, twice: true }),
      kagzi.client.start(GreetingWorkflow, { name: 'Alan' }),
      kagzi.client.start(GreetingWorkflow, { name: 'Barbara' }),
      kagzi.client.start(ReportWorkflow, { reportId: 'small', bytes: 100 }),
    ]);

    // oversized input: typed error at start, nothing stored
    expect(tooLarge.status).toBe('rejected');
    const large = (tooLarge as PromiseRejectedResult).reason as Error;
    expect(large).toBeInstanceOf(PayloadTooLargeError);
    expect(large.message).toContain('input of workflow "Greeting"');
    expect(large.message).toContain('1024');

    // unserializable input: typed error naming the path
    expect(unserializable.status).toBe('rejected');
    const unser = (unserializable as PromiseRejectedResult).reason as Error;
    expect(unser).toBeInstanceOf(UnserializableValueError);
    expect(unser.message).toContain('$.hooks.onDone');

    const [bigHandle, callbackHandle, twiceHandle] = [oversizedStep, callbackStep, oversizedOutput].map((r) => {
      expect(r.status).toBe('fulfilled');
      return (r as PromiseFulfilledResult<Handle>).value;
    });

    // a step returning 2 KB: the run fails, naming the step
    const big = await failureOf(bigHandle);
    expect(big.code).toBe('KAGZI_PAYLOAD_TOO_LARGE');
    expect(big.message).toContain('Reports.render');
    expect(big.stepName).toBe('Reports.render');
    const bigRun = await kagzi.client.getRun(bigHandle.runId);
    expect(bigRun.status).toBe('FAILED');
    expect(bigRun.steps).toMatchObject([{ key: 'Reports.render#1', status: 'FAILED', error: { code: 'KAGZI_PAYLOAD_TOO_LARGE' } }]);
    expect(bigRun.steps[0].output).toBeUndefined();

    // a step returning a callback: the run fails, naming the step and the path
    const callback = await failureOf(callbackHandle);
    expect(callback.code).toBe('KAGZI_UNSERIALIZABLE_VALUE');
    expect(callback.message).toContain('Reports.subscribe');
    expect(callback.message).toContain('$.onReady');
    expect(callback.stepName).toBe('Reports.subscribe');
    expect(calls.get('Reports.render', 'callback')).toBe(0); // the run stopped at the bad step

    // every step fits, the workflow's own output does not
    const twice = await failureOf(twiceHandle);
    expect(twice.code).toBe('KAGZI_PAYLOAD_TOO_LARGE');
    expect(twice.message).toContain('output of workflow "Report"');

    // the runs started alongside are unharmed
    const goodHandles = good.map((g) => {
      expect(g.status).toBe('fulfilled');
      return (g as PromiseFulfilledResult<Handle>).value;
    });
    expect(await Promise.all(goodHandles.map((h) => h.result({ timeout: '10s' })))).toEqual(['Hello, Alan!', 'Hello, Barbara!', 100]);

    expect(await kagzi.client.countWorkflows()).toBe(before + 6); // three failed runs and three good ones; no row for bad inputs
  });
});

// ---------------------------------------------------------------------------------------------------
// 4: idempotent start
// ---------------------------------------------------------------------------------------------------

describe('idempotent start', () => {
  it('turns 20 concurrent starts with one idempotency key into one run whose body runs once', async () => {
    const handles = await Promise.all(
      Array.from({ length: 20 }, () => kagzi.client.start(SignupWorkflow, { email: 'ada@example.com' }, { idempotencyKey: 'k1' })),
    );
    const runIds = new Set(handles.map((h) => h.runId));
    expect(runIds.size).toBe(1);
    const rows = await sql<{ n: number }>(db.url, `select count(*)::int as n from kagzi.workflow_runs where idempotency_key = 'k1'`);
    expect(rows[0].n).toBe(1);
    expect(await handles[7].result({ timeout: '10s' })).toBe('welcome ada@example.com');
    await delay(300); // give a hypothetical second run time to execute
    expect(calls.get('Signup.run', 'ada@example.com')).toBe(1);

    const later = await kagzi.client.start(SignupWorkflow, { email: 'ada@example.com' }, { idempotencyKey: 'k1' });
    expect(later.runId).toBe(handles[0].runId);
    const run = await kagzi.client.getRun(later.runId);
    expect(run.status).toBe('COMPLETED');
    const [summary] = (await kagzi.client.listRuns({ name: 'Signup' })).items;
    expect(summary).toMatchObject({ runId: later.runId, idempotencyKey: 'k1' });
  });
});

// ---------------------------------------------------------------------------------------------------
// 5: delayed start
// ---------------------------------------------------------------------------------------------------

describe('delayed start', () => {
  it('starts after the delay, driven by NOTIFY and the next-due timer rather than the 5 s poll', async () => {
    const slowPoller = await bootKagzi({ url: db.url, providers: [WelcomeWorkflow], worker: { pollInterval: '5s' } });
    try {
      const t0 = Date.now();
      const handle = await slowPoller.client.start(WelcomeWorkflow, { userId: 'u-delay' }, { delay: '800ms' });
      expect(await handle.status()).toBe('PENDING');
      const result = await handle.result({ timeout: '10s' });
      const elapsed = Date.now() - t0;
      expect(result.userId).toBe('u-delay');
      expect(result.at.getTime() - t0).toBeGreaterThanOrEqual(800);
      expect(elapsed).toBeGreaterThanOrEqual(800);
      expect(elapsed).toBeLessThan(3_000);
    } finally {
      await slowPoller.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// 6: cancel
// ---------------------------------------------------------------------------------------------------

describe('cancel', () => {
  it('cancels a SLEEPING run: CANCELLED, result() rejects with the reason, and later steps never run', async () => {
    const handle = await kagzi.client.start(TrialWorkflow, { userId: 'u-churn' });
    await waitForStatus(handle, 'SLEEPING');
    await kagzi.client.cancel(handle.runId, 'customer churned');

    // The cancel is delivered by a replay of the sleeping run: it ends CANCELLED once that ran.
    const err = await rejectionOf(handle.result({ timeout: '10s' }));
    expect(await handle.status()).toBe('CANCELLED');
    expect(err).toBeInstanceOf(WorkflowCancelledError);
    expect((err as WorkflowCancelledError).runId).toBe(handle.runId);
    expect((err as WorkflowCancelledError).reason).toBe('customer churned');
    expect((err as Error).message).toContain('customer churned');

    await delay(1_400); // past the wake-up time
    expect(calls.get('Trials.begin', 'u-churn')).toBe(1);
    expect(calls.get('Trials.convert', 'u-churn')).toBe(0);
    expect(await handle.status()).toBe('CANCELLED');
    const run = await kagzi.client.getRun(handle.runId);
    expect(run.error).toMatchObject({ kind: 'CANCELLED', message: 'customer churned' });
    expect(run.steps.map((s) => s.key)).toEqual(['Trials.begin#1', '$sleep#1']);
  });

  it('cancels a RUNNING run: the worker aborts ctx.signal, the blocked step never commits, status stays CANCELLED', async () => {
    const jobId = 'job-1';
    dumpStarted.set(jobId, deferred());
    dumpGate.set(jobId, deferred());
    const handle = await kagzi.client.start(ExportWorkflow, { jobId });
    await dumpStarted.get(jobId)?.promise;
    const signal = exportSignals.get(jobId)!;
    expect(signal.aborted).toBe(false);

    await handle.cancel('operator abort');
    await waitFor('the worker to abort ctx.signal', () => signal.aborted, 5_000);
    dumpGate.get(jobId)?.resolve(); // the step body returns now; its commit must be refused
    await delay(400);

    expect(await stepRows(db.url, handle.runId)).toEqual([]);
    expect(calls.get('Exporter.upload', jobId)).toBe(0);
    expect(await handle.status()).toBe('CANCELLED');
    const err = await rejectionOf(handle.result({ timeout: '10s' }));
    expect(err).toBeInstanceOf(WorkflowCancelledError);
    expect((err as WorkflowCancelledError).reason).toBe('operator abort');
    const [row] = await sql<{ lease_owner: string | null; due_at: Date | null }>(db.url, 'select lease_owner, due_at from kagzi.workflow_runs where id = $1', [
      handle.runId,
    ]);
    expect(row).toEqual({ lease_owner: null, due_at: null });
  });

  it('cancels a PENDING (delayed) run before it ever starts', async () => {
    const handle = await kagzi.client.start(SignupWorkflow, { email: 'late@example.com' }, { delay: '300ms' });
    expect(await handle.status()).toBe('PENDING');
    await handle.cancel();
    await delay(700);
    expect(await handle.status()).toBe('CANCELLED');
    expect(calls.get('Signup.run', 'late@example.com')).toBe(0);
    const err = await rejectionOf(handle.result({ timeout: '10s' }));
    expect(err).toBeInstanceOf(WorkflowCancelledError);
  });

  it('rejects an unknown run id with RunNotFoundError and leaves a finished run alone', async () => {
    await expect(kagzi.client.cancel(UNKNOWN_RUN_ID)).rejects.toBeInstanceOf(RunNotFoundError);
    await expect(kagzi.client.cancel('not-a-run-id')).rejects.toBeInstanceOf(RunNotFoundError);

    const done = await kagzi.client.start(GreetingWorkflow, { name: 'Finished' });
    await done.result({ timeout: '10s' });
    const before = await kagzi.client.getRun(done.runId);
    await expect(kagzi.client.cancel(done.runId, 'too late')).resolves.toBeUndefined();
    const after = await kagzi.client.getRun(done.runId);
    expect(after.status).toBe('COMPLETED');
    expect(after.output).toBe('Hello, Finished!');
    expect(after.error).toBeUndefined();
    expect(after.updatedAt).toEqual(before.updatedAt);
    expect(await done.result({ timeout: '10s' })).toBe('Hello, Finished!');
  });
});

// ---------------------------------------------------------------------------------------------------
// 7: result timeout
// ---------------------------------------------------------------------------------------------------

describe('result timeout', () => {
  it('rejects with ResultTimeoutError after the timeout, and the run still completes', async () => {
    const handle = await kagzi.client.start(SlowWorkflow, { ms: 900 });
    const t0 = Date.now();
    const err = await rejectionOf(handle.result({ timeout: '300ms' }));
    const waited = Date.now() - t0;
    expect(err).toBeInstanceOf(ResultTimeoutError);
    expect((err as Error).message).toContain(handle.runId);
    expect(waited).toBeGreaterThanOrEqual(250);
    expect(waited).toBeLessThan(800);
    expect(await handle.status()).toBe('RUNNING');
    expect(await handle.result({ timeout: '10s' })).toBe(900);
  });
});

// ---------------------------------------------------------------------------------------------------
// 9: getRun / handles on unknown ids
// ---------------------------------------------------------------------------------------------------

describe('unknown run ids', () => {
  it('getRun rejects an unknown id and a non-UUID with RunNotFoundError', async () => {
    await expect(kagzi.client.getRun(UNKNOWN_RUN_ID)).rejects.toBeInstanceOf(RunNotFoundError);
    await expect(kagzi.client.getRun('order-42')).rejects.toBeInstanceOf(RunNotFoundError);
    await expect(kagzi.client.getRun("'; drop table kagzi.workflow_runs; --")).rejects.toBeInstanceOf(RunNotFoundError);
  });

  it('handles of unknown runs report RunNotFoundError', async () => {
    expect(() => kagzi.client.getHandle('order-42')).toThrow(RunNotFoundError);
    const handle = kagzi.client.getHandle(UNKNOWN_RUN_ID);
    await expect(handle.status()).rejects.toBeInstanceOf(RunNotFoundError);
    await expect(handle.result({ timeout: '2s' })).rejects.toBeInstanceOf(RunNotFoundError);
  });
});

// ---------------------------------------------------------------------------------------------------
// 10: client-only process
// ---------------------------------------------------------------------------------------------------

describe('client-only process (worker: false)', () => {
  it('starts runs that another app executes, and receives their results', async () => {
    const clientOnly = await bootKagzi({ url: db.url, worker: false });
    try {
      expect(clientOnly.worker.state).toBe('CREATED'); // never polls
      const byName = await clientOnly.client.start<{ name: string }, string>('Greeting', { name: 'Remote' }); // known from the worker's registration
      const byClass = await clientOnly.client.start(GreetingWorkflow, { name: 'Remote class' });
      expect(await byName.result({ timeout: '10s' })).toBe('Hello, Remote!');
      expect(await byClass.result({ timeout: '10s' })).toBe('Hello, Remote class!');
      expect(calls.get('Greeter.compose', 'Remote')).toBe(1);
      expect((await clientOnly.client.getRun(byName.runId)).status).toBe('COMPLETED');
      await expect(clientOnly.client.start('NoSuchWorkflow', {})).rejects.toBeInstanceOf(WorkflowNotFoundError);
    } finally {
      await clientOnly.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// 11: module options
// ---------------------------------------------------------------------------------------------------

describe('KagziModule.forRoot options', () => {
  it.each<[string, Parameters<typeof bootKagzi>[0] extends infer O ? Partial<O> : never, RegExp]>([
    ['worker.concurrency: 0', { worker: { concurrency: 0 } }, /worker\.concurrency/],
    ["schema: 'Bad-Name'", { schema: 'Bad-Name' }, /schema/],
    ['worker.concurrency: 1.5', { worker: { concurrency: 1.5 } }, /options\.worker\.concurrency: must be an integer/],
    ["schema: 'pg_kagzi' (PostgreSQL reserves pg_)", { schema: 'pg_kagzi' }, /options\.schema: must not start with 'pg_'/],
    ['leaseDuration: 0, heartbeatInterval: 0', { worker: { leaseDuration: 0, heartbeatInterval: 0 } }, /worker\.leaseDuration: must be at least 1s.*worker\.heartbeatInterval: must be at least 100 ms/],
    ["heartbeatInterval: '0ms'", { worker: { heartbeatInterval: '0ms' } }, /worker\.heartbeatInterval: must be at least 100 ms/],
    ['pollInterval: 5 (below 10 ms)', { worker: { pollInterval: 5 } }, /worker\.pollInterval: must be at least 10 ms/],
    ["leaseDuration: '30 days'", { worker: { leaseDuration: '30 days' } }, /worker\.leaseDuration: must be at most 1h/],
    ["heartbeatInterval: '2h'", { worker: { heartbeatInterval: '2h' } }, /worker\.heartbeatInterval: must be at most 1h/],
    ["pollInterval: '1 day'", { worker: { pollInterval: '1 day' } }, /worker\.pollInterval: must be at most 1h/],
    ["shutdownTimeout: '2d'", { worker: { shutdownTimeout: '2d' } }, /worker\.shutdownTimeout: must be at most 1d/],
    ['shutdownTimeout: -1', { worker: { shutdownTimeout: -1 } }, /worker\.shutdownTimeout: must be a finite, non-negative duration/],
    ['leaseDuration: NaN', { worker: { leaseDuration: NaN } }, /worker\.leaseDuration: must be a finite, non-negative duration/],
    ['pollInterval: Infinity', { worker: { pollInterval: Infinity } }, /worker\.pollInterval: must be a finite, non-negative duration/],
    ["pollInterval: ''", { worker: { pollInterval: '' as '1s' } }, /worker\.pollInterval: must be a number of milliseconds or a string like/],
    ["leaseDuration: 'soon'", { worker: { leaseDuration: 'soon' as '1s' } }, /worker\.leaseDuration: must be a number of milliseconds or a string like/],
    ["retryDelay: '30 days'", { retryDelay: '30 days' }, /options\.retryDelay: must be at most 10m/],
    ["reconnectTimeout: '2h'", { reconnectTimeout: '2h' }, /options\.reconnectTimeout: must be at most 1h/],
  ])('fails at boot with InvalidOptionsError naming the option (%s)', async (_label, options, names) => {
    const err = await rejectionOf(bootKagzi({ url: db.url, ...options }));
    expect(err).toBeInstanceOf(InvalidOptionsError);
    expect((err as Error).message).toMatch(names);
  });
});

describe('KagziModule.forRootAsync', () => {
  const DB_URL = Symbol('DB_URL');

  @Module({ providers: [{ provide: DB_URL, useFactory: () => db.url }], exports: [DB_URL] })
  class SettingsModule {}

  it('takes its options from a factory with injected providers, and runs workflows like forRoot', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        KagziModule.forRootAsync({
          imports: [SettingsModule],
          inject: [DB_URL],
          useFactory: (url: string) => ({ database: { url }, worker: { pollInterval: '200ms' } }),
        }),
      ],
      providers: [GreeterService, GreetingWorkflow],
    }).compile();
    const app = await moduleRef.init();
    try {
      const client = app.get(WorkflowClient);
      const handle = await client.start(GreetingWorkflow, { name: 'Async' });
      expect(await handle.result({ timeout: '10s' })).toBe('Hello, Async!');
    } finally {
      await app.close();
    }
  });

  it('checks factory-made options at boot like forRoot', async () => {
    const moduleRef = Test.createTestingModule({
      imports: [KagziModule.forRootAsync({ useFactory: () => ({ database: { url: db.url }, maxPayloadBytes: -1 }) })],
    });
    const err = await rejectionOf(moduleRef.compile());
    expect(err).toBeInstanceOf(InvalidOptionsError);
    expect((err as Error).message).toMatch(/maxPayloadBytes/);
  });
});

// ---------------------------------------------------------------------------------------------------
// 8: listRuns and countWorkflows (a database of their own, so the counts are exact)
// ---------------------------------------------------------------------------------------------------

describe('listRuns and countWorkflows', () => {
  let listDb: TestDatabase;
  let lister: KagziTestApp;
  const newsletterIds: string[] = [];
  const digestIds: string[] = [];

  beforeAll(async () => {
    listDb = await createTestDatabase('client_list');
    lister = await bootKagzi({ url: listDb.url, providers: [NewsletterWorkflow, DigestWorkflow] });
    const handles = await Promise.all([
      ...Array.from({ length: 15 }, (_, i) => lister.client.start(NewsletterWorkflow, { issue: i })),
      ...Array.from({ length: 10 }, (_, i) => lister.client.start(DigestWorkflow, { week: i })),
    ]);
    newsletterIds.push(...handles.slice(0, 15).map((h) => h.runId));
    digestIds.push(...handles.slice(15).map((h) => h.runId));
    await waitFor('15 COMPLETED and 10 SLEEPING runs', async () => {
      const [completed, sleeping] = await Promise.all([
        lister.client.countWorkflows({ status: 'COMPLETED' }),
        lister.client.countWorkflows({ status: 'SLEEPING' }),
      ]);
      return completed === 15 && sleeping === 10;
    });
  });

  afterAll(async () => {
    await lister?.close();
    await listDb?.drop();
  });

  async function allPages(filter: Parameters<KagziTestApp['client']['listRuns']>[0], expectedSizes: number[]): Promise<RunSummary[]> {
    const items: RunSummary[] = [];
    let cursor: string | undefined;
    for (const [i, size] of expectedSizes.entries()) {
      const page = await lister.client.listRuns({ ...filter, ...(cursor ? { cursor } : {}) });
      expect(page.items).toHaveLength(size);
      items.push(...page.items);
      cursor = page.nextCursor;
      if (i < expectedSizes.length - 1) expect(typeof cursor).toBe('string');
      else expect(page).not.toHaveProperty('nextCursor');
    }
    return items;
  }

  it('pages 25 runs newest first as 10, 10, 5 with no duplicates or gaps', async () => {
    const items = await allPages({ limit: 10 }, [10, 10, 5]);
    const ids = items.map((r) => r.runId);
    expect(new Set(ids).size).toBe(25);
    expect([...ids].sort()).toEqual([...newsletterIds, ...digestIds].sort());
    for (let i = 1; i < items.length; i++) expect(items[i - 1].createdAt.getTime()).toBeGreaterThanOrEqual(items[i].createdAt.getTime());
    for (const item of items) {
      expect(item).toMatchObject({ version: 1 });
      expect(['Newsletter', 'Digest']).toContain(item.workflowName);
    }
  });

  it('pages an exact multiple (15 runs by 5) without an empty last page', async () => {
    const items = await allPages({ name: 'Newsletter', limit: 5 }, [5, 5, 5]);
    expect(items.map((r) => r.runId).sort()).toEqual([...newsletterIds].sort());
  });

  it('filters by name and by status', async () => {
    const digests = await lister.client.listRuns({ name: 'Digest' });
    expect(digests.items.map((r) => r.runId).sort()).toEqual([...digestIds].sort());
    expect(digests.nextCursor).toBeUndefined();

    const sleeping = await lister.client.listRuns({ status: 'SLEEPING', limit: 100 });
    expect(sleeping.items.map((r) => r.runId).sort()).toEqual([...digestIds].sort());
    const completed = await lister.client.listRuns({ status: ['COMPLETED'], name: 'Newsletter' });
    expect(completed.items).toHaveLength(15);
    expect(completed.items.every((r) => r.status === 'COMPLETED' && r.completedAt instanceof Date)).toBe(true);
    const both = await lister.client.listRuns({ status: ['COMPLETED', 'SLEEPING'] });
    expect(both.items).toHaveLength(25);
    expect((await lister.client.listRuns({ name: 'Digest', status: 'COMPLETED' })).items).toEqual([]);
  });

  it('counts by name and status', async () => {
    expect(await lister.client.countWorkflows()).toBe(25);
    expect(await lister.client.countWorkflows({ name: 'Newsletter' })).toBe(15);
    expect(await lister.client.countWorkflows({ name: 'Digest', status: 'SLEEPING' })).toBe(10);
    expect(await lister.client.countWorkflows({ name: 'Digest', status: 'COMPLETED' })).toBe(0);
    expect(await lister.client.countWorkflows({ status: ['COMPLETED', 'SLEEPING'] })).toBe(25);
    expect(await lister.client.countWorkflows({ name: 'Newsletter', version: 2 })).toBe(0);
    await expect(lister.client.countWorkflows({ status: 'DONE' as never })).rejects.toBeInstanceOf(InvalidOptionsError);
  });

  it('rejects a garbage cursor with InvalidOptionsError', async () => {
    await expect(lister.client.listRuns({ cursor: 'not-a-cursor' })).rejects.toBeInstanceOf(InvalidOptionsError);
    await expect(lister.client.listRuns({ limit: 0 })).rejects.toBeInstanceOf(InvalidOptionsError);
  });

  it('rejects a well-formed cursor that listRuns never issued with InvalidOptionsError (not a database error)', async () => {
    const forged = (payload: unknown): string => Buffer.from(JSON.stringify(payload)).toString('base64url');
    const badTimestamp = forged(['yesterday-ish', '00000000-0000-4000-8000-000000000000']);
    const badUuid = forged(['2030-01-01 00:00:00+00', '------------------------------------']);
    for (const cursor of [badTimestamp, badUuid]) {
      const err = await rejectionOf(lister.client.listRuns({ cursor }));
      expect(err).toBeInstanceOf(InvalidOptionsError);
      expect((err as Error).message).toMatch(/cursor/);
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// 12: durations: the forms people write, bounds, and timers past 24.8 days
// ---------------------------------------------------------------------------------------------------

describe('durations', () => {
  it("waits out result({ timeout: '30d' }) instead of timing out after 1 ms (Node timers overflow past 2^31 - 1 ms)", async () => {
    const handle = await kagzi.client.start(SlowWorkflow, { ms: 300 });
    expect(await handle.result({ timeout: '30d' })).toBe(300);
    const again = await kagzi.client.start(SlowWorkflow, { ms: 200 });
    expect(await again.result({ timeout: 3_000_000_000 })).toBe(200);
  });

  it.each<Duration>(['30 days', '1 minute', '2 hrs', '1.5h', '10 s', '1H' as Duration])("accepts the duration form '%s'", async (timeout) => {
    const handle = await kagzi.client.start(GreetingWorkflow, { name: `form ${timeout}` });
    expect(await handle.result({ timeout })).toBe(`Hello, form ${timeout}!`);
  });

  it('accepts the written-out forms in worker options and start delays', async () => {
    const spelled = await bootKagzi({
      url: db.url,
      schema: 'kagzi_spelled_durations',
      providers: [GreeterService, GreetingWorkflow],
      worker: { pollInterval: '200 ms', leaseDuration: '2 secs', heartbeatInterval: '0.5 seconds', shutdownTimeout: '300 msecs', retention: '2 weeks' },
    });
    const t0 = Date.now();
    const handle = await spelled.client.start(GreetingWorkflow, { name: 'Spelled' }, { delay: '0.5 seconds' });
    expect(await handle.result({ timeout: '1 minute' })).toBe('Hello, Spelled!');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(450);
    await spelled.close();
  });

  it.each<[string, unknown]>([
    ['negative', -1],
    ['negative string', '-5s'],
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['empty', ''],
    ['garbage', 'soon'],
    ['an unknown unit', '5 fortnights'],
    ['beyond 100 years', '101 years'],
  ])('refuses a %s result() timeout with InvalidOptionsError naming it', async (_label, timeout) => {
    const handle = await kagzi.client.start(GreetingWorkflow, { name: 'bad timeout' });
    const err = await rejectionOf(handle.result({ timeout: timeout as Duration }));
    expect(err).toBeInstanceOf(InvalidOptionsError);
    expect((err as Error).message).toMatch(/result\(\) timeout/);
  });
});

// ---------------------------------------------------------------------------------------------------
// 13: start options refused with a typed error before any SQL runs
// ---------------------------------------------------------------------------------------------------

describe('start options that PostgreSQL could not take', () => {
  const signups = (): Promise<number> => kagzi.client.countWorkflows({ name: 'Signup' });

  it.each<[string, StartOptions, RegExp]>([
    ['an idempotencyKey containing NUL', { idempotencyKey: 'order\u000042' }, /options\.idempotencyKey: must not contain NUL/],
    ['delay: 1e20', { delay: 1e20 }, /options\.delay: must be at most 100 years/],
    ["delay: '200 years'", { delay: '200 years' }, /options\.delay: must be at most 100 years/],
    ['delay: -1', { delay: -1 }, /options\.delay: must be a finite, non-negative duration/],
    ['delay: NaN', { delay: NaN }, /options\.delay: must be a finite, non-negative duration/],
    ["delay: ''", { delay: '' as Duration }, /options\.delay: must be a number of milliseconds or a string like/],
    ['an idempotencyKey with a lone surrogate (stored as U+FFFD, it would match other keys)', { idempotencyKey: 'key\ud800' }, /options\.idempotencyKey: must be well-formed Unicode/],
    ['version: 2 ** 31 (above PostgreSQL integer)', { version: 2 ** 31 }, /options\.version/],
  ])('refuses %s with InvalidOptionsError naming the option, inserting nothing', async (_label, options, names) => {
    const before = await signups();
    const err = await rejectionOf(kagzi.client.start(SignupWorkflow, { email: 'refused@example.com' }, options));
    expect(err).toBeInstanceOf(InvalidOptionsError);
    expect((err as Error).message).toMatch(names);
    expect(await signups()).toBe(before);
  });
});

describe('filters and arguments that PostgreSQL could not take', () => {
  it.each<[string, () => Promise<unknown>, RegExp]>([
    ['listRuns({ name }) with NUL', () => kagzi.client.listRuns({ name: 'Sign\u0000up' }), /filter\.name: must not contain NUL/],
    ['countWorkflows({ name }) with NUL', () => kagzi.client.countWorkflows({ name: 'Sign\u0000up' }), /filter\.name: must not contain NUL/],
    ['listRuns({ createdAfter }) at the edge of JavaScript dates', () => kagzi.client.listRuns({ createdAfter: new Date(-8.64e15) }), /filter\.createdAfter: must be a date between/],
    ['listRuns({ version: 2 ** 31 })', () => kagzi.client.listRuns({ version: 2 ** 31 }), /filter\.version/],
    ['setDefaultVersion(name, 2 ** 40)', () => kagzi.client.setDefaultVersion('Signup', 2 ** 40), /integer from 1 to 2147483647/],
    ['deprecateVersion(name, 2 ** 40)', () => kagzi.client.deprecateVersion('Signup', 2 ** 40), /integer from 1 to 2147483647/],
    ['cancel(id, reason) with a reason that is not a string', () => kagzi.client.cancel(UNKNOWN_RUN_ID, { toString: () => 'x' } as unknown as string), /reason must be a string/],
  ])('%s: InvalidOptionsError, not a raw database error', async (_label, call, message) => {
    const err = await rejectionOf(call());
    expect(err).toBeInstanceOf(InvalidOptionsError);
    expect((err as Error).message).toMatch(message);
  });
});

describe('workflow names that PostgreSQL could not take', () => {
  it.each<[string, string, RegExp]>([
    ['a 9,000-character name (it travels in a NOTIFY payload)', 'w'.repeat(9_000), /workflow name must be at most 200 characters; got 9000/],
    ['a name containing NUL', 'Sign\u0000up', /workflow name must not contain NUL/],
  ])('start() refuses %s with InvalidOptionsError', async (_label, name, message) => {
    const err = await rejectionOf(kagzi.client.start(name, {}));
    expect(err).toBeInstanceOf(InvalidOptionsError);
    expect((err as Error).message).toMatch(message);
    expect(await rejectionOf(kagzi.client.listVersions(name))).toBeInstanceOf(InvalidOptionsError);
  });
});

// ---------------------------------------------------------------------------------------------------
// 14: cancel reasons of any length and content
// ---------------------------------------------------------------------------------------------------

describe('cancel reasons', () => {
  it('cancels with a 5,000-character reason: CANCELLED, and a waiting result() rejects with the whole reason', async () => {
    const handle = await kagzi.client.start(SignupWorkflow, { email: 'long-reason@example.com' }, { delay: '1h' });
    const waiting = rejectionOf(handle.result({ timeout: '10s' })); // waits on the notification, which cannot hold this reason
    const reason = `refund requested: ${'r'.repeat(5_000)}`;
    await kagzi.client.cancel(handle.runId, reason);

    expect(await handle.status()).toBe('CANCELLED');
    const err = await waiting;
    expect(err).toBeInstanceOf(WorkflowCancelledError);
    expect((err as WorkflowCancelledError).reason).toBe(reason);
  });

  it('cancels a RUNNING run with a 10,000-character reason: the worker still learns of the cancel and aborts ctx.signal', async () => {
    const jobId = 'job-long-reason';
    dumpStarted.set(jobId, deferred());
    dumpGate.set(jobId, deferred());
    const handle = await kagzi.client.start(ExportWorkflow, { jobId });
    await dumpStarted.get(jobId)?.promise;
    const signal = exportSignals.get(jobId)!;

    await handle.cancel('x'.repeat(10_000));
    await waitFor('the worker to abort ctx.signal', () => signal.aborted, 5_000);
    dumpGate.get(jobId)?.resolve();
    // The run ends CANCELLED once its code has handled the cancel: a moment after the signal aborted.
    await waitFor('the run to end CANCELLED', async () => (await handle.status()) === 'CANCELLED', 5_000);
    expect(calls.get('Exporter.upload', jobId)).toBe(0);
  });

  it('cancels with a reason containing NUL: CANCELLED, the reason stored without the NUL character', async () => {
    const handle = await kagzi.client.start(SignupWorkflow, { email: 'nul-reason@example.com' }, { delay: '1h' });
    await kagzi.client.cancel(handle.runId, 'duplicate\u0000order');

    expect(await handle.status()).toBe('CANCELLED');
    const err = await rejectionOf(handle.result({ timeout: '10s' }));
    expect(err).toBeInstanceOf(WorkflowCancelledError);
    const reason = (err as WorkflowCancelledError).reason ?? '';
    expect(reason).not.toContain('\u0000');
    expect(reason).toMatch(/^duplicate.*order$/);
    expect((await kagzi.client.getRun(handle.runId)).error?.message).toBe(reason);
  });

  it('stores a very long reason capped, with a note saying so', async () => {
    const handle = await kagzi.client.start(SignupWorkflow, { email: 'huge-reason@example.com' }, { delay: '1h' });
    await kagzi.client.cancel(handle.runId, `why: ${'w'.repeat(100_000)}`);

    expect(await handle.status()).toBe('CANCELLED');
    const stored = (await kagzi.client.getRun(handle.runId)).error?.message ?? '';
    expect(stored.startsWith('why: www')).toBe(true);
    expect(stored.length).toBeLessThan(20_000);
    expect(stored).toMatch(/truncated/);
  });
});

// ---------------------------------------------------------------------------------------------------
// 15: the longest schema name PostgreSQL allows
// ---------------------------------------------------------------------------------------------------

describe('a 63-character schema name', () => {
  const LONG_SCHEMA = `kagzi_${'long_schema_'.repeat(6)}`.slice(0, 63);

  it('boots, starts runs woken by NOTIFY, returns their results and cancels one (statement and channel names fit PostgreSQL)', async () => {
    expect(LONG_SCHEMA).toHaveLength(63);
    // A 5 s poll: the claims and results below must come from the wakeup and finished notifications.
    const long = await bootKagzi({ url: db.url, schema: LONG_SCHEMA, providers: [GreeterService, GreetingWorkflow, SignupWorkflow], worker: { pollInterval: '5s' } });
    const t0 = Date.now();
    const handles = await Promise.all(['Ada', 'Grace', 'Edsger'].map((name) => long.client.start(GreetingWorkflow, { name: `${name} (long schema)` })));
    expect(await Promise.all(handles.map((h) => h.result({ timeout: '10s' })))).toEqual([
      'Hello, Ada (long schema)!',
      'Hello, Grace (long schema)!',
      'Hello, Edsger (long schema)!',
    ]);
    expect(Date.now() - t0).toBeLessThan(4_000);
    expect((await long.client.getRun(handles[0].runId)).steps.map((s) => s.key)).toEqual(['Greeter.compose#1']);

    const delayed = await long.client.start(SignupWorkflow, { email: 'long-schema@example.com' }, { delay: '1h' });
    const waiting = rejectionOf(delayed.result({ timeout: '10s' }));
    await long.client.cancel(delayed.runId, 'schema test');
    expect(await waiting).toBeInstanceOf(WorkflowCancelledError);
    expect(Date.now() - t0).toBeLessThan(4_500);

    const [row] = await sql<{ runs: number }>(db.url, `select count(*)::int as runs from "${LONG_SCHEMA}".workflow_runs`);
    expect(row.runs).toBe(4);
    await long.close();
  });
});

// ---------------------------------------------------------------------------------------------------
// 16: outputs too large to ride on the finished notification
// ---------------------------------------------------------------------------------------------------

describe('outputs over 7,000 bytes', () => {
  it('complete without the worker taking their finished notification for a cancel, and result() still returns them', async () => {
    const large = await bootKagzi({ url: db.url, schema: 'kagzi_large_outputs', providers: [ReportsService, ReportWorkflow] });
    const warn = jest.spyOn(Logger.prototype, 'warn');
    try {
      const handles = await Promise.all(
        Array.from({ length: 6 }, (_, i) => large.client.start(ReportWorkflow, { reportId: `large-${i}`, bytes: 4_000, twice: true })),
      );
      for (const handle of handles) expect(await handle.result({ timeout: '10s' })).toBe('x'.repeat(8_000));
      await delay(200); // notifications that arrive after the results
      const cancelWarnings = warn.mock.calls.map((args) => String(args[0])).filter((m) => m.includes('cancelled'));
      expect(cancelWarnings).toEqual([]);
    } finally {
      warn.mockRestore();
      await large.close();
    }
  });
});
