/**
 * Parallel step execution (SPEC "Workflow context": ctx.parallel / ctx.race), against real PostgreSQL:
 * speedup and result order, typing, fail-fast and collect-all, scoped keys for multi-step branches that
 * interleave, nested groups replayed after a restart or a durable sleep, a race winner that stays the
 * winner across a restart with reversed timing, retries inside a branch, a sleeping branch that does not
 * park a busy run, misuse, and 50 concurrent commits for one run (with the lease fencing still holding).
 * Every step body counts its executions, so "ran once" is counted, not inferred.
 */
import { getEventListeners } from 'node:events';
import { join } from 'node:path';
import { Injectable } from '@nestjs/common';
import * as ts from 'typescript';
import {
  ErrorKind,
  MAX_BRANCHES,
  PermanentError,
  RetryPolicy,
  Settled,
  Step,
  StepError,
  stepSignal,
  TransientError,
  UsageError,
  Workflow,
  WorkflowContext,
  WorkflowDefinition,
  WorkflowFailedError,
  WorkflowHandle,
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
  waitFor,
  waitForStatus,
} from './support/app';

// ---------------------------------------------------------------------------------------------------
// Bookkeeping shared by the fixtures
// ---------------------------------------------------------------------------------------------------

const calls = new CallCounter();
/** Per `${step}|${subject}`: when each execution of the body started and ended (Date.now()). */
const started = new Map<string, number[]>();
const ended = new Map<string, number[]>();
/** The value the latest execution of a body returned, per `${step}|${subject}`. */
const bodyValues = new Map<string, unknown>();
/** Attempt signals (stepSignal()) seen by bodies, per `${step}|${subject}`. */
const signals = new Map<string, AbortSignal>();
/** Gates: a body whose subject has a gate blocks on it in its first execution (and resolves `entered`). */
const gates = new Map<string, { entered: Deferred; open: Deferred }>();
/** How often each workflow function was entered (first execution + replays), per `${workflow}|${id}`. */
const executions = new CallCounter();

function enter(step: string, subject: string): number {
  const key = `${step}|${subject}`;
  started.set(key, [...(started.get(key) ?? []), Date.now()]);
  return calls.bump(step, subject);
}

function leave<T>(step: string, subject: string, value: T): T {
  const key = `${step}|${subject}`;
  ended.set(key, [...(ended.get(key) ?? []), Date.now()]);
  bodyValues.set(key, value);
  return value;
}

function gate(subject: string): { entered: Deferred; open: Deferred } {
  const g = { entered: deferred(), open: deferred() };
  gates.set(subject, g);
  return g;
}

/** A delay that rejects with the signal's reason when it aborts. */
function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Resolves when `signal` aborts or after `ms`, whichever is first; says which. */
function abortOrTimeout(ms: number, signal: AbortSignal): Promise<'aborted' | 'timeout'> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('timeout'), ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve('aborted');
      },
      { once: true },
    );
  });
}

interface Tagged {
  tag: string;
  nonce: number;
}

/** Module-level flag for the race test: false → branch 0 fast, branch 1 slow; true → the reverse. */
let raceReversed = false;
/** The ctx of each run, so a step body can (mis)use it. */
const contexts = new Map<string, WorkflowContext>();

// ---------------------------------------------------------------------------------------------------
// Steps
// ---------------------------------------------------------------------------------------------------

@Injectable()
class ParSteps {
  /** Waits `ms` (aborted by its attempt signal), returns its tag. */
  @Step({ name: 'Par.work' })
  async work(id: string, tag: string, ms: number): Promise<string> {
    const subject = `${id}:${tag}`;
    enter('Par.work', subject);
    const signal = stepSignal();
    signals.set(`Par.work|${subject}`, signal);
    await abortableDelay(ms, signal);
    return leave('Par.work', subject, `${tag}`);
  }

  @Step({ name: 'Par.num' })
  async num(n: number): Promise<number> {
    return n * 2;
  }

  @Step({ name: 'Par.str' })
  async str(s: string): Promise<string> {
    return s.toUpperCase();
  }

  /**
   * A value that encodes where it was computed (`tag` = branch.index) plus a nonce a recomputation would
   * change. Waits `slowMs`, or 0-30 ms at random; blocks on a gate in its first execution if one is set.
   */
  @Step({ name: 'Par.tagged' })
  async tagged(id: string, branch: string, index: number, slowMs = 0): Promise<Tagged> {
    const subject = `${id}:${branch}:${index}`;
    const n = enter('Par.tagged', subject);
    const signal = stepSignal();
    signals.set(`Par.tagged|${subject}`, signal);
    await abortableDelay(slowMs || Math.floor(Math.random() * 30), signal);
    const g = gates.get(subject);
    if (g && n === 1) {
      g.entered.resolve();
      await g.open.promise; // ignores its signal: a handed-back attempt finishes its body anyway
    }
    return leave('Par.tagged', subject, { tag: `${branch}.${index}`, nonce: Math.random() });
  }

  /** Never finishes by itself soon: waits for its signal (or 3 s), then returns a late result anyway. */
  @Step({ name: 'Par.hang' })
  async hang(id: string): Promise<string> {
    enter('Par.hang', id);
    const signal = stepSignal();
    signals.set(`Par.hang|${id}`, signal);
    await abortOrTimeout(3_000, signal);
    await delay(50);
    return leave('Par.hang', id, `late-${id}`);
  }

  @Step({ name: 'Par.boom' })
  async boom(id: string, ms: number, kind: ErrorKind): Promise<string> {
    enter('Par.boom', id);
    await delay(ms);
    throw new PermanentError(`boom from ${id}`, { kind, code: 'BOOM' });
  }

  @Step({ name: 'Par.flaky', retry: RetryPolicy.fixed({ maxAttempts: 3, interval: '100ms' }) })
  async flaky(id: string): Promise<string> {
    const n = enter('Par.flaky', id);
    if (n <= 2) throw new TransientError(`flaky ${id} (call ${n})`, { kind: ErrorKind.ServiceUnavailable });
    return leave('Par.flaky', id, `flaky-ok-${id}-on-call-${n}`);
  }

  @Step({ name: 'Par.flakySlow', retry: RetryPolicy.fixed({ maxAttempts: 2, interval: '800ms' }) })
  async flakySlow(id: string): Promise<string> {
    const n = enter('Par.flakySlow', id);
    await delay(100);
    if (n === 1) throw new TransientError(`flakySlow ${id} (call ${n})`, { kind: ErrorKind.NetworkError });
    return leave('Par.flakySlow', id, `slow-ok-${id}-on-call-${n}`);
  }

  /** Race branch step: branch 0 fast and branch 1 slow, or the reverse when raceReversed. An aborted body still returns a (late) value. */
  @Step({ name: 'Par.timed' })
  async timed(id: string, branch: number): Promise<{ branch: number; nonce: number; late?: true }> {
    const subject = `${id}:${branch}`;
    enter('Par.timed', subject);
    const signal = stepSignal();
    signals.set(`Par.timed|${subject}`, signal);
    const ms = (branch === 0) !== raceReversed ? 50 : 1_000;
    if ((await abortOrTimeout(ms, signal)) === 'aborted') {
      await delay(100);
      return leave('Par.timed', subject, { branch, nonce: -1, late: true });
    }
    return leave('Par.timed', subject, { branch, nonce: Math.random() });
  }

  /** Misuse: ctx.parallel / ctx.race inside a step body. Reports what they threw. */
  @Step({ name: 'Par.groupInStep' })
  async groupInStep(runId: string): Promise<Array<{ name: string; code?: string; message: string }>> {
    enter('Par.groupInStep', runId);
    const ctx = contexts.get(runId)!;
    const out: Array<{ name: string; code?: string; message: string }> = [];
    for (const call of [() => ctx.parallel([async () => 1]), () => ctx.race([async () => 1])]) {
      try {
        await call();
        out.push({ name: 'none', message: 'resolved' });
      } catch (err: unknown) {
        out.push(describeError(err));
      }
    }
    return out;
  }

