/**
 * OpenTelemetry traces of runs (SPEC §5.3), with the real SDK registered globally (in-memory exporter,
 * AsyncLocalStorage context manager, W3C propagator; no mocks): the span tree of a run with a retried
 * step, the caller's span as its ancestor, parallel branches, user spans inside a step, sleeps, children
 * and signal waits, and one trace id across a SIGKILL of a worker process and the resume in another.
 */
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { createTestDatabase, TestDatabase } from './support/database';
import { bootKagzi, closeAllApps, KagziTestApp, sql } from './support/app';
import { FlatSpan, registerTracing, RegisteredTracing } from './fixtures/trace-sdk';
import { WorkerProcess } from './fixtures/trace-processes';
import { TraceChainWorkflow, TraceChildWorkflow, TraceEffects, TraceFanOutWorkflow, TraceOrderWorkflow, TraceWaitsWorkflow } from './fixtures/trace-workflows';
import { runEnded, settledTrace as settledIn } from './support/trace-waits';

const callerTracer = trace.getTracer('tracing-spec');

let db: TestDatabase;
let kagzi: KagziTestApp;

beforeAll(async () => {
  db = await createTestDatabase('tracing');
  kagzi = await bootKagzi({ url: db.url, providers: [TraceEffects, TraceOrderWorkflow, TraceFanOutWorkflow, TraceChildWorkflow, TraceWaitsWorkflow, TraceChainWorkflow] });
});

afterAll(async () => {
  await closeAllApps();
  await db?.drop();
});

const storedContext = async (runId: string): Promise<unknown> =>
  (await sql<{ trace_context: unknown }>(db.url, 'select trace_context from kagzi.workflow_runs where id = $1', [runId]))[0].trace_context;

test('without an SDK nothing is stored with the run and it runs as before', async () => {
  const handle = await kagzi.client.start(TraceOrderWorkflow, 'plain');
  await expect(handle.result({ timeout: '10s' })).resolves.toBe('plain:reserved:charged:shipped');
  expect(await storedContext(handle.runId)).toBeNull();
});

