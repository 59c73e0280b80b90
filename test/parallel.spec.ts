/**
 * Parallel step execution (ctx.parallel / ctx.race), against real PostgreSQL: speedup and result order,
 * typing, fail-fast and collect-all, scoped keys for multi-step branches that interleave, nested groups
 * replayed after a restart or a durable sleep, a race winner that stays the winner across a restart with
 * reversed timing, retries inside a branch, a sleeping branch that does not park a busy run, misuse, and
 * 50 concurrent commits for one run (with the lease fencing still holding).
 *
 * The workflows and steps are in test/fixtures/parallel-fixtures.ts. Every step body records what it did
 * in `effects`, so "ran once" is counted, not inferred.
 */
import { getEventListeners } from 'node:events';
import { join } from 'node:path';
import * as ts from 'typescript';
import { ErrorKind, MAX_BRANCHES, StepError, WorkflowFailedError } from '@kagzi/nestjs';
import { createTestDatabase, TestDatabase } from './support/database';
import { bootKagzi, closeAllApps, delay, KagziTestApp, rejectionOf, sql, waitFor, waitForStatus } from './support/app';
import {
  CollectAllWorkflow,
  describeError,
  effects,
  FailFastWorkflow,
  FanoutWorkflow,
  InterleaveWorkflow,
  MisuseCase,
  MisuseWorkflow,
  NestedOutput,
  NestedWorkflow,
  OverlapWorkflow,
  PARALLEL_PROVIDERS,
  RaceWorkflow,
  RetryLastWorkflow,
  RetryWorkflow,
  sampleStatuses,
  SleepBranchWorkflow,
  Tagged,
  tagged,
  tagsOf,
  TypesWorkflow,
  WideWorkflow,
} from './fixtures/parallel-fixtures';

const FIXTURES_FILE = join(__dirname, 'fixtures', 'parallel-fixtures.ts');

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

// every test uses run ids of its own; forgetting what earlier tests recorded keeps failures local
beforeEach(() => effects.reset());

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

// ---------------------------------------------------------------------------------------------------
// Tests in one long-lived app
// ---------------------------------------------------------------------------------------------------