  /** A step whose timeout is far beyond what Node timers hold (2^31 - 1 ms). */
  @Step({ name: 'Par.patient', timeout: '30d' })
  async patient(id: string): Promise<string> {
    enter('Par.patient', id);
    await delay(50);
    return leave('Par.patient', id, `patient-${id}`);
  }

  @Step({ name: 'Par.gated' })
  async gated(id: string, i: number): Promise<string> {
    const subject = `${id}:${i}`;
    const n = enter('Par.gated', subject);
    const g = gates.get(id);
    if (g && n === 1) {
      if (calls.get('Par.gated.entered', id) === 0) g.entered.resolve();
      calls.bump('Par.gated.entered', id);
      await g.open.promise;
    }
    return leave('Par.gated', subject, `w${i}-call${n}`);
  }
}

function describeError(err: unknown): { name: string; code?: string; message: string; kind?: string; stepName?: string; isStepError?: boolean } {
  if (!(err instanceof Error)) return { name: typeof err, message: String(err) };
  return {
    name: err.name,
    code: (err as { code?: string }).code,
    message: err.message,
    kind: err instanceof StepError ? err.kind : undefined,
    stepName: err instanceof StepError ? err.stepName : undefined,
    isStepError: err instanceof StepError,
  };
}

// ---------------------------------------------------------------------------------------------------
// Compile-time type checks (see test 2: this file is type-checked with the TypeScript compiler)
// ---------------------------------------------------------------------------------------------------

/** True only when A and B are the same type (`any` and `unknown` match only themselves). */
type Exact<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;
/** `expectType<number>()(a)` compiles only when `a` is exactly a number; otherwise it wants a second argument. */
const expectType =
  <T,>() =>
  <V,>(_value: V, ..._mismatch: Exact<V, T> extends true ? [] : ['the static type differs from the expected one']): void =>
    undefined;

// ---------------------------------------------------------------------------------------------------
// Workflows
// ---------------------------------------------------------------------------------------------------

@Workflow({ name: 'Par.Fanout' })
class FanoutWorkflow implements WorkflowDefinition<{ id: string; ms: number[]; sequential?: boolean }, { values: string[]; elapsed: number }> {
  constructor(private readonly s: ParSteps) {}

  async run(input: { id: string; ms: number[]; sequential?: boolean }, ctx: WorkflowContext): Promise<{ values: string[]; elapsed: number }> {
    const t0 = Date.now();
    let values: string[];
    if (input.sequential) {
      values = [];
      for (const [i, ms] of input.ms.entries()) values.push(await this.s.work(input.id, `b${i}`, ms));
    } else {
      values = await ctx.parallel(input.ms.map((ms, i) => () => this.s.work(input.id, `b${i}`, ms)));
    }
    return { values, elapsed: Date.now() - t0 };
  }
}

type OverlapScenario = 'sleep-first' | 'backoff-first' | 'sleep-outlasts' | 'chain' | 'long-sleep-branch' | 'long-timeout';

/**
 * Steps overlapped with a durable wait without ctx.parallel (plain Promise.all): the run must not be
 * parked (and resumed elsewhere) while one of its steps still executes.
 */
@Workflow({ name: 'Par.Overlap' })
class OverlapWorkflow implements WorkflowDefinition<{ id: string; scenario: OverlapScenario }, unknown> {
  constructor(private readonly s: ParSteps) {}

  async run(input: { id: string; scenario: OverlapScenario }, ctx: WorkflowContext): Promise<unknown> {
    executions.bump('Par.Overlap', input.id);
    const { id } = input;
    switch (input.scenario) {
      case 'sleep-first':
        return Promise.all([ctx.sleep('300ms'), this.s.work(id, 'charge', 800)]);
      case 'backoff-first':
        return Promise.all([this.s.flaky(id), this.s.work(id, 'charge', 800)]);
      case 'sleep-outlasts':
        return Promise.all([ctx.sleep('700ms'), this.s.work(id, 'charge', 100)]);
      case 'chain':
        return Promise.all([
          ctx.sleep('600ms'),
          (async () => [await this.s.work(id, 'first', 100), await this.s.work(id, 'second', 100)])(),
        ]);
      case 'long-sleep-branch':
        return ctx.parallel([() => ctx.sleep('30d'), () => this.s.work(id, 'beside', 100)]);
      case 'long-timeout':
        return this.s.patient(id);
    }
  }
}

interface TypesOutput {
  a: number;
  b: string;
  arr: number[];
  settled: [Settled<number>, Settled<string>];
  race: { index: number; value: number | string };
}

@Workflow({ name: 'Par.Types' })
class TypesWorkflow implements WorkflowDefinition<{ ids: number[] }, TypesOutput> {
  constructor(private readonly s: ParSteps) {}

  async run(input: { ids: number[] }, ctx: WorkflowContext): Promise<TypesOutput> {
    // a tuple in gives a tuple out
    const [a, b] = await ctx.parallel([() => this.s.num(21), () => this.s.str('kagzi')]);
    expectType<number>()(a);
    expectType<string>()(b);
    const pair = await ctx.parallel([() => this.s.num(1), () => this.s.str('x')]);
    expectType<[number, string]>()(pair);
    // an array in gives an array out
    const arr = await ctx.parallel(input.ids.map((n) => () => this.s.num(n)));
    expectType<number[]>()(arr);
    // collect-all: a Settled per branch, typed per position
    const settled = await ctx.parallel([() => this.s.num(5), () => this.s.str('y')], { strategy: 'collect-all' });
    expectType<[Settled<number>, Settled<string>]>()(settled);
    // race: the index and a value of any branch's type
    const race = await ctx.race([() => this.s.num(7), () => this.s.str('z')]);
    expectType<number>()(race.index);
    expectType<number | string>()(race.value);
    return { a, b, arr, settled, race };
  }
}

@Workflow({ name: 'Par.FailFast' })
class FailFastWorkflow implements WorkflowDefinition<{ id: string; catchIt: boolean }, unknown> {
  constructor(private readonly s: ParSteps) {}

  async run(input: { id: string; catchIt: boolean }, ctx: WorkflowContext): Promise<unknown> {
    const t0 = Date.now();
    try {
      const values = await ctx.parallel([() => this.s.hang(input.id), () => this.s.boom(input.id, 100, ErrorKind.ValidationFailed)]);
      return { outcome: 'resolved', values };
    } catch (err: unknown) {
      if (!input.catchIt) throw err;
      const rejectedAfter = Date.now() - t0;
      // keeps the run RUNNING (lease held) while the aborted branch's late result comes in
      const after = await this.s.work(input.id, 'after', 300);
      return { outcome: 'caught', error: describeError(err), rejectedAfter, after };
    }
  }
}

interface SettledSummary {
  keys: string[];
  status: string;
  value?: unknown;
  error?: ReturnType<typeof describeError>;
}

@Workflow({ name: 'Par.CollectAll' })
class CollectAllWorkflow implements WorkflowDefinition<{ id: string }, SettledSummary[]> {
  constructor(private readonly s: ParSteps) {}

  async run(input: { id: string }, ctx: WorkflowContext): Promise<SettledSummary[]> {
    const results = await ctx.parallel(
      [
        () => this.s.work(input.id, 'first', 20),
        () => this.s.boom(input.id, 30, ErrorKind.NotFound),
        () => this.s.work(input.id, 'slow', 300),
        async (): Promise<string> => {
          throw new Error(`plain throw in branch code of ${input.id}`);
        },
      ],
      { strategy: 'collect-all' },
    );
    return results.map((r) => ({
      keys: Object.keys(r).sort(),
      status: r.status,
      ...(r.status === 'fulfilled' ? { value: r.value } : { error: describeError(r.error) }),
    }));
  }
}

@Workflow({ name: 'Par.Interleave' })
class InterleaveWorkflow implements WorkflowDefinition<{ id: string }, Tagged[][]> {
  constructor(private readonly s: ParSteps) {}

  async run(input: { id: string }, ctx: WorkflowContext): Promise<Tagged[][]> {
    executions.bump('Par.Interleave', input.id);
    return ctx.parallel(
      [0, 1, 2].map((b) => async () => {
        const out: Tagged[] = [];
        for (let j = 0; j < 3; j++) out.push(await this.s.tagged(input.id, String(b), j));
        return out;
      }),
    );
  }
}