describe('with the OpenTelemetry SDK registered', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: RegisteredTracing;

  beforeAll(() => {
    tracing = registerTracing(exporter);
  });

  afterAll(async () => {
    await tracing?.shutdown();
  });

  /** The spans of the trace once `done` holds for them (span ends trail the run's end by a moment). */
  const settledTrace = (traceId: string, done: (spans: FlatSpan[]) => boolean): Promise<FlatSpan[]> => settledIn(exporter, traceId, done);

  /** Starts a run inside a caller span (an HTTP request in real life) and returns its handle and the caller's span. */
  async function startAsCaller<I, O>(workflow: Parameters<typeof kagzi.client.start<I, O>>[0], input: I) {
    return callerTracer.startActiveSpan('POST /orders', { kind: SpanKind.SERVER }, async (span) => {
      try {
        return { handle: await kagzi.client.start(workflow, input), caller: span.spanContext() };
      } finally {
        span.end();
      }
    });
  }

  /** The tree as names and telling attributes, children indented under their parent, in start order. */
  function shape(spans: FlatSpan[], rootId: string): string[] {
    const lines: string[] = [];
    const walk = (parentId: string, depth: number): void => {
      for (const s of spans.filter((x) => x.parentSpanId === parentId).sort((a, b) => a.startMs - b.startMs)) {
        const a = s.attributes;
        const parts = [s.name, a['kagzi.step'], a['kagzi.attempt'] && `#${String(a['kagzi.attempt'])}`, a['kagzi.lease_epoch'] && `epoch=${String(a['kagzi.lease_epoch'])}`, a['kagzi.outcome']];
        if (s.status.code === SpanStatusCode.ERROR) parts.push(`ERROR ${String(a['kagzi.error.kind'])} retry in ${String(a['kagzi.retry.delay_ms'])} ms`);
        lines.push(`${'  '.repeat(depth)}${parts.filter(Boolean).join(' ')}`);
        walk(s.spanId, depth + 1);
      }
    };
    walk(rootId, 0);
    return lines;
  }

  test('a 3-step run with a retried step: caller > kagzi.start > kagzi.run segments > kagzi.step attempts > the user span', async () => {
    const { handle, caller } = await startAsCaller(TraceOrderWorkflow, 'o1');
    await expect(handle.result({ timeout: '10s' })).resolves.toBe('o1:reserved:charged:shipped');
    const spans = await settledTrace(caller.traceId, runEnded(handle.runId));

    // The back-off parks the run (nothing else of it can progress): two segments, each a kagzi.run span.
    expect(shape(spans, caller.spanId)).toEqual([
      'kagzi.start',
      '  kagzi.run epoch=1 suspended',
      '    kagzi.step TraceOrderWorkflow.reserve #1',
      '      inventory.http',
      '    kagzi.step TraceOrderWorkflow.charge #1 ERROR TIMEOUT retry in 30 ms',
      '  kagzi.run epoch=2 completed',
      '    kagzi.step TraceOrderWorkflow.charge #2',
      '    kagzi.step TraceOrderWorkflow.ship #1',
    ]);
    const start = spans.find((s) => s.name === 'kagzi.start')!;
    const runs = spans.filter((s) => s.name === 'kagzi.run');
    expect(start.kind).toBe('PRODUCER');
    expect(runs.map((s) => s.kind)).toEqual(['CONSUMER', 'CONSUMER']);
    for (const s of spans.filter((x) => x.name.startsWith('kagzi.'))) {
      expect(s.attributes).toMatchObject({ 'kagzi.run_id': handle.runId, 'kagzi.workflow': 'TraceOrder', 'kagzi.version': 1 });
    }
    const failed = spans.find((s) => s.name === 'kagzi.step' && s.attributes['kagzi.step'] === 'TraceOrderWorkflow.charge' && s.attributes['kagzi.attempt'] === 1)!;
    expect(failed.attributes).toMatchObject({ 'kagzi.error.kind': 'TIMEOUT', 'kagzi.error.code': 'GATEWAY_TIMEOUT', 'kagzi.retry.delay_ms': 30 });
    expect(failed.status).toEqual({ code: SpanStatusCode.ERROR, message: 'payment gateway timed out' });
    expect(failed.events).toEqual([expect.objectContaining({ name: 'exception', message: 'payment gateway timed out' })]);
    // The stored context is kagzi.start's: any process that claims the run later parents its span on it.
    expect(await storedContext(handle.runId)).toEqual({ traceparent: `00-${caller.traceId}-${start.spanId}-01` });
  });

  test("a user's span created inside a step body nests under that attempt's step span", async () => {
    const { handle, caller } = await startAsCaller(TraceOrderWorkflow, 'o2');
    await handle.result({ timeout: '10s' });
    const spans = await settledTrace(caller.traceId, runEnded(handle.runId));
    const reserve = spans.find((s) => s.name === 'kagzi.step' && s.attributes['kagzi.step'] === 'TraceOrderWorkflow.reserve')!;
    const effects = kagzi.app.get(TraceEffects);
    expect(effects.activeInStep.get('o2')).toEqual(expect.objectContaining({ traceId: caller.traceId, spanId: reserve.spanId }));
    expect(spans.find((s) => s.name === 'inventory.http')?.parentSpanId).toBe(reserve.spanId);
  });

  test('parallel branches are sibling step spans under the run span, running at the same time', async () => {
    const { handle, caller } = await startAsCaller(TraceFanOutWorkflow, 'p1');
    await expect(handle.result({ timeout: '10s' })).resolves.toEqual(['p1:left', 'p1:right', 'p1+:right']);
    const spans = await settledTrace(caller.traceId, runEnded(handle.runId));
    const run = spans.find((s) => s.name === 'kagzi.run')!;
    const steps = spans.filter((s) => s.name === 'kagzi.step');
    expect(steps.map((s) => s.attributes['kagzi.step']).sort()).toEqual(['TraceFanOutWorkflow.left', 'TraceFanOutWorkflow.right', 'TraceFanOutWorkflow.right']);
    expect(new Set(steps.map((s) => s.parentSpanId))).toEqual(new Set([run.spanId]));
    expect(new Set(steps.map((s) => s.attributes['kagzi.step_key'])).size).toBe(3);
    // Siblings, not a chain: every branch started before any other ended.
    const firstEnd = Math.min(...steps.map((s) => s.startMs + s.durationMs));
    for (const s of steps) expect(s.startMs).toBeLessThan(firstEnd);
  });

  test('sleeps, a child and a signal wait have spans; the child joins the parent trace under kagzi.child.start', async () => {
    const { handle, caller } = await startAsCaller(TraceWaitsWorkflow, 4);
    await kagzi.client.signal(handle.runId, 'extra', 1);
    await expect(handle.result({ timeout: '10s' })).resolves.toBe(9);
    const spans = await settledTrace(caller.traceId, runEnded(handle.runId));
    const parentRuns = new Map(spans.filter((s) => s.name === 'kagzi.run' && s.attributes['kagzi.run_id'] === handle.runId).map((s) => [s.spanId, s]));
    const sleep = spans.find((s) => s.name === 'kagzi.sleep')!;
    expect(parentRuns.has(sleep.parentSpanId!)).toBe(true);
    expect(sleep.attributes).toMatchObject({ 'kagzi.sleep.duration_ms': 50, 'kagzi.segment_end': 'suspended' });
    expect(parentRuns.get(sleep.parentSpanId!)?.attributes['kagzi.outcome']).toBe('suspended');
    const childStart = spans.find((s) => s.name === 'kagzi.child.start')!;
    expect(parentRuns.has(childStart.parentSpanId!)).toBe(true);
    expect(childStart.attributes['kagzi.child.workflow']).toBe('TraceChild');
    const childRuns = spans.filter((s) => s.name === 'kagzi.run' && s.attributes['kagzi.workflow'] === 'TraceChild');
    expect(childRuns.length).toBeGreaterThanOrEqual(1);
    for (const run of childRuns) {
      expect(run.parentSpanId).toBe(childStart.spanId);
      expect(run.attributes['kagzi.run_id']).toBe(childStart.attributes['kagzi.child.run_id']);
    }
    expect(spans.some((s) => s.name === 'kagzi.step' && s.attributes['kagzi.step'] === 'TraceChildWorkflow.double' && childRuns.some((r) => r.spanId === s.parentSpanId))).toBe(true);
    const extra = spans.find((s) => s.name === 'kagzi.signal.wait' && s.attributes['kagzi.signal'] === 'extra')!;
    expect(parentRuns.has(extra.parentSpanId!)).toBe(true);
  });

  test('a run that continues as new: the next run of the chain is another kagzi.run under the same kagzi.start', async () => {
    const { handle, caller } = await startAsCaller(TraceChainWorkflow, 0);
    await expect(handle.result({ timeout: '10s' })).resolves.toBe(2);
    const spans = await settledTrace(caller.traceId, (s) => s.some((x) => x.name === 'kagzi.run' && x.attributes['kagzi.outcome'] === 'completed'));
    const start = spans.find((s) => s.name === 'kagzi.start')!;
    const runs = spans.filter((s) => s.name === 'kagzi.run');
    expect(runs.map((s) => s.attributes['kagzi.outcome'])).toEqual(['continued', 'completed']);
    expect(new Set(runs.map((s) => s.attributes['kagzi.run_id'])).size).toBe(2);
    for (const run of runs) expect(run.parentSpanId).toBe(start.spanId);
  });

  describe('across a SIGKILL of the worker process', () => {
    const processes: WorkerProcess[] = [];
    afterAll(async () => {
      for (const p of processes) await p.kill('SIGKILL');
    });

    test('the spans of both processes share the caller trace id; the resumed segment is again a child of kagzi.start', async () => {
      const crashing = new WorkerProcess({ DB_URL: db.url, WORKER_NAME: 'trace-crashing', HANG_SECOND: '1' });
      processes.push(crashing);
      await crashing.next((e) => e.event === 'ready');
      const { handle, caller } = await startAsCaller('TraceCrash', 'c1');
      await crashing.next((e) => e.event === 'hanging');
      await crashing.kill('SIGKILL');

      const resuming = new WorkerProcess({ DB_URL: db.url, WORKER_NAME: 'trace-resuming' });
      processes.push(resuming);
      await expect(handle.result({ timeout: '20s' })).resolves.toBe('c1:first:second');
      await resuming.next((e) => e.event === 'span' && e.span?.name === 'kagzi.run');

      const start = (await settledTrace(caller.traceId, (s) => s.some((x) => x.name === 'kagzi.start'))).find((s) => s.name === 'kagzi.start')!;
      const before = crashing.spans();
      const after = resuming.spans();
      // The killed process exported its finished step; its run span never ended, so it was never exported.
      expect(before.map((s) => `${s.name} ${String(s.attributes['kagzi.step'])}`)).toEqual(['kagzi.step TraceCrashWorkflow.first']);
      expect(after.map((s) => `${s.name} ${String(s.attributes['kagzi.step'] ?? s.attributes['kagzi.outcome'])}`)).toEqual(['kagzi.step TraceCrashWorkflow.second', 'kagzi.run completed']);
      for (const s of [...before, ...after]) expect(s.traceId).toBe(caller.traceId);
      const resumed = after.find((s) => s.name === 'kagzi.run')!;
      expect(resumed.parentSpanId).toBe(start.spanId);
      expect(resumed.attributes).toMatchObject({ 'kagzi.run_id': handle.runId, 'kagzi.lease_epoch': 2, 'kagzi.worker': 'trace-resuming' });
      expect(after[0].parentSpanId).toBe(resumed.spanId);
      // The first process's step hangs under its (lost) run span, which is not the resumed one.
      expect(before[0].parentSpanId).not.toBe(resumed.spanId);
    });
  });
});