describe('ctx.parallel / ctx.race in one app', () => {
  let kagzi: KagziTestApp;

  beforeAll(async () => {
    kagzi = await bootKagzi({ url: db.url, providers: PARALLEL_PROVIDERS });
  });

  afterAll(() => kagzi?.close());

  describe('speedup and result order', () => {
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
        const starts = Array.from({ length: n }, (_, i) => effects.startedAt('Par.work', `${id}:b${i}`)[0]);
        const ends = Array.from({ length: n }, (_, i) => effects.endedAt('Par.work', `${id}:b${i}`)[0]);
        expect(Math.max(...starts)).toBeLessThan(Math.min(...ends));
        for (let i = 0; i < n; i++) expect(effects.count('Par.work', `${id}:b${i}`)).toBe(1);
        expect(await placement(handle.runId)).toEqual(
          Array.from({ length: n }, (_, i) => [`$parallel#1[${i}]/Par.work#1`, 'STEP', 'COMPLETED', '$parallel#1', `$parallel#1[${i}]`]),
        );
      }
    });

    it('results come back in branch order when branch 0 is the slowest', async () => {
      const id = 'order';
      const out = await (await kagzi.client.start(FanoutWorkflow, { id, ms: [450, 50, 250] })).result({ timeout: '10s' });
      expect(out.values).toEqual(['b0', 'b1', 'b2']);
      const endOf = (b: string): number => effects.endedAt('Par.work', `${id}:${b}`)[0];
      expect(endOf('b1')).toBeLessThan(endOf('b2')); // they finished in the order 1, 2, 0
      expect(endOf('b2')).toBeLessThan(endOf('b0'));
      expect(out.elapsed).toBeLessThan(750); // 450 + 50 + 250 if sequential
    });
  });

  describe('typing', () => {
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

    it('type-checks: this file and its fixtures compile, and wrong expectations about ParallelOutput do not', () => {
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
      const program = ts.createProgram({ rootNames: [__filename, FIXTURES_FILE, negativePath], options, host });
      const render = (d: ts.Diagnostic): string => {
        const where = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
        return `${d.file?.fileName ?? '?'}:${where ? where.line + 1 : '?'}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
      };
      const diagnosticsOf = (path: string): string[] => {
        const file = program.getSourceFile(path)!;
        return [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)].map(render);
      };
      expect(diagnosticsOf(__filename)).toEqual([]);
      expect(diagnosticsOf(FIXTURES_FILE)).toEqual([]); // the expectType checks of TypesWorkflow
      const errors = diagnosticsOf(negativePath);
      const lines = program.getSourceFile(negativePath)!.text.split('\n');
      const errorLines = errors.map((e) => Number(/:(\d+): /.exec(e)![1]));
      expect(errorLines.map((l) => /error (\d)/.exec(lines[l - 1])?.[1])).toEqual(['1', '2', '3', '4']);
    }, 30_000);
  });

  describe('fail-fast', () => {
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

      const signal = effects.signal('Par.hang', id)!;
      expect(signal.aborted).toBe(true);
      expect(signal.reason).toBeInstanceOf(StepError);
      expect((signal.reason as StepError).kind).toBe(ErrorKind.Cancelled);
      expect((signal.reason as StepError).message).toMatch(/Branch 1 of \$parallel#1 failed/);
      // the aborted body did return a value, while the run still held its lease (the 'after' step was running)
      const hangReturned = effects.endedAt('Par.hang', id)[0];
      expect(hangReturned).toBeLessThan(effects.endedAt('Par.work', `${id}:after`)[0]);
      expect(effects.count('Par.hang', id)).toBe(1);
      expect(effects.count('Par.boom', id)).toBe(1);

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
      await waitFor('the hanging branch to return its late result', () => effects.hasEnded('Par.hang', id));
      await delay(100);
      expect((await placement(handle.runId)).map((r) => r[0])).toEqual(['$parallel#1[1]/Par.boom#1']);
    });
  });

  describe('collect-all', () => {
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
      expect(effects.signal('Par.work', `${id}:slow`)!.aborted).toBe(false); // a failure does not abort siblings
      expect(await placement(handle.runId)).toEqual([
        ['$parallel#1[0]/Par.work#1', 'STEP', 'COMPLETED', '$parallel#1', '$parallel#1[0]'],
        ['$parallel#1[1]/Par.boom#1', 'STEP', 'FAILED', '$parallel#1', '$parallel#1[1]'],
        ['$parallel#1[2]/Par.work#1', 'STEP', 'COMPLETED', '$parallel#1', '$parallel#1[2]'],
      ]);
    });
  });

  describe('multi-step branches interleaving', () => {
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

  describe('retries inside a branch', () => {
    it('retry only the failed step; the sibling branch’s two steps run once each, in process', async () => {
      const id = 'retry';
      const handle = await kagzi.client.start(RetryWorkflow, { id });
      const statuses = sampleStatuses(handle);
      const out = await handle.result({ timeout: '10s' });
      await statuses.done;
      expect(out).toEqual([`flaky-ok-${id}-on-call-3`, ['x', 'y']]);
      expect(effects.count('Par.flaky', id)).toBe(3);
      expect(effects.count('Par.work', `${id}:x`)).toBe(1);
      expect(effects.count('Par.work', `${id}:y`)).toBe(1);
      expect(effects.runEntries('Par.Retry', id)).toBe(1); // waited in process, never replayed
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
      await waitFor('attempt 1 to fail', () => effects.hasEnded('Par.work', `${id}:quick`) && effects.count('Par.flakySlow', id) === 1);
      await waitForStatus(handle, 'SLEEPING', 2_000);
      const [parked] = await runStatus(handle.runId);
      expect(parked.lease_owner).toBeNull();
      expect(parked.due_at.getTime()).toBeGreaterThan(Date.now() + 200);
      const [waiting] = (await placedRows(handle.runId)).filter((r) => r.step_name === 'Par.flakySlow');
      expect([waiting.status, waiting.attempts, waiting.parallel_group_id, waiting.parent_step_id]).toEqual(['RUNNING', 1, '$parallel#1', '$parallel#1[0]']);

      expect(await handle.result({ timeout: '10s' })).toEqual([`slow-ok-${id}-on-call-2`, 'quick']);
      expect(effects.count('Par.flakySlow', id)).toBe(2);
      expect(effects.count('Par.work', `${id}:quick`)).toBe(1); // replayed after the park, not re-executed
      expect(effects.runEntries('Par.RetryLast', id)).toBe(2);
    });
  });

  describe('a sleeping branch next to a busy one', () => {
    it('does not park the run while the other branch’s 1 s step runs; total ≈ 1 s', async () => {
      const id = 'sleep-branch';
      const handle = await kagzi.client.start(SleepBranchWorkflow, { id });
      const statuses = sampleStatuses(handle);
      const out = await handle.result({ timeout: '10s' });
      await statuses.done;
      expect(out.values).toEqual(['after-sleep', 'long']);
      expect(statuses.seen).not.toContain('SLEEPING');
      expect(effects.runEntries('Par.SleepBranch', id)).toBe(1);
      expect(out.elapsed).toBeGreaterThanOrEqual(1_000);
      // the sleeping branch went on in process, during the long step
      const afterSleepAt = effects.startedAt('Par.work', `${id}:after-sleep`)[0];
      expect(afterSleepAt - effects.firstEntered.get(id)!).toBeGreaterThanOrEqual(300);
      expect(afterSleepAt).toBeLessThan(effects.endedAt('Par.work', `${id}:long`)[0]);
      expect(effects.count('Par.work', `${id}:long`)).toBe(1);
      expect(await placement(handle.runId)).toEqual([
        ['$parallel#1[0]/$sleep#1', 'SLEEP', 'COMPLETED', '$parallel#1', '$parallel#1[0]'],
        ['$parallel#1[0]/Par.work#1', 'STEP', 'COMPLETED', '$parallel#1', '$parallel#1[0]'],
        ['$parallel#1[1]/Par.work#1', 'STEP', 'COMPLETED', '$parallel#1', '$parallel#1[1]'],
      ]);
    });
  });

  describe('steps overlapped with a wait by Promise.all', () => {
    it('a sleep next to an executing step: the run is not parked until the step committed; the step ran once', async () => {
      const id = 'overlap-sleep';
      const handle = await kagzi.client.start(OverlapWorkflow, { id, scenario: 'sleep-first' });
      expect(await handle.result({ timeout: '10s' })).toEqual([undefined, 'charge']);
      expect(effects.count('Par.work', `${id}:charge`)).toBe(1);
    });

    it('a back-off next to an executing step: the sibling step ran once, the flaky one 3 times', async () => {
      const id = 'overlap-backoff';
      const handle = await kagzi.client.start(OverlapWorkflow, { id, scenario: 'backoff-first' });
      expect(await handle.result({ timeout: '10s' })).toEqual([`flaky-ok-${id}-on-call-3`, 'charge']);
      expect(effects.count('Par.work', `${id}:charge`)).toBe(1);
      expect(effects.count('Par.flaky', id)).toBe(3);
    });

    it('a sleep that outlasts the step: the run parks once the step committed, and the step is replayed, not re-run', async () => {
      const id = 'overlap-outlasts';
      const handle = await kagzi.client.start(OverlapWorkflow, { id, scenario: 'sleep-outlasts' });
      const statuses = sampleStatuses(handle);
      expect(await handle.result({ timeout: '10s' })).toEqual([undefined, 'charge']);
      await statuses.done;
      expect(statuses.seen).toContain('SLEEPING');
      expect(effects.count('Par.work', `${id}:charge`)).toBe(1);
      expect(effects.runEntries('Par.Overlap', id)).toBe(2);
    });

    it('a step started right after another one commits, beside a sleep: each ran once', async () => {
      const id = 'overlap-chain';
      const handle = await kagzi.client.start(OverlapWorkflow, { id, scenario: 'chain' });
      expect(await handle.result({ timeout: '10s' })).toEqual([undefined, ['first', 'second']]);
      expect(effects.count('Par.work', `${id}:first`)).toBe(1);
      expect(effects.count('Par.work', `${id}:second`)).toBe(1);
    });
  });

  describe('durations past 24.8 days (2^31 - 1 ms)', () => {
    it('a 30-day sleep in a branch parks the run for 30 days instead of waking at once', async () => {
      const id = 'long-sleep';
      const handle = await kagzi.client.start(OverlapWorkflow, { id, scenario: 'long-sleep-branch' });
      await waitForStatus(handle, 'SLEEPING');
      await delay(300);
      const [row] = await runStatus(handle.runId);
      expect(row.status).toBe('SLEEPING');
      expect(row.due_at.getTime() - Date.now()).toBeGreaterThan(29 * 86_400_000);
      expect(effects.runEntries('Par.Overlap', id)).toBe(1);
      await handle.cancel('test over');
    });

    it('@Step({ timeout: "30d" }) lets the step finish instead of timing out at once', async () => {
      const id = 'long-timeout';
      const handle = await kagzi.client.start(OverlapWorkflow, { id, scenario: 'long-timeout' });
      expect(await handle.result({ timeout: '10s' })).toBe(`patient-${id}`);
      expect(effects.count('Par.patient', id)).toBe(1);
    });
  });

  describe('misuse', () => {
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
      expect(effects.count('Par.work', 'misuse:ok')).toBe(0);
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

  describe('concurrent commits for one run', () => {
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
      const g = effects.gate(id); // all 50 bodies wait, then commit together
      const handle = await kagzi.client.start(WideWorkflow, { id, n: 50 });
      await g.entered.promise;
      await waitFor('all 50 bodies to start', () => effects.count('Par.gated.entered', id) === 50);
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
      const g = effects.gate(id);
      const handle = await kagzi.client.start(WideWorkflow, { id, n: 50 });
      await waitFor('all 50 bodies to start', () => effects.count('Par.gated.entered', id) === 50);
      const signal = effects.runSignals.get(id)!;
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
      const g = effects.gate(id);
      const handle = await kagzi.client.start(WideWorkflow, { id, n: 50 });
      await waitFor('all 50 bodies to start', () => effects.count('Par.gated.entered', id) === 50);
      // another owner takes the run (as after an expired lease); it becomes due again in 1 s
      await sql(
        db.url,
        `update kagzi.workflow_runs set lease_owner = 'intruder', lease_epoch = lease_epoch + 1, due_at = now() + interval '1 second' where id = $1`,
        [handle.runId],
      );
      g.open.resolve();
      await waitFor('the 50 fenced bodies to return', () => Array.from({ length: 50 }, (_, i) => effects.hasEnded('Par.gated', `${id}:${i}`)).every(Boolean));
      await delay(200);
      expect(await placedRows(handle.runId)).toEqual([]);
      // the worker claims it again when it is due, and runs every branch once more
      const out = await handle.result({ timeout: '10s' });
      expect(out).toEqual(Array.from({ length: 50 }, (_, i) => `w${i}-call2`));
      expect(await placement(handle.runId)).toEqual(expectedRows(50));
      expect(effects.runEntries('Par.Wide', id)).toBe(2);
    });
  });
});

// ---------------------------------------------------------------------------------------------------
// Tests across restarts (each boots its own apps; the long-lived app above is closed by now)
// ---------------------------------------------------------------------------------------------------

describe('multi-step branches interrupted by a restart', () => {
  it('resumes in a new app: each step body once except the interrupted one, results identical', async () => {
    const id = 'inter-restart';
    const g = effects.gate(`${id}:1:1`);
    const first = await bootKagzi({ url: db.url, providers: PARALLEL_PROVIDERS });
    const handle = await first.client.start(InterleaveWorkflow, { id });
    await g.entered.promise;
    await waitFor('branches 0 and 2 to finish', async () => (await placedRows(handle.runId)).length === 7);
    await first.close(); // drain times out (300 ms): the run is handed back
    expect((await runStatus(handle.runId))[0]).toMatchObject({ status: 'PENDING', lease_owner: null });
    expect(effects.signal('Par.tagged', `${id}:1:1`)!.aborted).toBe(true);
    g.open.resolve(); // the handed-back attempt finishes its body now; it must not commit
    await waitFor('the handed-back body to return', () => effects.hasEnded('Par.tagged', `${id}:1:1`));
    const handedBack = tagged(id, '1', 1);
    await delay(100);
    expect((await placedRows(handle.runId)).map((r) => r.step_key)).not.toContain('$parallel#1[1]/Par.tagged#2');

    const second = await bootKagzi({ url: db.url, providers: PARALLEL_PROVIDERS });
    try {
      const out = await second.client.getHandle<Tagged[][]>(handle.runId).result({ timeout: '10s' });
      for (const b of ['0', '1', '2']) {
        for (const j of [0, 1, 2]) expect([b, j, effects.count('Par.tagged', `${id}:${b}:${j}`)]).toEqual([b, j, b === '1' && j === 1 ? 2 : 1]);
      }
      expect(effects.runEntries('Par.Interleave', id)).toBe(2);
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

describe('nested groups with multi-step branches, replayed', () => {
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
    const kagzi = await bootKagzi({ url: db.url, providers: PARALLEL_PROVIDERS });
    try {
      const handle = await kagzi.client.start(NestedWorkflow, { id });
      uninterrupted = await handle.result({ timeout: '10s' });
      expect(tagsOf(uninterrupted)).toEqual(NESTED_TAGS);
      expect(uninterrupted).toStrictEqual(expectedOutput(id));
      expect(await placement(handle.runId)).toEqual(nestedRows(false));
      expect(effects.signal('Par.tagged', `${id}:r1:0`)!.aborted).toBe(true); // the race's loser was aborted
      expect(effects.count('Par.tagged', `${id}:r1:0`)).toBe(1);
    } finally {
      await kagzi.close();
    }
  });

  it('interrupted by a restart inside a branch after the race: each completed step executed once overall', async () => {
    const id = 'nested-restart';
    const g = effects.gate(`${id}:c:1`);
    const first = await bootKagzi({ url: db.url, providers: PARALLEL_PROVIDERS });
    const handle = await first.client.start(NestedWorkflow, { id });
    await g.entered.promise;
    await waitFor('the inner group and the race to be recorded', async () => (await placedRows(handle.runId)).length === 8);
    await first.close();
    g.open.resolve();
    await waitFor('the handed-back body to return', () => effects.hasEnded('Par.tagged', `${id}:c:1`));

    const second = await bootKagzi({ url: db.url, providers: PARALLEL_PROVIDERS });
    try {
      const out = await second.client.getHandle<NestedOutput>(handle.runId).result({ timeout: '10s' });
      expect(effects.runEntries('Par.Nested', id)).toBe(2);
      for (const subject of SUBJECTS) expect([subject, effects.count('Par.tagged', `${id}:${subject}`)]).toEqual([subject, subject === 'c:1' ? 2 : 1]);
      expect(effects.count('Par.tagged', `${id}:r1:0`)).toBe(1); // the loser is not run again on replay
      expect(tagsOf(out)).toEqual(tagsOf(uninterrupted));
      expect(out).toStrictEqual(expectedOutput(id));
      expect(await placement(handle.runId)).toEqual(nestedRows(false));
    } finally {
      await second.close();
    }
  });

  it('interrupted by a durable sleep in a nested branch (the run parks): each step executed once', async () => {
    const id = 'nested-sleep';
    const kagzi = await bootKagzi({ url: db.url, providers: PARALLEL_PROVIDERS });
    try {
      const handle = await kagzi.client.start(NestedWorkflow, { id, pause: '700ms' });
      await waitForStatus(handle, 'SLEEPING', 3_000);
      expect((await runStatus(handle.runId))[0].lease_owner).toBeNull();
      const out = await handle.result({ timeout: '10s' });
      expect(effects.runEntries('Par.Nested', id)).toBe(2);
      for (const subject of SUBJECTS) expect([subject, effects.count('Par.tagged', `${id}:${subject}`)]).toEqual([subject, 1]);
      expect(effects.count('Par.tagged', `${id}:r1:0`)).toBe(1);
      expect(tagsOf(out)).toEqual(tagsOf(uninterrupted));
      expect(out).toStrictEqual(expectedOutput(id));
      expect(await placement(handle.runId)).toEqual(nestedRows(true));
    } finally {
      await kagzi.close();
    }
  });
});

describe('a race winner is durable', () => {
  afterAll(() => {
    effects.raceReversed = false;
  });

  it('the fast branch wins; after a restart with reversed timing the replay returns the same winner and value', async () => {
    const id = 'race';
    const first = await bootKagzi({ url: db.url, providers: PARALLEL_PROVIDERS });
    const handle = await first.client.start(RaceWorkflow, { id });
    await waitForStatus(handle, 'SLEEPING', 5_000);
    const decidedRun = effects.raceSeen.get(id)!;
    expect(decidedRun).toHaveLength(1);
    const winner = decidedRun[0] as { index: number; value: { branch: number; nonce: number } };
    expect(winner.index).toBe(0);
    expect(winner.value.branch).toBe(0);
    expect(winner.value.nonce).toBeGreaterThan(0);

    // the loser was aborted, returned a late value anyway, and that value was not committed
    const loserSignal = effects.signal('Par.timed', `${id}:1`)!;
    expect(loserSignal.aborted).toBe(true);
    expect((loserSignal.reason as StepError).message).toMatch(/Branch 0 won \$race#1/);
    expect(effects.value('Par.timed', `${id}:1`)).toEqual({ branch: 1, nonce: -1, late: true });
    const rows = await placedRows(handle.runId);
    expect(rows.map((r) => [r.step_key, r.kind, r.status, r.parallel_group_id, r.parent_step_id])).toEqual([
      ['$race#1', 'GROUP', 'COMPLETED', null, null],
      ['$race#1[0]/Par.timed#1', 'STEP', 'COMPLETED', '$race#1', '$race#1[0]'],
      ['$sleep#1', 'SLEEP', 'COMPLETED', null, null],
    ]);
    expect((rows[0].output as { json: unknown }).json).toEqual({ index: 0, status: 'fulfilled' });
    await first.close();

    effects.raceReversed = true; // now branch 0 is slow and branch 1 fast
    const second = await bootKagzi({ url: db.url, providers: PARALLEL_PROVIDERS });
    try {
      const out = await second.client.getHandle<{ race: unknown; reversedAtReplay: boolean }>(handle.runId).result({ timeout: '10s' });
      expect(out.reversedAtReplay).toBe(true); // the replay did run with the reversed timing
      expect(effects.runEntries('Par.Race', id)).toBe(2);
      expect(out.race).toStrictEqual(winner);
      expect(effects.raceSeen.get(id)).toStrictEqual([winner, winner]);
      expect(effects.count('Par.timed', `${id}:0`)).toBe(1);
      expect(effects.count('Par.timed', `${id}:1`)).toBe(1);
      expect((await placedRows(handle.runId)).map((r) => r.step_key)).toEqual(['$race#1', '$race#1[0]/Par.timed#1', '$sleep#1']);
    } finally {
      await second.close();
    }
  });
});