interface NestedOutput {
  inner: [Tagged[], Tagged[]];
  side: { pre: Tagged; race: { index: number; value: Tagged[] }; post: Tagged };
  last: Tagged;
}

@Workflow({ name: 'Par.Nested' })
class NestedWorkflow implements WorkflowDefinition<{ id: string; pause?: `${number}ms` }, NestedOutput> {
  constructor(private readonly s: ParSteps) {}

  async run(input: { id: string; pause?: `${number}ms` }, ctx: WorkflowContext): Promise<NestedOutput> {
    const { id } = input;
    executions.bump('Par.Nested', id);
    const [inner, side] = await ctx.parallel([
      // parallel inside parallel, multi-step branches
      () =>
        ctx.parallel([
          async () => [await this.s.tagged(id, 'a', 0), await this.s.tagged(id, 'a', 1)],
          async () => {
            const first = await this.s.tagged(id, 'b', 0);
            if (input.pause) await ctx.sleep(input.pause);
            return [first, await this.s.tagged(id, 'b', 1)];
          },
        ]),
      // a step, a race inside the branch (a fast two-step branch against a slow one), a step
      async () => {
        const pre = await this.s.tagged(id, 'c', 0);
        const race = await ctx.race([
          async () => [await this.s.tagged(id, 'r0', 0), await this.s.tagged(id, 'r0', 1)],
          async () => [await this.s.tagged(id, 'r1', 0, 400)],
        ]);
        const post = await this.s.tagged(id, 'c', 1);
        return { pre, race, post };
      },
    ]);
    const last = await this.s.tagged(id, 'z', 0);
    return { inner, side, last };
  }
}

const raceSeen = new Map<string, unknown[]>();

@Workflow({ name: 'Par.Race' })
class RaceWorkflow implements WorkflowDefinition<{ id: string }, { race: unknown; reversedAtReplay: boolean }> {
  constructor(private readonly s: ParSteps) {}

  async run(input: { id: string }, ctx: WorkflowContext): Promise<{ race: unknown; reversedAtReplay: boolean }> {
    executions.bump('Par.Race', input.id);
    const race = await ctx.race([
      async () => {
        // "timing then": with the flag, branch 0 is also slow before its step
        if (raceReversed) await delay(400);
        return this.s.timed(input.id, 0);
      },
      () => this.s.timed(input.id, 1),
    ]);
    raceSeen.set(input.id, [...(raceSeen.get(input.id) ?? []), race]);
    await ctx.sleep('1000ms');
    return { race, reversedAtReplay: raceReversed };
  }
}

@Workflow({ name: 'Par.Retry' })
class RetryWorkflow implements WorkflowDefinition<{ id: string }, [string, string[]]> {
  constructor(private readonly s: ParSteps) {}

  async run(input: { id: string }, ctx: WorkflowContext): Promise<[string, string[]]> {
    executions.bump('Par.Retry', input.id);
    return ctx.parallel([
      () => this.s.flaky(input.id),
      async () => [await this.s.work(input.id, 'x', 150), await this.s.work(input.id, 'y', 150)],
    ]);
  }
}

@Workflow({ name: 'Par.RetryLast' })
class RetryLastWorkflow implements WorkflowDefinition<{ id: string }, [string, string]> {
  constructor(private readonly s: ParSteps) {}

  async run(input: { id: string }, ctx: WorkflowContext): Promise<[string, string]> {
    executions.bump('Par.RetryLast', input.id);
    return ctx.parallel([() => this.s.flakySlow(input.id), () => this.s.work(input.id, 'quick', 0)]);
  }
}

const firstEntered = new Map<string, number>();

@Workflow({ name: 'Par.SleepBranch' })
class SleepBranchWorkflow implements WorkflowDefinition<{ id: string }, { values: [string, string]; elapsed: number }> {
  constructor(private readonly s: ParSteps) {}

  async run(input: { id: string }, ctx: WorkflowContext): Promise<{ values: [string, string]; elapsed: number }> {
    executions.bump('Par.SleepBranch', input.id);
    if (!firstEntered.has(input.id)) firstEntered.set(input.id, Date.now());
    const values = await ctx.parallel([
      async () => {
        await ctx.sleep('300ms');
        return this.s.work(input.id, 'after-sleep', 0);
      },
      () => this.s.work(input.id, 'long', 1_000),
    ]);
    return { values, elapsed: Date.now() - firstEntered.get(input.id)! };
  }
}

type MisuseCase = 'notArray' | 'empty' | 'emptyRace' | 'notFunction' | 'nullBranch' | 'tooMany' | 'tooManyRace' | 'badStrategy';

@Workflow({ name: 'Par.Misuse' })
class MisuseWorkflow implements WorkflowDefinition<{ id: string; uncaught?: MisuseCase }, unknown> {
  constructor(private readonly s: ParSteps) {}

  async run(input: { id: string; uncaught?: MisuseCase }, ctx: WorkflowContext): Promise<unknown> {
    contexts.set(ctx.runId, ctx);
    const { id } = input;
    const cases: Record<MisuseCase, () => Promise<unknown>> = {
      notArray: () => ctx.parallel(undefined as never),
      empty: () => ctx.parallel([]),
      emptyRace: () => ctx.race([]),
      notFunction: () => {
        // the classic slip: calling the step instead of passing a function that calls it
        const eager = this.s.work(id, 'eager', 0);
        eager.catch(() => undefined);
        return ctx.parallel([() => this.s.work(id, 'ok', 0), eager as never]);
      },
      nullBranch: () => ctx.parallel([async () => 1, async () => 2, null as never]),
      tooMany: () => ctx.parallel(Array.from({ length: MAX_BRANCHES + 1 }, (_, i) => async () => i)),
      tooManyRace: () => ctx.race(Array.from({ length: MAX_BRANCHES + 1 }, (_, i) => async () => i)),
      badStrategy: () => ctx.parallel([async () => 1], { strategy: 'all' as never }),
    };
    if (input.uncaught) return cases[input.uncaught]();
    const caught: Record<string, unknown> = {};
    for (const [name, call] of Object.entries(cases)) {
      try {
        await call();
        caught[name] = { name: 'none', message: 'resolved' };
      } catch (err: unknown) {
        caught[name] = { ...describeError(err), isUsageError: err instanceof UsageError };
      }
    }
    const inStep = await this.s.groupInStep(ctx.runId);
    // exactly MAX_BRANCHES is allowed
    const atLimit = await ctx.parallel(Array.from({ length: MAX_BRANCHES }, (_, i) => async () => i));
    return { caught, inStep, atLimit };
  }
}

/** ctx.signal of each Par.Wide run, by id. */
const runSignals = new Map<string, AbortSignal>();

@Workflow({ name: 'Par.Wide' })
class WideWorkflow implements WorkflowDefinition<{ id: string; n: number }, string[]> {
  constructor(private readonly s: ParSteps) {}

  async run(input: { id: string; n: number }, ctx: WorkflowContext): Promise<string[]> {
    executions.bump('Par.Wide', input.id);
    runSignals.set(input.id, ctx.signal);
    return ctx.parallel(Array.from({ length: input.n }, (_, i) => () => this.s.gated(input.id, i)));
  }
}

// ---------------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------------

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('parallel');
});

afterAll(async () => {
  await closeAllApps();
  await db?.drop();
});

interface PlacedRow {
  step_key: string;
  step_name: string;
  kind: string;
  status: string;
  parallel_group_id: string | null;
  parent_step_id: string | null;
  attempts: number | null;
  output: unknown;
}

/** A run's step rows with their placement, ordered by key. */
function placedRows(runId: string): Promise<PlacedRow[]> {
  return sql<PlacedRow & Record<string, unknown>>(
    db.url,
    `select step_key, step_name, kind, status, parallel_group_id, parent_step_id, attempts, output
     from kagzi.step_runs where workflow_run_id = $1 order by step_key collate "C"`,
    [runId],
  );
}

