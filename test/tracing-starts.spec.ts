/**
 * Traces of the runs that `client.start()` does not insert (SPEC §5.3): `client.signalWithStart()` makes
 * a `kagzi.start` span under the caller's span and stores its context with the run it inserts; each
 * schedule tick makes a `kagzi.schedule.tick` span (the root of a trace) whose context is stored with
 * the run the tick starts. Real SDK registered globally (in-memory exporter, AsyncLocalStorage context
 * manager, W3C propagator), real PostgreSQL, a schedule ticking every second.
 */
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { ScheduleStore } from '../libs/kagzi/src/persistence/schedule.store';
import { tickTrace } from '../libs/kagzi/src/tracing/tick.trace';
import { createTestDatabase, TestDatabase } from './support/database';
import { bootKagzi, closeAllApps, KagziTestApp, sql, waitFor } from './support/app';
import { FlatSpan, flatten, registerTracing, RegisteredTracing } from './fixtures/trace-sdk';
import { TraceInboxWorkflow, TraceTickingWorkflow } from './fixtures/trace-start-workflows';
import { runEnded, settledTrace as settledIn, spansOfTrace as spansIn } from './support/trace-waits';

const callerTracer = trace.getTracer('tracing-starts-spec');
const workflows = [TraceInboxWorkflow, TraceTickingWorkflow];

let db: TestDatabase;
let kagzi: KagziTestApp;

beforeAll(async () => {
  db = await createTestDatabase('tracing_starts');
  kagzi = await bootKagzi({ url: db.url, providers: workflows });
});

afterAll(async () => {
  await closeAllApps();
  await db?.drop();
});

interface TickRun extends Record<string, unknown> {
  id: string;
  status: string;
  scheduled_at: string;
  trace_context: { traceparent: string } | null;
}

const storedContext = async (runId: string): Promise<unknown> =>
  (await sql<{ trace_context: unknown }>(db.url, 'select trace_context from kagzi.workflow_runs where id = $1', [runId]))[0].trace_context;

const tickRuns = (): Promise<TickRun[]> =>
  sql<TickRun>(db.url, `select id, status, trace_context, input->'json'->>'scheduledAt' as scheduled_at from kagzi.workflow_runs where workflow_name = 'TraceTicking' order by created_at`);

/** The (trace id, span id) of a stored `traceparent`. */
function parentOf(run: TickRun): { traceId: string; spanId: string } {
  const [, traceId, spanId] = run.trace_context!.traceparent.split('-');
  return { traceId, spanId };
}

test('without an SDK: signalWithStart and schedule ticks store no context, and a tick makes no span object', async () => {
  const handle = await kagzi.client.signalWithStart(TraceInboxWorkflow, 'plain', { name: 'item', payload: 'a' }, { idempotencyKey: 'inbox-plain' });
  await kagzi.client.signal(handle.runId, 'item', 'b');
  await expect(handle.result({ timeout: '10s' })).resolves.toBe('plain:a:b');
  expect(await storedContext(handle.runId)).toBeNull();
  const ticked = await waitFor('a completed run of the schedule', async () => (await tickRuns()).find((r) => r.status === 'COMPLETED'));
  expect(ticked.trace_context).toBeNull();
  // The shared no-op object: a tick allocates nothing for tracing.
  const tick = { name: 'TraceTicking', version: 1, cron: '* * * * * *', timezone: 'UTC', tick: new Date() };
  const untraced = tickTrace(tick);
  expect(untraced.carrier).toBeUndefined();
  expect(tickTrace(tick)).toBe(untraced);
});

