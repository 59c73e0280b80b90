/**
 * `client.startMany(items, { manager? })`: many runs in one statement, each item meaning what `start()`
 * means — handles in item order, idempotency keys (used before, or repeated within the batch: one run),
 * per-item version and delay; every item checked before anything is written (a bad one throws start()'s
 * typed error naming its index, and no row appears); the batch limits; a caller's transaction; one
 * statement and one NOTIFY per batch; the started-runs counter and a stored trace context per run.
 * Rows and step executions are counted.
 */
import { Injectable } from '@nestjs/common';
import { metrics, SpanKind, trace } from '@opentelemetry/api';
import { DataPoint, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import {
  InvalidOptionsError, KagziError, PayloadTooLargeError, StartManyItem, Step, UnserializableValueError, Workflow, WorkflowDefinition, WorkflowNotFoundError,
  WorkflowVersionDeprecatedError, WorkflowVersionNotFoundError,
} from '@kagzi/nestjs';
import { Client, QueryConfig } from 'pg';
import { DataSource } from 'typeorm';
import { KagziDatabase } from '../libs/kagzi/src/persistence/kagzi-database';
import { notificationChannel, statementName } from '../libs/kagzi/src/persistence/schema-identifiers';
import { createTestDatabase, TestDatabase } from './support/database';
import { bootKagzi, closeAllApps, delay, KagziTestApp, rejectionOf, sql } from './support/app';
import { SideEffects } from './support/side-effects';
import { registerTracing } from './fixtures/trace-sdk';
import { recordQueries } from './support/sent-queries';

const effects = new SideEffects();

@Injectable()
class Ledger {
  @Step()
  async record(n: number): Promise<number> {
    effects.enter('record', String(n));
    return n * 10;
  }
}

@Workflow({ name: 'BatchEcho', version: 1 })
class BatchEchoWorkflow implements WorkflowDefinition<{ n: number }, number> {
  constructor(private readonly ledger: Ledger) {}
  async run(input: { n: number }): Promise<number> {
    return this.ledger.record(input.n);
  }
}

@Workflow({ name: 'BatchLabel', version: 1 })
class BatchLabelV1 implements WorkflowDefinition<string, string> {
  async run(input: string): Promise<string> {
    return `v1:${input}`;
  }
}

@Workflow({ name: 'BatchLabel', version: 2 })
class BatchLabelV2 implements WorkflowDefinition<string, string> {
  async run(input: string): Promise<string> {
    return `v2:${input}`;
  }
}

/** Not decorated: not a workflow. */
class NotAWorkflow {
  async run(): Promise<void> {}
}

let db: TestDatabase;
let kagzi: KagziTestApp;
const PROVIDERS = [Ledger, BatchEchoWorkflow, BatchLabelV1, BatchLabelV2];

beforeAll(async () => {
  db = await createTestDatabase('start_many');
  kagzi = await bootKagzi({ url: db.url, providers: PROVIDERS });
});

afterAll(async () => {
  await closeAllApps();
  await db?.drop();
});

const count = async (where = 'true', values: unknown[] = [], schema = 'kagzi'): Promise<number> =>
  (await sql<{ n: number }>(db.url, `select count(*)::int as n from ${schema}.workflow_runs where ${where}`, values))[0].n;
const echo = (n: number, options?: StartManyItem['options']): StartManyItem<{ n: number }, number> => ({ workflow: BatchEchoWorkflow, input: { n }, options });

test('returns handles in item order, and the worker runs each once (mixed workflows, a pinned version, a delay)', async () => {
  const items: StartManyItem[] = [...Array.from({ length: 40 }, (_, i) => echo(i)), { workflow: 'BatchLabel', input: 'a', options: { version: 1 } }, { workflow: BatchLabelV2, input: 'b' }];
  const handles = await kagzi.client.startMany(items);
  expect(handles.length).toBe(42);
  expect(new Set(handles.map((h) => h.runId)).size).toBe(42);
  const results = await Promise.all(handles.map((h) => h.result({ timeout: '20s' })));
  expect(results).toEqual([...Array.from({ length: 40 }, (_, i) => i * 10), 'v1:a', 'v2:b']);
  for (let i = 0; i < 40; i++) expect(effects.count('record', String(i))).toBe(1);
  const pinned = await kagzi.client.getRun(handles[40].runId);
  expect([pinned.workflowName, pinned.version]).toEqual(['BatchLabel', 1]);

  const [delayed] = await kagzi.client.startMany([echo(500, { delay: '1h' })]);
  const [row] = await sql<{ status: string; wait_s: number }>(db.url, 'select status, extract(epoch from due_at - created_at)::float8 as wait_s from kagzi.workflow_runs where id = $1', [delayed.runId]);
  expect(row.status).toBe('PENDING');
  expect(row.wait_s).toBeGreaterThan(3590);
  expect(row.wait_s).toBeLessThan(3610);
  await delayed.cancel();
});

test('idempotency keys: a key used before returns that run; a key repeated in the batch yields one run; no duplicate rows', async () => {
  const earlier = await kagzi.client.start(BatchEchoWorkflow, { n: 1000 }, { idempotencyKey: 'order-1000' });
  await earlier.result({ timeout: '10s' });
  const before = await count();
  const handles = await kagzi.client.startMany<unknown, unknown>([
    echo(1001, { idempotencyKey: 'order-1000' }), // used before: that run, its input and result
    echo(1002, { idempotencyKey: 'order-1002' }),
    echo(1003),
    echo(1004, { idempotencyKey: 'order-1002' }), // repeats items[1]: the same run
    { workflow: 'BatchLabel', input: 'x', options: { idempotencyKey: 'order-1002' } }, // keys are per workflow: a run of its own
    echo(1005, { idempotencyKey: 'order-1000' }),
  ]);
  const ids = handles.map((h) => h.runId);
  expect(ids[0]).toBe(earlier.runId);
  expect(ids[5]).toBe(earlier.runId);
  expect(ids[3]).toBe(ids[1]);
  expect(new Set(ids).size).toBe(4);
  expect(await count()).toBe(before + 3);
  expect(await count("idempotency_key = 'order-1000'")).toBe(1);
  expect(await count("idempotency_key = 'order-1002'")).toBe(2);
  await expect(handles[3].result({ timeout: '10s' })).resolves.toBe(10020);
  await expect(handles[4].result({ timeout: '10s' })).resolves.toBe('v2:x');
  await expect(handles[0].result({ timeout: '10s' })).resolves.toBe(10000);
  expect(effects.count('record', '1004')).toBe(0);
  expect(effects.count('record', '1001')).toBe(0);

  // Keys and inputs travel as JSON: quotes, backslashes and any Unicode arrive as given.
  const odd = 'key "quoted" \\ back\\slash ü 😀 \n';
  const [oddRun] = await kagzi.client.startMany([{ workflow: 'BatchLabel', input: odd, options: { idempotencyKey: odd } }]);
  expect((await kagzi.client.findRun('BatchLabel', odd))?.runId).toBe(oddRun.runId);
  await expect(oddRun.result({ timeout: '10s' })).resolves.toBe(`v2:${odd}`);

  // The same batch again: every handle names the run it named the first time; nothing new.
  const again = await kagzi.client.startMany([echo(1, { idempotencyKey: 'order-1002' }), echo(2, { idempotencyKey: 'order-1000' })]);
  expect(again.map((h) => h.runId)).toEqual([ids[1], earlier.runId]);
  expect(await count()).toBe(before + 4);
});

describe('a bad item fails the whole call with a typed error naming its index; nothing is inserted', () => {
  const good = (n: number): StartManyItem[] => Array.from({ length: n }, (_, i) => echo(7000 + i, { idempotencyKey: `bad-batch-${i}` }));
  const cases: Array<[string, () => StartManyItem[], new (...args: never[]) => KagziError, RegExp]> = [
    ['a malformed delay', () => [...good(3), echo(1, { delay: 'soon' as never }), ...good(2)], InvalidOptionsError, /^startMany\(\): items\[3\]\.options\.delay: must be a number of milliseconds/],
    ['an empty idempotency key', () => [...good(2), echo(1, { idempotencyKey: '' })], InvalidOptionsError, /^startMany\(\): items\[2\]\.options\.idempotencyKey: /],
    ['an unknown option', () => [...good(1), echo(1, { priority: 3 } as never)], InvalidOptionsError, /^startMany\(\): items\[1\]\.options: .*priority/],
    ['a manager per item', () => [...good(1), echo(1, { manager: { query: async () => [] } } as never)], InvalidOptionsError, /^startMany\(\): items\[1\]\.options\.manager: not accepted per item; pass the transaction's manager once, as startMany\(items, \{ manager \}\)/],
    ['a misspelt key', () => [...good(4), { worklfow: BatchEchoWorkflow, input: 1 } as never], InvalidOptionsError, /^startMany\(\): items\[4\]\.worklfow: unknown key/],
    ['an item that is not an object', () => [...good(2), null as never], InvalidOptionsError, /^startMany\(\): items\[2\] must be an object/],
    ['an input too large', () => [...good(4), { workflow: BatchEchoWorkflow, input: { n: 1, pad: 'x'.repeat(2 * 1024 * 1024) } }], PayloadTooLargeError, /^startMany\(\): items\[4\]\.input: The input of workflow "BatchEcho" is \d+ bytes serialized, above maxPayloadBytes/],
    ['an input that cannot be stored', () => [...good(2), { workflow: BatchEchoWorkflow, input: { n: 1, f: () => 1 } }], UnserializableValueError, /^startMany\(\): items\[2\]\.input: Cannot store the input of workflow "BatchEcho"/],
    ['a class that is not a workflow', () => [...good(3), { workflow: NotAWorkflow as never, input: 1 }], WorkflowNotFoundError, /^startMany\(\): items\[3\]\.workflow: NotAWorkflow is not a @Workflow class/],
    ['a workflow name no process registered', () => [...good(5), { workflow: 'NoSuchWorkflow', input: 1 }, ...good(1)], WorkflowNotFoundError, /^startMany\(\): items\[5\]: No workflow named "NoSuchWorkflow" is registered/],
    ['a version that does not exist', () => [...good(2), echo(1, { version: 7 }), ...good(2)], WorkflowVersionNotFoundError, /^startMany\(\): items\[2\]: Workflow "BatchEcho" has no version 7/],
  ];

  test.each(cases)('%s', async (_what, items, type, message) => {
    const before = await count();
    const error = await rejectionOf(kagzi.client.startMany(items()));
    expect(error).toBeInstanceOf(type);
    expect((error as Error).message).toMatch(message);
    expect(await count()).toBe(before);
    expect(await count("idempotency_key like 'bad-batch-%'")).toBe(0);
  });

  test('a deprecated version is refused naming its item, unless its key names a run already (as with start())', async () => {
    const earlier = await kagzi.client.start('BatchLabel', 'kept', { version: 1, idempotencyKey: 'label-kept' });
    await kagzi.client.deprecateVersion('BatchLabel', 1);
    const before = await count();
    const error = await rejectionOf(kagzi.client.startMany([...good(3), { workflow: 'BatchLabel', input: 'y', options: { version: 1 } }]));
    expect(error).toBeInstanceOf(WorkflowVersionDeprecatedError);
    expect((error as Error).message).toMatch(/^startMany\(\): items\[3\]: Workflow "BatchLabel" version 1 is deprecated/);
    expect(await count()).toBe(before);
    const [found] = await kagzi.client.startMany([{ workflow: 'BatchLabel', input: 'z', options: { version: 1, idempotencyKey: 'label-kept' } }]);
    expect(found.runId).toBe(earlier.runId);
    expect(await count()).toBe(before);
  });

  test('not an array, bad call options, more than 10,000 items or 64 MiB of inputs: refused naming the limit', async () => {
    const before = await count();
    await expect(kagzi.client.startMany({} as never)).rejects.toThrow(new InvalidOptionsError('startMany(): items must be an array of { workflow, input, options? }; got object'));
    await expect(kagzi.client.startMany([echo(1)], { manager: {} as never })).rejects.toThrow(/^startMany\(\): options\.manager: must be a TypeORM EntityManager/);
    await expect(kagzi.client.startMany([echo(1)], { priority: 1 } as never)).rejects.toThrow(InvalidOptionsError);
    const tooMany = Array.from({ length: 10_001 }, (_, i) => echo(i));
    await expect(kagzi.client.startMany(tooMany)).rejects.toThrow(
      new InvalidOptionsError('startMany(): 10001 items, above the limit of 10000 per call; split them into batches of at most 10000'),
    );
    const heavy = Array.from({ length: 70 }, (_, i) => ({ workflow: BatchEchoWorkflow, input: { n: i, pad: 'x'.repeat(1_000_000) } }));
    const error = await rejectionOf(kagzi.client.startMany(heavy));
    expect(error).toBeInstanceOf(PayloadTooLargeError);
    expect((error as Error).message).toMatch(/^startMany\(\): the inputs of items\[0\] to items\[67\] add up to \d+ bytes serialized, above the 67108864 bytes one call may carry/);
    expect(await count()).toBe(before);
    await delay(300);
    for (let i = 7000; i < 7010; i++) expect(effects.count('record', String(i))).toBe(0);
  });
});

describe("in the caller's transaction (startMany(items, { manager }))", () => {
  let orders: DataSource;
  let other: TestDatabase | undefined;

  beforeAll(async () => {
    orders = await new DataSource({ type: 'postgres', url: db.url }).initialize();
    await orders.query('create table orders (id text primary key)');
  });

  afterAll(async () => {
    await orders?.destroy();
    await other?.drop();
  });

  test('a rollback leaves no order and no run; a commit makes all of them, and the worker runs them', async () => {
    const error = await rejectionOf(
      orders.transaction(async (manager) => {
        await manager.query("insert into orders (id) values ('tx-1')");
        const handles = await kagzi.client.startMany([echo(8001), echo(8002, { idempotencyKey: 'tx-8002' })], { manager });
        expect(handles.length).toBe(2);
        expect(await count("input->'json'->>'n' in ('8001', '8002')")).toBe(0); // not committed: invisible elsewhere
        throw new Error('payment form invalid');
      }),
    );
    expect(error).toEqual(new Error('payment form invalid'));
    expect(await count("input->'json'->>'n' in ('8001', '8002')")).toBe(0);
    expect(await orders.query("select id from orders where id = 'tx-1'")).toEqual([]);

    const handles = await orders.transaction(async (manager) => {
      await manager.query("insert into orders (id) values ('tx-2')");
      const first = await kagzi.client.startMany([echo(8003), echo(8004, { idempotencyKey: 'tx-8004' })], { manager });
      const again = await kagzi.client.startMany([echo(8005, { idempotencyKey: 'tx-8004' })], { manager }); // same transaction: the key is taken
      expect(again[0].runId).toBe(first[1].runId);
      return first;
    });
    await expect(Promise.all(handles.map((h) => h.result({ timeout: '10s' })))).resolves.toEqual([80030, 80040]);
    expect(await count("input->'json'->>'n' in ('8003', '8004', '8005')")).toBe(2);
  });

  test('a key another transaction holds uncommitted: the batch waits for that commit and returns its run', async () => {
    const holder = orders.createQueryRunner();
    await holder.connect();
    await holder.startTransaction();
    const held = await kagzi.client.start(BatchEchoWorkflow, { n: 8200 }, { manager: holder.manager, idempotencyKey: 'race-8200' });
    const batch = kagzi.client.startMany([echo(8201), echo(8202, { idempotencyKey: 'race-8200' })]);
    await delay(300); // the insert now waits on the uncommitted key
    await holder.commitTransaction();
    await holder.release();
    const handles = await batch;
    expect(handles[1].runId).toBe(held.runId);
    expect(await count("idempotency_key = 'race-8200'")).toBe(1);
    await expect(Promise.all(handles.map((h) => h.result({ timeout: '10s' })))).resolves.toEqual([82010, 82000]);
  });

  test("a manager of another database is refused before anything is written", async () => {
    other = await createTestDatabase('start_many_other');
    const elsewhere = await new DataSource({ type: 'postgres', url: other.url }).initialize();
    try {
      const error = await rejectionOf(elsewhere.transaction((manager) => kagzi.client.startMany([echo(8100)], { manager })));
      expect(error).toBeInstanceOf(InvalidOptionsError);
      expect(String(error)).toMatch(/EntityManager's database \(kagzi_test_\w*start_many_other\w*\) is not Kagzi's/);
    } finally {
      await elsewhere.destroy();
    }
    expect(await count("input->'json'->>'n' = '8100'")).toBe(0);
  });
});

describe('what a batch sends', () => {
  let sent: QueryConfig[];
  let client: KagziTestApp;
  let listener: Client;
  let wakeups: string[];
  const counted = statementName('start_many_counted', '');

  beforeAll(async () => {
    // A client-only process of its own schema: nothing else sends statements while a batch is inserted.
    client = await bootKagzi({ url: db.url, providers: PROVIDERS, schema: 'start_many_counted', worker: false });
    listener = new Client({ connectionString: db.url });
    await listener.connect();
    wakeups = [];
    listener.on('notification', (msg) => wakeups.push(msg.payload ?? ''));
    await listener.query(`listen ${notificationChannel('start_many_counted', 'wakeup')}`);
  });

  afterAll(async () => {
    await listener?.end();
  });

  beforeEach(() => {
    // The other app's worker (schema kagzi) polls meanwhile: keep what names this schema.
    sent = recordQueries((q, client) => client !== listener && (q.name?.startsWith(counted) === true || String(q.text).includes('start_many_counted')));
  });

  afterEach(() => {
    jest.restoreAllMocks();
  });

  test('one statement and one NOTIFY for a batch of 1,000 runs; nothing for an empty one', async () => {
    const handles = await client.client.startMany(Array.from({ length: 1000 }, (_, i) => echo(i, i % 2 ? { idempotencyKey: `counted-${i}` } : undefined)));
    expect(sent.map((q) => q.name)).toEqual([`${counted}insertRuns`]);
    expect(handles.length).toBe(1000);
    expect(await count('true', [], 'start_many_counted')).toBe(1000);
    await delay(300);
    expect(wakeups).toEqual(['BatchEcho']);

    sent.length = 0;
    await expect(client.client.startMany([])).resolves.toEqual([]);
    expect(sent).toEqual([]);
  });

  test('a batch whose insert committed but whose reply was lost is sent again and returns those runs, none twice', async () => {
    const run = KagziDatabase.prototype.run;
    let attempts = 0;
    // The statement commits; only its reply is lost, as when the server dies right after the commit.
    jest.spyOn(KagziDatabase.prototype, 'run').mockImplementation(async function (this: KagziDatabase, statement) {
      const rows = await run.call(this, statement);
      if (statement.name === 'insertRuns' && ++attempts === 1) throw new Error('Connection terminated unexpectedly');
      return rows as never;
    });
    const before = await count('true', [], 'start_many_counted');
    const handles = await client.client.startMany([echo(1, { idempotencyKey: 'lost-reply-1' }), echo(2), echo(3, { idempotencyKey: 'lost-reply-1' })]);
    expect(attempts).toBe(2);
    expect(handles[2].runId).toBe(handles[0].runId);
    expect(await count('true', [], 'start_many_counted')).toBe(before + 2);
    const stored = await sql<{ id: string }>(db.url, 'select id from start_many_counted.workflow_runs where id = any($1::uuid[])', [handles.map((h) => h.runId)]);
    expect(stored.length).toBe(2);
  });
});

describe('with OpenTelemetry registered', () => {
  class TestReader extends MetricReader {
    protected async onShutdown(): Promise<void> {}
    protected async onForceFlush(): Promise<void> {}
  }
  const reader = new TestReader();
  const provider = new MeterProvider({ readers: [reader] });
  const exporter = new InMemorySpanExporter();
  let shutdownTracing: () => Promise<void>;

  beforeAll(() => {
    metrics.setGlobalMeterProvider(provider);
    shutdownTracing = registerTracing(exporter).shutdown;
  });

  afterAll(async () => {
    await shutdownTracing?.();
    await provider.shutdown();
    metrics.disable();
  });

  const startedCount = async (): Promise<number> => {
    const { resourceMetrics } = await reader.collect();
    const points = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).filter((m) => m.descriptor.name === 'kagzi.runs.started').flatMap((m) => m.dataPoints as Array<DataPoint<number>>);
    return points.filter((p) => p.attributes['kagzi.workflow'] === 'BatchEcho').reduce((sum, p) => sum + p.value, 0);
  };

  test('each new run is counted once and stores the context of a kagzi.start span of its own, under the caller', async () => {
    await kagzi.client.start(BatchEchoWorkflow, { n: 9000 }, { idempotencyKey: 'otel-9000' });
    const before = await startedCount();
    const { handles, caller } = await trace.getTracer('start-many-spec').startActiveSpan('POST /orders/import', { kind: SpanKind.SERVER }, async (span) => {
      try {
        const started = await kagzi.client.startMany([echo(9001), echo(9002, { idempotencyKey: 'otel-9000' }), echo(9003, { idempotencyKey: 'otel-9003' }), echo(9004, { idempotencyKey: 'otel-9003' })]);
        return { handles: started, caller: span.spanContext() };
      } finally {
        span.end();
      }
    });
    expect(await startedCount()).toBe(before + 2); // the key used before and the repeated key start nothing
    const stored = await sql<{ id: string; trace_context: { traceparent: string } }>(db.url, 'select id, trace_context from kagzi.workflow_runs where id = any($1::uuid[])', [[handles[0].runId, handles[2].runId]]);
    const starts = exporter.getFinishedSpans().filter((s) => s.name === 'kagzi.start' && s.spanContext().traceId === caller.traceId);
    expect(starts.length).toBe(3); // one per distinct run of the batch
    for (const run of stored) {
      const span = starts.find((s) => s.attributes['kagzi.run_id'] === run.id)!;
      expect(span.parentSpanContext?.spanId).toBe(caller.spanId);
      expect(run.trace_context.traceparent).toBe(`00-${caller.traceId}-${span.spanContext().spanId}-01`);
      expect(span.attributes['kagzi.version']).toBe(1);
    }
    await Promise.all(handles.map((h) => h.result({ timeout: '10s' })));
  });
});