/** [key, kind, status, group, parent] per row, ordered by key. */
async function placement(runId: string): Promise<Array<[string, string, string, string | null, string | null]>> {
  return (await placedRows(runId)).map((r) => [r.step_key, r.kind, r.status, r.parallel_group_id, r.parent_step_id]);
}

function runStatus(runId: string): Promise<Array<{ status: string; lease_owner: string | null; due_at: Date }>> {
  return sql(db.url, 'select status, lease_owner, due_at from kagzi.workflow_runs where id = $1', [runId]);
}

/** Replaces every { tag, nonce } with its tag: the shape of an output, independent of the nonces. */
function tagsOf(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(tagsOf);
  if (value && typeof value === 'object') {
    if ('tag' in value && 'nonce' in value) return (value as Tagged).tag;
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, tagsOf(v)]));
  }
  return value;
}

function tagged(id: string, branch: string, index: number): Tagged {
  const value = bodyValues.get(`Par.tagged|${id}:${branch}:${index}`);
  if (!value) throw new Error(`Par.tagged ${id}:${branch}:${index} never returned`);
  return value as Tagged;
}

/** Statuses a run goes through, sampled every 20 ms until it finishes. */
function sampleStatuses(handle: WorkflowHandle<unknown>): { seen: string[]; done: Promise<void> } {
  const seen: string[] = [];
  const done = (async () => {
    for (;;) {
      const s = await handle.status();
      if (seen[seen.length - 1] !== s) seen.push(s);
      if (s === 'COMPLETED' || s === 'FAILED' || s === 'CANCELLED') return;
      await delay(20);
    }
  })();
  return { seen, done };
}

const ALL = [
  ParSteps,
  FanoutWorkflow,
  TypesWorkflow,
  FailFastWorkflow,
  CollectAllWorkflow,
  InterleaveWorkflow,
  NestedWorkflow,
  RaceWorkflow,
  RetryWorkflow,
  RetryLastWorkflow,
  SleepBranchWorkflow,
  MisuseWorkflow,
  WideWorkflow,
  OverlapWorkflow,
];

// ---------------------------------------------------------------------------------------------------
// Tests in one long-lived app
// ---------------------------------------------------------------------------------------------------