describe('with the OpenTelemetry SDK registered', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: RegisteredTracing;
  let registeredAt: number;

  beforeAll(() => {
    tracing = registerTracing(exporter);
    registeredAt = Date.now();
  });

  afterAll(async () => {
    await tracing?.shutdown();
  });

  afterEach(() => {
    jest.restoreAllMocks();
  });

  const finished = (): FlatSpan[] => exporter.getFinishedSpans().map(flatten);
  const spansOfTrace = (traceId: string): FlatSpan[] => spansIn(exporter, traceId);
  const settledTrace = (traceId: string, done: (spans: FlatSpan[]) => boolean): Promise<FlatSpan[]> => settledIn(exporter, traceId, done);
  const tickSpans = (): FlatSpan[] => finished().filter((s) => s.name === 'kagzi.schedule.tick');

  /** Runs `call` inside a caller span (an HTTP request in real life); returns its result and the caller's span context. */
  function asCaller<T>(call: () => Promise<T>) {
    return callerTracer.startActiveSpan('POST /inbox', { kind: SpanKind.SERVER }, async (span) => {
      try {
        return { result: await call(), caller: span.spanContext() };
      } finally {
        span.end();
      }
    });
  }

  test("signalWithStart: kagzi.start under the caller's span, the run's spans under it; a second call that finds the run stores nothing", async () => {
    const send = (item: string) => asCaller(() => kagzi.client.signalWithStart(TraceInboxWorkflow, 'ann', { name: 'item', payload: item }, { idempotencyKey: 'inbox-ann' }));
    const first = await send('a');
    const second = await send('b');
    const handle = first.result;
    expect(second.result.runId).toBe(handle.runId);
    await expect(handle.result({ timeout: '10s' })).resolves.toBe('ann:a:b');
    const spans = await settledTrace(first.caller.traceId, runEnded(handle.runId));

    const start = spans.find((s) => s.name === 'kagzi.start')!;
    expect(start).toMatchObject({ kind: 'PRODUCER', parentSpanId: first.caller.spanId });
    expect(start.attributes).toMatchObject({ 'kagzi.run_id': handle.runId, 'kagzi.workflow': 'TraceInbox', 'kagzi.version': 1 });
    const runs = spans.filter((s) => s.name === 'kagzi.run');
    expect(runs.length).toBeGreaterThanOrEqual(1);
    for (const run of runs) expect(run).toMatchObject({ parentSpanId: start.spanId, attributes: expect.objectContaining({ 'kagzi.run_id': handle.runId }) });
    const join = spans.find((s) => s.name === 'kagzi.step' && s.attributes['kagzi.step'] === 'TraceInboxWorkflow.join')!;
    expect(runs.map((r) => r.spanId)).toContain(join.parentSpanId);
    expect(await storedContext(handle.runId)).toEqual({ traceparent: `00-${first.caller.traceId}-${start.spanId}-01` });

    // The second call had a kagzi.start of its own, in its caller's trace; nothing of the run joined it.
    expect(second.caller.traceId).not.toBe(first.caller.traceId);
    const secondTrace = spansOfTrace(second.caller.traceId);
    expect(secondTrace.map((s) => s.name).sort()).toEqual(['POST /inbox', 'kagzi.start']);
    expect(secondTrace.find((s) => s.name === 'kagzi.start')?.parentSpanId).toBe(second.caller.spanId);
  });

  test("a schedule tick's run: its kagzi.run spans are children of the kagzi.schedule.tick span, the root of a trace per tick", async () => {
    const traced = await waitFor('two completed runs of the schedule with a stored context', async () => {
      const runs = (await tickRuns()).filter((r) => r.status === 'COMPLETED' && r.trace_context !== null);
      return runs.length >= 2 ? runs : undefined;
    });
    const [run] = traced;
    const { traceId, spanId } = parentOf(run);
    const spans = await settledTrace(traceId, (s) => runEnded(run.id)(s) && s.some((x) => x.name === 'kagzi.schedule.tick'));

    const tick = spans.find((s) => s.name === 'kagzi.schedule.tick')!;
    expect(tick).toMatchObject({ spanId, kind: 'PRODUCER', parentSpanId: undefined });
    expect(tick.attributes).toEqual({
      'kagzi.workflow': 'TraceTicking',
      'kagzi.version': 1,
      'kagzi.schedule': '* * * * * *',
      'kagzi.schedule_timezone': 'UTC',
      'kagzi.scheduled_at': run.scheduled_at,
      'kagzi.outcome': 'started',
      'kagzi.run_id': run.id,
    });
    expect(tick.startMs).toBeGreaterThanOrEqual(registeredAt - 1);
    const runSpans = spans.filter((s) => s.name === 'kagzi.run');
    expect(runSpans.length).toBeGreaterThanOrEqual(1);
    for (const s of runSpans) expect(s).toMatchObject({ parentSpanId: tick.spanId, attributes: expect.objectContaining({ 'kagzi.run_id': run.id }) });
    const step = spans.find((s) => s.name === 'kagzi.step')!;
    expect(step.attributes['kagzi.step']).toBe('TraceTickingWorkflow.record');
    expect(runSpans.map((s) => s.spanId)).toContain(step.parentSpanId);
    // Each tick is a trace of its own.
    expect(parentOf(traced[1]).traceId).not.toBe(traceId);
  });

  test('a failed tick statement ends its span with the error; the retried tick has a new span, and the failed one is stored nowhere', async () => {
    // An outage (logged at WARN, so the test output stays quiet): the ticker retries within a poll interval.
    jest.spyOn(ScheduleStore.prototype, 'tick').mockRejectedValueOnce(new Error('Connection terminated unexpectedly'));
    const failed = await waitFor('a failed kagzi.schedule.tick span', () => tickSpans().find((s) => s.status.code === SpanStatusCode.ERROR));
    expect(failed.status.message).toBe('Connection terminated unexpectedly');
    expect(failed.events).toEqual([expect.objectContaining({ name: 'exception', message: 'Connection terminated unexpectedly' })]);
    expect(failed.attributes['kagzi.outcome']).toBeUndefined();

    const next = await waitFor('a tick span after the failure that started a run', () =>
      tickSpans().find((s) => s.startMs > failed.startMs && s.attributes['kagzi.outcome'] === 'started'),
    );
    const runId = String(next.attributes['kagzi.run_id']);
    expect(await storedContext(runId)).toEqual({ traceparent: `00-${next.traceId}-${next.spanId}-01` });
    const spans = await settledTrace(next.traceId, runEnded(runId));
    for (const s of spans.filter((x) => x.name === 'kagzi.run')) expect(s.parentSpanId).toBe(next.spanId);
    expect(spansOfTrace(failed.traceId).map((s) => s.name)).toEqual(['kagzi.schedule.tick']);
    const [{ n }] = await sql<{ n: number }>(db.url, `select count(*)::int as n from kagzi.workflow_runs where trace_context->>'traceparent' like $1`, [`%${failed.spanId}%`]);
    expect(n).toBe(0);
  });

  test('two processes ticking the same schedule: each makes a span per tick, only the one that started the run is its parent', async () => {
    const other = await bootKagzi({ url: db.url, providers: workflows });
    const bootedAt = Date.now();
    const pair = await waitFor('a tick fired by both apps, one of them starting its run', () => {
      const byTick = new Map<unknown, FlatSpan[]>();
      for (const s of tickSpans().filter((x) => Date.parse(String(x.attributes['kagzi.scheduled_at'])) > bootedAt)) {
        byTick.set(s.attributes['kagzi.scheduled_at'], [...(byTick.get(s.attributes['kagzi.scheduled_at']) ?? []), s]);
      }
      return [...byTick.values()].find((spans) => spans.length === 2 && spans.some((s) => s.attributes['kagzi.outcome'] === 'started'));
    });
    await other.close();

    expect(pair.map((s) => s.attributes['kagzi.outcome']).sort()).toEqual(['none', 'started']);
    const started = pair.find((s) => s.attributes['kagzi.outcome'] === 'started')!;
    const idle = pair.find((s) => s.attributes['kagzi.outcome'] === 'none')!;
    expect(idle.attributes['kagzi.run_id']).toBeUndefined();
    const runId = String(started.attributes['kagzi.run_id']);
    const spans = await settledTrace(started.traceId, runEnded(runId));
    for (const s of spans.filter((x) => x.name === 'kagzi.run')) expect(s.parentSpanId).toBe(started.spanId);
    expect(spansOfTrace(idle.traceId).map((s) => s.name)).toEqual(['kagzi.schedule.tick']);
  });
});