describe('ctx.parallel / ctx.race in one app', () => {
  let kagzi: KagziTestApp;

  beforeAll(async () => {
    kagzi = await bootKagzi({ url: db.url, providers: ALL });
  });

  afterAll(() => kagzi?.close());

  describe('1: speedup and order', () => {
    it('3 and 5 branches of one 300 ms step each finish in under 2× a single step, with overlapping bodies', async () => {
      const single = await (await kagzi.client.start(FanoutWorkflow, { id: 'single', ms: [300], sequential: true })).result({ timeout: '10s' });
      expect(single.values).toEqual(['b0']);
      expect(single.elapsed).toBeGreaterThanOrEqual(300);

      for (const n of [3, 5]) {
        const id = `speed-${n}`;
        const handle = await kagzi.client.start(FanoutWorkflow, { id, ms: Array<number>(n).fill(300) });
        const out = await handle.result({ timeout: '10s' });
        expect(out.values).toEqual(Array.from({ length: n }, (_, i) => `b${i}`));
        expect(out.elapsed).toBeGreaterThanOrEqual(300);
        expect(out.elapsed).toBeLessThan(2 * single.elapsed); // sequential would be n × 300 ms
        // every body started before any of them ended: they really ran at the same time
        const starts = Array.from({ length: n }, (_, i) => started.get(`Par.work|${id}:b${i}`)![0]);
        const ends = Array.from({ length: n }, (_, i) => ended.get(`Par.work|${id}:b${i}`)![0]);
        expect(Math.max(...starts)).toBeLessThan(Math.min(...ends));
        for (let i = 0; i < n; i++) expect(calls.get('Par.work', `${id}:b${i}`)).toBe(1);
        expect(await placement(handle.runId)).toEqual(
          Array.from({ length: n }, (_, i) => [`$parallel#1[${i}]/Par.work#1`, 'STEP', 'COMPLETED', '$parallel#1', `$parallel#1[${i}]`]),
        );
      }
    });

    it('results come back in branch order when branch 0 is the slowest', async () => {
      const id = 'order';
      const out = await (await kagzi.client.start(FanoutWorkflow, { id, ms: [450, 50, 250] })).result({ timeout: '10s' });
      expect(out.values).toEqual(['b0', 'b1', 'b2']);
      const endOf = (b: string): number => ended.get(`Par.work|${id}:${b}`)![0];
      expect(endOf('b1')).toBeLessThan(endOf('b2')); // they finished in the order 1, 2, 0
      expect(endOf('b2')).toBeLessThan(endOf('b0'));
      expect(out.elapsed).toBeLessThan(750); // 450 + 50 + 250 if sequential
    });
  });

  describe('2: typing', () => {
    it('a tuple in gives a tuple out, an array gives an array (values at run time)', async () => {
      const out = await (await kagzi.client.start(TypesWorkflow, { ids: [1, 2, 3] })).result({ timeout: '10s' });
      expect(out.a).toBe(42);
      expect(out.b).toBe('KAGZI');
      expect(out.arr).toEqual([2, 4, 6]);
      expect(out.settled).toEqual([
        { status: 'fulfilled', value: 10 },
        { status: 'fulfilled', value: 'Y' },
      ]);
      expect(out.race.index === 0 ? out.race.value === 14 : out.race.value === 'Z').toBe(true);
    });

    it('type-checks: this file compiles, and wrong expectations about ParallelOutput do not', () => {
      // ts-jest runs with isolatedModules (tsconfig), i.e. without type checking: check the types here.
      const root = join(__dirname, '..');
      const configPath = join(root, 'tsconfig.json');
      const parsed = ts.parseJsonConfigFileContent(ts.readConfigFile(configPath, ts.sys.readFile).config, ts.sys, root, undefined, configPath);
      const options: ts.CompilerOptions = { ...parsed.options, noEmit: true, incremental: false };
      const negativePath = join(__dirname, '__parallel_types_negative__.ts');
      const negative = `
        import { Settled, WorkflowContext } from '@kagzi/nestjs';
        type Exact<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;
        const expectType = <T,>() => <V,>(_value: V, ..._mismatch: Exact<V, T> extends true ? [] : ['differs']): void => undefined;
        declare const ctx: WorkflowContext;
        declare function num(): Promise<number>;
        declare function str(): Promise<string>;
        export async function wrong(ids: number[]): Promise<void> {
          const [a, b] = await ctx.parallel([num, str]);
          expectType<string>()(a);                                   // error 1
          expectType<unknown>()(b);                                  // error 2
          const arr = await ctx.parallel(ids.map(() => num));
          expectType<[number, number]>()(arr);                       // error 3
          const settled = await ctx.parallel([num, str], { strategy: 'collect-all' });
          expectType<[number, string]>()(settled);                   // error 4
          expectType<[Settled<number>, Settled<string>]>()(settled); // fine
          expectType<[number, string]>()(await ctx.parallel([num, str])); // fine
        }`;
      const host = ts.createCompilerHost(options, true);
      const getSourceFile = host.getSourceFile.bind(host);
      host.getSourceFile = (fileName, languageVersion, ...rest) =>
        fileName === negativePath ? ts.createSourceFile(fileName, negative, languageVersion, true) : getSourceFile(fileName, languageVersion, ...rest);
      const fileExists = host.fileExists.bind(host);
      host.fileExists = (fileName) => fileName === negativePath || fileExists(fileName);
      const program = ts.createProgram({ rootNames: [__filename, negativePath], options, host });
      const render = (d: ts.Diagnostic): string => {
        const where = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
        return `${d.file?.fileName ?? '?'}:${where ? where.line + 1 : '?'}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
      };
      const diagnosticsOf = (path: string): string[] => {
        const file = program.getSourceFile(path)!;
        return [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)].map(render);
      };
      expect(diagnosticsOf(__filename)).toEqual([]);
      const errors = diagnosticsOf(negativePath);
      const lines = program.getSourceFile(negativePath)!.text.split('\n');
      const errorLines = errors.map((e) => Number(/:(\d+): /.exec(e)![1]));
      expect(errorLines.map((l) => /error (\d)/.exec(lines[l - 1])?.[1])).toEqual(['1', '2', '3', '4']);
    }, 30_000);
  });

  describe('3: fail-fast', () => {
    it('rejects with the failing branch’s error, aborts the other branch, never commits its late result; the workflow can catch it', async () => {
      const id = 'ff-caught';
      const handle = await kagzi.client.start(FailFastWorkflow, { id, catchIt: true });
      const out = (await handle.result({ timeout: '10s' })) as {
        outcome: string;
        error: ReturnType<typeof describeError>;
        rejectedAfter: number;
        after: string;
      };
      expect(out.outcome).toBe('caught');
      expect(out.error).toMatchObject({
        name: 'PermanentError',
        isStepError: true,
        kind: ErrorKind.ValidationFailed,
        code: 'BOOM',
        message: `boom from ${id}`,
        stepName: 'Par.boom',
      });
      expect(out.rejectedAfter).toBeLessThan(1_000); // did not wait for the hanging branch (3 s)
      expect(out.after).toBe('after');

      const signal = signals.get(`Par.hang|${id}`)!;
      expect(signal.aborted).toBe(true);
      expect(signal.reason).toBeInstanceOf(StepError);
      expect((signal.reason as StepError).kind).toBe(ErrorKind.Cancelled);
      expect((signal.reason as StepError).message).toMatch(/Branch 1 of \$parallel#1 failed/);
      // the aborted body did return a value, while the run still held its lease (the 'after' step was running)
      const hangReturned = ended.get(`Par.hang|${id}`)![0];
      expect(hangReturned).toBeLessThan(ended.get(`Par.work|${id}:after`)![0]);
      expect(calls.get('Par.hang', id)).toBe(1);
      expect(calls.get('Par.boom', id)).toBe(1);

      expect(await placement(handle.runId)).toEqual([
        ['$parallel#1[1]/Par.boom#1', 'STEP', 'FAILED', '$parallel#1', '$parallel#1[1]'],
        ['Par.work#1', 'STEP', 'COMPLETED', null, null],
      ]); // no row at all for $parallel#1[0]/Par.hang#1
    });

    it('uncaught, it fails the run with the branch’s error', async () => {
      const id = 'ff-uncaught';
      const handle = await kagzi.client.start(FailFastWorkflow, { id, catchIt: false });
      const err = await rejectionOf(handle.result({ timeout: '10s' }));
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect((err as WorkflowFailedError).error).toMatchObject({ kind: ErrorKind.ValidationFailed, message: `boom from ${id}`, code: 'BOOM', stepName: 'Par.boom' });
      await waitFor('the hanging branch to return its late result', () => ended.has(`Par.hang|${id}`));
      await delay(100);
      expect((await placement(handle.runId)).map((r) => r[0])).toEqual(['$parallel#1[1]/Par.boom#1']);
    });
  });

  describe('4: collect-all', () => {
    it('gives { status, value } | { status, error: StepError } per branch, in order, without aborting the others', async () => {
      const id = 'ca';
      const handle = await kagzi.client.start(CollectAllWorkflow, { id });
      const out = await handle.result({ timeout: '10s' });
      expect(out).toEqual([
        { keys: ['status', 'value'], status: 'fulfilled', value: 'first' },
        {
          keys: ['error', 'status'],
          status: 'rejected',
          error: expect.objectContaining({ isStepError: true, name: 'PermanentError', kind: ErrorKind.NotFound, message: `boom from ${id}`, stepName: 'Par.boom' }),
        },
        { keys: ['status', 'value'], status: 'fulfilled', value: 'slow' },
        {
          keys: ['error', 'status'],
          status: 'rejected',
          error: expect.objectContaining({ isStepError: true, message: `plain throw in branch code of ${id}` }),
        },
      ]);
      expect(signals.get(`Par.work|${id}:slow`)!.aborted).toBe(false); // a failure does not abort siblings
      expect(await placement(handle.runId)).toEqual([
        ['$parallel#1[0]/Par.work#1', 'STEP', 'COMPLETED', '$parallel#1', '$parallel#1[0]'],
        ['$parallel#1[1]/Par.boom#1', 'STEP', 'FAILED', '$parallel#1', '$parallel#1[1]'],
        ['$parallel#1[2]/Par.work#1', 'STEP', 'COMPLETED', '$parallel#1', '$parallel#1[2]'],
      ]);
    });
  });

  describe('5a: multi-step branches interleaving', () => {
    it('every result lands in its own branch, under its own key', async () => {
      const id = 'inter';
      const handle = await kagzi.client.start(InterleaveWorkflow, { id });
      const out = await handle.result({ timeout: '10s' });
      expect(tagsOf(out)).toEqual([
        ['0.0', '0.1', '0.2'],
        ['1.0', '1.1', '1.2'],
        ['2.0', '2.1', '2.2'],
      ]);
      expect(out).toStrictEqual([0, 1, 2].map((b) => [0, 1, 2].map((j) => tagged(id, String(b), j))));
      const expected = [0, 1, 2].flatMap((b) =>
        [1, 2, 3].map((n) => [`$parallel#1[${b}]/Par.tagged#${n}`, 'STEP', 'COMPLETED', '$parallel#1', `$parallel#1[${b}]`]),
      );
      expect(await placement(handle.runId)).toEqual(expected);
      // the stored outputs are the values the bodies returned, under the keys of their own branch
      for (const row of await placedRows(handle.runId)) {
        const [, b, n] = /^\$parallel#1\[(\d)\]\/Par\.tagged#(\d)$/.exec(row.step_key)!;
        expect((row.output as { json: Tagged }).json).toEqual(tagged(id, b, Number(n) - 1));
      }
    });
  });

  describe('8: retries inside a branch', () => {
    it('retry only the failed step; the sibling branch’s two steps run once each, in process', async () => {
      const id = 'retry';
      const handle = await kagzi.client.start(RetryWorkflow, { id });
      const statuses = sampleStatuses(handle);
      const out = await handle.result({ timeout: '10s' });
      await statuses.done;
      expect(out).toEqual([`flaky-ok-${id}-on-call-3`, ['x', 'y']]);
      expect(calls.get('Par.flaky', id)).toBe(3);
      expect(calls.get('Par.work', `${id}:x`)).toBe(1);
      expect(calls.get('Par.work', `${id}:y`)).toBe(1);
      expect(executions.get('Par.Retry', id)).toBe(1); // waited in process, never replayed
      expect(statuses.seen).not.toContain('SLEEPING');
      const rows = await placedRows(handle.runId);
      expect(rows.map((r) => [r.step_key, r.status, r.attempts, r.parallel_group_id, r.parent_step_id])).toEqual([
        ['$parallel#1[0]/Par.flaky#1', 'COMPLETED', 3, '$parallel#1', '$parallel#1[0]'],
        ['$parallel#1[1]/Par.work#1', 'COMPLETED', 1, '$parallel#1', '$parallel#1[1]'],
        ['$parallel#1[1]/Par.work#2', 'COMPLETED', 1, '$parallel#1', '$parallel#1[1]'],
      ]);
      const attempts = await sql<{ step_key: string; n: number }>(
        db.url,
        'select step_key, count(*)::int as n from kagzi.step_attempts where workflow_run_id = $1 group by step_key order by step_key',
        [handle.runId],
      );
      expect(attempts).toEqual([
        { step_key: '$parallel#1[0]/Par.flaky#1', n: 3 },
        { step_key: '$parallel#1[1]/Par.work#1', n: 1 },
        { step_key: '$parallel#1[1]/Par.work#2', n: 1 },
      ]);
    });

    it('when the failing branch is the only one left, the run parks during the back-off and completes after', async () => {
      const id = 'retry-last';
      const handle = await kagzi.client.start(RetryLastWorkflow, { id });
      await waitFor('attempt 1 to fail', () => ended.has(`Par.work|${id}:quick`) && calls.get('Par.flakySlow', id) === 1);
      await waitForStatus(handle, 'SLEEPING', 2_000);
      const [parked] = await runStatus(handle.runId);
      expect(parked.lease_owner).toBeNull();
      expect(parked.due_at.getTime()).toBeGreaterThan(Date.now() + 200);
      const [waiting] = (await placedRows(handle.runId)).filter((r) => r.step_name === 'Par.flakySlow');
      expect([waiting.status, waiting.attempts, waiting.parallel_group_id, waiting.parent_step_id]).toEqual(['RUNNING', 1, '$parallel#1', '$parallel#1[0]']);

      expect(await handle.result({ timeout: '10s' })).toEqual([`slow-ok-${id}-on-call-2`, 'quick']);
      expect(calls.get('Par.flakySlow', id)).toBe(2);
      expect(calls.get('Par.work', `${id}:quick`)).toBe(1); // replayed after the park, not re-executed
      expect(executions.get('Par.RetryLast', id)).toBe(2);
    });
  });

  describe('9: a sleeping branch next to a busy one', () => {
    it('does not park the run while the other branch’s 1 s step runs; total ≈ 1 s', async () => {
      const id = 'sleep-branch';
      const handle = await kagzi.client.start(SleepBranchWorkflow, { id });
      const statuses = sampleStatuses(handle);
      const out = await handle.result({ timeout: '10s' });
      await statuses.done;
      expect(out.values).toEqual(['after-sleep', 'long']);
      expect(statuses.seen).not.toContain('SLEEPING');
      expect(executions.get('Par.SleepBranch', id)).toBe(1);
      expect(out.elapsed).toBeGreaterThanOrEqual(1_000);
      // the sleeping branch went on in process, during the long step
      const afterSleepAt = started.get(`Par.work|${id}:after-sleep`)![0];
      expect(afterSleepAt - firstEntered.get(id)!).toBeGreaterThanOrEqual(300);
      expect(afterSleepAt).toBeLessThan(ended.get(`Par.work|${id}:long`)![0]);
      expect(calls.get('Par.work', `${id}:long`)).toBe(1);
      expect(await placement(handle.runId)).toEqual([
        ['$parallel#1[0]/$sleep#1', 'SLEEP', 'COMPLETED', '$parallel#1', '$parallel#1[0]'],
        ['$parallel#1[0]/Par.work#1', 'STEP', 'COMPLETED', '$parallel#1', '$parallel#1[0]'],
        ['$parallel#1[1]/Par.work#1', 'STEP', 'COMPLETED', '$parallel#1', '$parallel#1[1]'],
      ]);
    });
  });

  describe('9b: steps overlapped with a wait by Promise.all', () => {
    it('a sleep next to an executing step: the run is not parked until the step committed; the step ran once', async () => {
      const id = 'overlap-sleep';
      const handle = await kagzi.client.start(OverlapWorkflow, { id, scenario: 'sleep-first' });
      expect(await handle.result({ timeout: '10s' })).toEqual([undefined, 'charge']);
      expect(calls.get('Par.work', `${id}:charge`)).toBe(1);
    });

    it('a back-off next to an executing step: the sibling step ran once, the flaky one 3 times', async () => {
      const id = 'overlap-backoff';
      const handle = await kagzi.client.start(OverlapWorkflow, { id, scenario: 'backoff-first' });
      expect(await handle.result({ timeout: '10s' })).toEqual([`flaky-ok-${id}-on-call-3`, 'charge']);
      expect(calls.get('Par.work', `${id}:charge`)).toBe(1);
      expect(calls.get('Par.flaky', id)).toBe(3);
    });

    it('a sleep that outlasts the step: the run parks once the step committed, and the step is replayed, not re-run', async () => {
      const id = 'overlap-outlasts';
      const handle = await kagzi.client.start(OverlapWorkflow, { id, scenario: 'sleep-outlasts' });
      const statuses = sampleStatuses(handle);
      expect(await handle.result({ timeout: '10s' })).toEqual([undefined, 'charge']);
      await statuses.done;
      expect(statuses.seen).toContain('SLEEPING');
      expect(calls.get('Par.work', `${id}:charge`)).toBe(1);
      expect(executions.get('Par.Overlap', id)).toBe(2);
    });

    it('a step started right after another one commits, beside a sleep: each ran once', async () => {
      const id = 'overlap-chain';
      const handle = await kagzi.client.start(OverlapWorkflow, { id, scenario: 'chain' });
      expect(await handle.result({ timeout: '10s' })).toEqual([undefined, ['first', 'second']]);
      expect(calls.get('Par.work', `${id}:first`)).toBe(1);
      expect(calls.get('Par.work', `${id}:second`)).toBe(1);
    });
  });

  describe('9c: durations past 24.8 days (2^31 - 1 ms)', () => {
    it('a 30-day sleep in a branch parks the run for 30 days instead of waking at once', async () => {
      const id = 'long-sleep';
      const handle = await kagzi.client.start(OverlapWorkflow, { id, scenario: 'long-sleep-branch' });
      await waitForStatus(handle, 'SLEEPING');
      await delay(300);
      const [row] = await runStatus(handle.runId);
      expect(row.status).toBe('SLEEPING');
      expect(row.due_at.getTime() - Date.now()).toBeGreaterThan(29 * 86_400_000);
      expect(executions.get('Par.Overlap', id)).toBe(1);
      await handle.cancel('test over');
    });

    it('@Step({ timeout: "30d" }) lets the step finish instead of timing out at once', async () => {
      const id = 'long-timeout';
      const handle = await kagzi.client.start(OverlapWorkflow, { id, scenario: 'long-timeout' });
      expect(await handle.result({ timeout: '10s' })).toBe(`patient-${id}`);
      expect(calls.get('Par.patient', id)).toBe(1);
    });
  });

  describe('10: misuse', () => {
    it('each misuse throws a UsageError with a clear message that the workflow can catch', async () => {
      const handle = await kagzi.client.start(MisuseWorkflow, { id: 'misuse' });
      const out = (await handle.result({ timeout: '10s' })) as {
        caught: Record<string, { name: string; code?: string; message: string; isUsageError: boolean }>;
        inStep: Array<{ name: string; code?: string; message: string }>;
        atLimit: number[];
      };
      const messages: Record<MisuseCase, RegExp> = {
        notArray: /^ctx\.parallel\(\) expects an array of functions/,
        empty: /^ctx\.parallel\(\) was given no branches/,
        emptyRace: /^ctx\.race\(\) was given no branches/,
        notFunction: /branch 1 is .*not a function.*Pass \(\) => this\.step\(\.\.\.\)/,
        nullBranch: /branch 2 is null, not a function/,
        tooMany: new RegExp(`was given ${MAX_BRANCHES + 1} branches; the limit is ${MAX_BRANCHES}`),
        tooManyRace: new RegExp(`^ctx\\.race\\(\\) was given ${MAX_BRANCHES + 1} branches; the limit is ${MAX_BRANCHES}`),
        badStrategy: /strategy must be 'fail-fast' or 'collect-all'; got "all"/,
      };
      expect(Object.keys(out.caught).sort()).toEqual(Object.keys(messages).sort());
      for (const [misuse, pattern] of Object.entries(messages)) {
        expect({ misuse, ...out.caught[misuse] }).toMatchObject({
          misuse,
          name: 'UsageError',
          isUsageError: true,
          code: 'KAGZI_USAGE',
          message: expect.stringMatching(pattern),
        });
      }
      expect(out.inStep).toEqual([
        expect.objectContaining({ name: 'UsageError', code: 'KAGZI_USAGE', message: expect.stringMatching(/^ctx\.parallel\(\) was called inside a step body/) }),
        expect.objectContaining({ name: 'UsageError', code: 'KAGZI_USAGE', message: expect.stringMatching(/^ctx\.race\(\) was called inside a step body/) }),
      ]);
      expect(out.atLimit).toEqual(Array.from({ length: MAX_BRANCHES }, (_, i) => i));
      // the misused 'ok' branch never ran: the group was refused before any branch started
      expect(calls.get('Par.work', 'misuse:ok')).toBe(0);
    });

    it('uncaught, a misuse fails the run with the UsageError’s message', async () => {
      for (const [uncaught, pattern] of [
        ['nullBranch', /ctx\.parallel\(\): branch 2 is null, not a function/],
        ['empty', /ctx\.parallel\(\) was given no branches/],
      ] as const) {
        const handle = await kagzi.client.start(MisuseWorkflow, { id: `misuse-${uncaught}`, uncaught });
        const err = await rejectionOf(handle.result({ timeout: '10s' }));
        expect(err).toBeInstanceOf(WorkflowFailedError);
        expect((err as WorkflowFailedError).error).toMatchObject({ code: 'KAGZI_USAGE', message: expect.stringMatching(pattern) });
        expect((await kagzi.client.getRun(handle.runId)).status).toBe('FAILED');
      }
    });
  });

  describe('11: concurrent commits for one run', () => {
    const expectedRows = (n: number): Array<[string, string, string, string | null, string | null]> =>
      Array.from({ length: n }, (_, i) => [`$parallel#1[${i}]/Par.gated#1`, 'STEP', 'COMPLETED', '$parallel#1', `$parallel#1[${i}]`] as [
        string,
        string,
        string,
        string,
        string,
      ]).sort((x, y) => (x[0] < y[0] ? -1 : 1));

    it('50 branches committing at once: exactly 50 rows, no duplicates, each placed in its branch', async () => {
      const id = 'wide';
      const g = gate(id); // all 50 bodies wait, then commit together
      const handle = await kagzi.client.start(WideWorkflow, { id, n: 50 });
      await g.entered.promise;
      await waitFor('all 50 bodies to start', () => calls.get('Par.gated.entered', id) === 50);
      g.open.resolve();
      const out = await handle.result({ timeout: '10s' });
      expect(out).toEqual(Array.from({ length: 50 }, (_, i) => `w${i}-call1`));
      expect(await placement(handle.runId)).toEqual(expectedRows(50));
      const [counts] = await sql<{ rows: number; keys: number; attempts: number }>(
        db.url,
        `select (select count(*)::int from kagzi.step_runs where workflow_run_id = $1) as rows,
                (select count(distinct step_key)::int from kagzi.step_runs where workflow_run_id = $1) as keys,
                (select count(*)::int from kagzi.step_attempts where workflow_run_id = $1) as attempts`,
        [handle.runId],
      );
      expect(counts).toEqual({ rows: 50, keys: 50, attempts: 50 });
    });

    it('50 steps in flight do not overflow the run signal’s listener limit (no MaxListenersExceededWarning)', async () => {
      const id = 'wide-listeners';
      const g = gate(id);
      const handle = await kagzi.client.start(WideWorkflow, { id, n: 50 });
      await waitFor('all 50 bodies to start', () => calls.get('Par.gated.entered', id) === 50);
      const signal = runSignals.get(id)!;
      const listeners = getEventListeners(signal, 'abort').length;
      // Node emits a MaxListenersExceededWarning once a signal has more listeners than its limit
      const warnings: string[] = [];
      const onWarning = (w: Error): void => void warnings.push(`${w.name}: ${w.message}`);
      process.on('warning', onWarning);
      try {
        signal.addEventListener('abort', () => undefined); // one more, past any default limit of 10
        g.open.resolve();
        await handle.result({ timeout: '10s' });
        await delay(50); // warnings are emitted on the next tick
      } finally {
        process.off('warning', onWarning);
      }
      expect(listeners).toBeGreaterThan(0);
      expect(warnings.filter((w) => w.includes('MaxListeners'))).toEqual([]);
    });

    it('the lease fencing still holds: 50 concurrent commits of a worker that lost the lease write nothing', async () => {
      const id = 'wide-fenced';
      const g = gate(id);
      const handle = await kagzi.client.start(WideWorkflow, { id, n: 50 });
      await waitFor('all 50 bodies to start', () => calls.get('Par.gated.entered', id) === 50);
      // another owner takes the run (as after an expired lease); it becomes due again in 1 s
      await sql(
        db.url,
        `update kagzi.workflow_runs set lease_owner = 'intruder', lease_epoch = lease_epoch + 1, due_at = now() + interval '1 second' where id = $1`,
        [handle.runId],
      );
      g.open.resolve();
      await waitFor('the 50 fenced bodies to return', () => Array.from({ length: 50 }, (_, i) => ended.has(`Par.gated|${id}:${i}`)).every(Boolean));
      await delay(200);
      expect(await placedRows(handle.runId)).toEqual([]);
      // the worker claims it again when it is due, and runs every branch once more
      const out = await handle.result({ timeout: '10s' });
      expect(out).toEqual(Array.from({ length: 50 }, (_, i) => `w${i}-call2`));
      expect(await placement(handle.runId)).toEqual(expectedRows(50));
      expect(executions.get('Par.Wide', id)).toBe(2);
    });
  });
});

// ---------------------------------------------------------------------------------------------------
// Tests across restarts (each boots its own apps; the long-lived app above is closed by now)
// ---------------------------------------------------------------------------------------------------

describe('5b: multi-step branches interrupted by a restart', () => {
  it('resumes in a new app: each step body once except the interrupted one, results identical', async () => {
    const id = 'inter-restart';
    const g = gate(`${id}:1:1`);
    const first = await bootKagzi({ url: db.url, providers: ALL });
    const handle = await first.client.start(InterleaveWorkflow, { id });
    await g.entered.promise;
    await waitFor('branches 0 and 2 to finish', async () => (await placedRows(handle.runId)).length === 7);
    await first.close(); // drain times out (300 ms): the run is handed back
    expect((await runStatus(handle.runId))[0]).toMatchObject({ status: 'PENDING', lease_owner: null });
    expect(signals.get(`Par.tagged|${id}:1:1`)!.aborted).toBe(true);
    g.open.resolve(); // the handed-back attempt finishes its body now; it must not commit
    await waitFor('the handed-back body to return', () => ended.has(`Par.tagged|${id}:1:1`));
    const handedBack = tagged(id, '1', 1);
    await delay(100);
    expect((await placedRows(handle.runId)).map((r) => r.step_key)).not.toContain('$parallel#1[1]/Par.tagged#2');

    const second = await bootKagzi({ url: db.url, providers: ALL });
    try {
      const out = await second.client.getHandle<Tagged[][]>(handle.runId).result({ timeout: '10s' });
      for (const b of ['0', '1', '2']) {
        for (const j of [0, 1, 2]) expect([b, j, calls.get('Par.tagged', `${id}:${b}:${j}`)]).toEqual([b, j, b === '1' && j === 1 ? 2 : 1]);
      }
      expect(executions.get('Par.Interleave', id)).toBe(2);
      expect(tagged(id, '1', 1)).not.toEqual(handedBack); // the re-execution's value, not the handed-back one
      expect(out).toStrictEqual([0, 1, 2].map((b) => [0, 1, 2].map((j) => tagged(id, String(b), j))));
      const rows = await placedRows(handle.runId);
      expect(rows.map((r) => [r.step_key, r.status, r.parallel_group_id, r.parent_step_id])).toEqual(
        [0, 1, 2].flatMap((b) => [1, 2, 3].map((n) => [`$parallel#1[${b}]/Par.tagged#${n}`, 'COMPLETED', '$parallel#1', `$parallel#1[${b}]`])),
      );
      for (const row of rows) {
        const [, b, n] = /^\$parallel#1\[(\d)\]\/Par\.tagged#(\d)$/.exec(row.step_key)!;
        expect((row.output as { json: Tagged }).json).toEqual(tagged(id, b, Number(n) - 1));
      }
    } finally {
      await second.close();
    }
  });
});

describe('6: nested groups with multi-step branches, replayed', () => {
  const NESTED_TAGS = {
    inner: [
      ['a.0', 'a.1'],
      ['b.0', 'b.1'],
    ],
    side: { pre: 'c.0', race: { index: 0, value: ['r0.0', 'r0.1'] }, post: 'c.1' },
    last: 'z.0',
  };
  const SUBJECTS = ['a:0', 'a:1', 'b:0', 'b:1', 'c:0', 'r0:0', 'r0:1', 'c:1', 'z:0'];
  const G = '$parallel#1';
  const N = '$parallel#1[0]/$parallel#1';
  const R = '$parallel#1[1]/$race#1';
  const nestedRows = (withSleep: boolean): Array<[string, string, string, string | null, string | null]> =>
    (
      [
        [`${N}[0]/Par.tagged#1`, 'STEP', 'COMPLETED', N, `${N}[0]`],
        [`${N}[0]/Par.tagged#2`, 'STEP', 'COMPLETED', N, `${N}[0]`],
        ...(withSleep ? [[`${N}[1]/$sleep#1`, 'SLEEP', 'COMPLETED', N, `${N}[1]`]] : []),
        [`${N}[1]/Par.tagged#1`, 'STEP', 'COMPLETED', N, `${N}[1]`],
        [`${N}[1]/Par.tagged#2`, 'STEP', 'COMPLETED', N, `${N}[1]`],
        [R, 'GROUP', 'COMPLETED', G, `${G}[1]`],
        [`${R}[0]/Par.tagged#1`, 'STEP', 'COMPLETED', R, `${R}[0]`],
        [`${R}[0]/Par.tagged#2`, 'STEP', 'COMPLETED', R, `${R}[0]`],
        [`${G}[1]/Par.tagged#1`, 'STEP', 'COMPLETED', G, `${G}[1]`],
        [`${G}[1]/Par.tagged#2`, 'STEP', 'COMPLETED', G, `${G}[1]`],
        ['Par.tagged#1', 'STEP', 'COMPLETED', null, null],
      ] as Array<[string, string, string, string | null, string | null]>
    ).sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));

  function expectedOutput(id: string): NestedOutput {
    return {
      inner: [
        [tagged(id, 'a', 0), tagged(id, 'a', 1)],
        [tagged(id, 'b', 0), tagged(id, 'b', 1)],
      ],
      side: { pre: tagged(id, 'c', 0), race: { index: 0, value: [tagged(id, 'r0', 0), tagged(id, 'r0', 1)] }, post: tagged(id, 'c', 1) },
      last: tagged(id, 'z', 0),
    };
  }

  let uninterrupted: NestedOutput;

  it('uninterrupted: keys nest by scope, group and parent are the innermost group and branch', async () => {
    const id = 'nested-plain';
    const kagzi = await bootKagzi({ url: db.url, providers: ALL });
    try {
      const handle = await kagzi.client.start(NestedWorkflow, { id });
      uninterrupted = await handle.result({ timeout: '10s' });
      expect(tagsOf(uninterrupted)).toEqual(NESTED_TAGS);
      expect(uninterrupted).toStrictEqual(expectedOutput(id));
      expect(await placement(handle.runId)).toEqual(nestedRows(false));
      expect(signals.get(`Par.tagged|${id}:r1:0`)!.aborted).toBe(true); // the race's loser was aborted
      expect(calls.get('Par.tagged', `${id}:r1:0`)).toBe(1);
    } finally {
      await kagzi.close();
    }
  });

  it('interrupted by a restart inside a branch after the race: each completed step executed once overall', async () => {
    const id = 'nested-restart';
    const g = gate(`${id}:c:1`);
    const first = await bootKagzi({ url: db.url, providers: ALL });
    const handle = await first.client.start(NestedWorkflow, { id });
    await g.entered.promise;
    await waitFor('the inner group and the race to be recorded', async () => (await placedRows(handle.runId)).length === 8);
    await first.close();
    g.open.resolve();
    await waitFor('the handed-back body to return', () => ended.has(`Par.tagged|${id}:c:1`));

    const second = await bootKagzi({ url: db.url, providers: ALL });
    try {
      const out = await second.client.getHandle<NestedOutput>(handle.runId).result({ timeout: '10s' });
      expect(executions.get('Par.Nested', id)).toBe(2);
      for (const subject of SUBJECTS) expect([subject, calls.get('Par.tagged', `${id}:${subject}`)]).toEqual([subject, subject === 'c:1' ? 2 : 1]);
      expect(calls.get('Par.tagged', `${id}:r1:0`)).toBe(1); // the loser is not run again on replay
      expect(tagsOf(out)).toEqual(tagsOf(uninterrupted));
      expect(out).toStrictEqual(expectedOutput(id));
      expect(await placement(handle.runId)).toEqual(nestedRows(false));
    } finally {
      await second.close();
    }
  });

  it('interrupted by a durable sleep in a nested branch (the run parks): each step executed once', async () => {
    const id = 'nested-sleep';
    const kagzi = await bootKagzi({ url: db.url, providers: ALL });
    try {
      const handle = await kagzi.client.start(NestedWorkflow, { id, pause: '700ms' });
      await waitForStatus(handle, 'SLEEPING', 3_000);
      expect((await runStatus(handle.runId))[0].lease_owner).toBeNull();
      const out = await handle.result({ timeout: '10s' });
      expect(executions.get('Par.Nested', id)).toBe(2);
      for (const subject of SUBJECTS) expect([subject, calls.get('Par.tagged', `${id}:${subject}`)]).toEqual([subject, 1]);
      expect(calls.get('Par.tagged', `${id}:r1:0`)).toBe(1);
      expect(tagsOf(out)).toEqual(tagsOf(uninterrupted));
      expect(out).toStrictEqual(expectedOutput(id));
      expect(await placement(handle.runId)).toEqual(nestedRows(true));
    } finally {
      await kagzi.close();
    }
  });
});

describe('7: a race winner is durable', () => {
  afterAll(() => {
    raceReversed = false;
  });

  it('the fast branch wins; after a restart with reversed timing the replay returns the same winner and value', async () => {
    const id = 'race';
    const first = await bootKagzi({ url: db.url, providers: ALL });
    const handle = await first.client.start(RaceWorkflow, { id });
    await waitForStatus(handle, 'SLEEPING', 5_000);
    const decidedRun = raceSeen.get(id)!;
    expect(decidedRun).toHaveLength(1);
    const winner = decidedRun[0] as { index: number; value: { branch: number; nonce: number } };
    expect(winner.index).toBe(0);
    expect(winner.value.branch).toBe(0);
    expect(winner.value.nonce).toBeGreaterThan(0);

    // the loser was aborted, returned a late value anyway, and that value was not committed
    const loserSignal = signals.get(`Par.timed|${id}:1`)!;
    expect(loserSignal.aborted).toBe(true);
    expect((loserSignal.reason as StepError).message).toMatch(/Branch 0 won \$race#1/);
    expect(bodyValues.get(`Par.timed|${id}:1`)).toEqual({ branch: 1, nonce: -1, late: true });
    const rows = await placedRows(handle.runId);
    expect(rows.map((r) => [r.step_key, r.kind, r.status, r.parallel_group_id, r.parent_step_id])).toEqual([
      ['$race#1', 'GROUP', 'COMPLETED', null, null],
      ['$race#1[0]/Par.timed#1', 'STEP', 'COMPLETED', '$race#1', '$race#1[0]'],
      ['$sleep#1', 'SLEEP', 'COMPLETED', null, null],
    ]);
    expect((rows[0].output as { json: unknown }).json).toEqual({ index: 0, status: 'fulfilled' });
    await first.close();

    raceReversed = true; // now branch 0 is slow and branch 1 fast
    const second = await bootKagzi({ url: db.url, providers: ALL });
    try {
      const out = await second.client.getHandle<{ race: unknown; reversedAtReplay: boolean }>(handle.runId).result({ timeout: '10s' });
      expect(out.reversedAtReplay).toBe(true); // the replay did run with the reversed timing
      expect(executions.get('Par.Race', id)).toBe(2);
      expect(out.race).toStrictEqual(winner);
      expect(raceSeen.get(id)).toStrictEqual([winner, winner]);
      expect(calls.get('Par.timed', `${id}:0`)).toBe(1);
      expect(calls.get('Par.timed', `${id}:1`)).toBe(1);
      expect((await placedRows(handle.runId)).map((r) => r.step_key)).toEqual(['$race#1', '$race#1[0]/Par.timed#1', '$sleep#1']);
    } finally {
      await second.close();
    }
  });
});
