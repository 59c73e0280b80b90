import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { Duration, RetryPolicy, Step, TransientError, Workflow, WorkflowContext, WorkflowDefinition } from '@kagzi/nestjs';

/**
 * The workflow the targets are stated for: three trivial steps in sequence, so every
 * figure measures Kagzi's own overhead (queue, lease, step commits, result delivery), not user code.
 */
@Workflow({ name: 'BenchThreeSteps' })
export class ThreeStepWorkflow implements WorkflowDefinition<{ n: number }, number> {
  async run(input: { n: number }): Promise<number> {
    const a = await this.validate(input.n);
    const b = await this.reserve(a);
    return this.confirm(b);
  }

  @Step()
  async validate(n: number): Promise<number> {
    return n + 1;
  }

  @Step()
  async reserve(n: number): Promise<number> {
    return n * 2;
  }

  @Step()
  async confirm(n: number): Promise<number> {
    return n - 1;
  }
}

/** ThreeStepWorkflow with transactional steps: each body runs in a transaction that also commits its record. */
@Workflow({ name: 'BenchThreeTxSteps' })
export class ThreeTxStepWorkflow implements WorkflowDefinition<{ n: number }, number> {
  async run(input: { n: number }): Promise<number> {
    const a = await this.validate(input.n);
    const b = await this.reserve(a);
    return this.confirm(b);
  }

  @Step({ transactional: true })
  async validate(n: number): Promise<number> {
    return n + 1;
  }

  @Step({ transactional: true })
  async reserve(n: number): Promise<number> {
    return n * 2;
  }

  @Step({ transactional: true })
  async confirm(n: number): Promise<number> {
    return n - 1;
  }
}

export interface LoopInput {
  /** How many times the step is called (keys `LoopWorkflow.add#1` … `#steps`). */
  steps: number;
  /** Optional durable sleep after the steps: the run parks (SLEEPING) and resumes by replay. */
  sleep?: Duration;
}

/** `steps` calls of one trivial step, then optionally a durable sleep: per-step cost and replay cost. */
@Workflow({ name: 'BenchLoop' })
export class LoopWorkflow implements WorkflowDefinition<LoopInput, number> {
  async run(input: LoopInput, ctx: WorkflowContext): Promise<number> {
    let total = 0;
    for (let i = 0; i < input.steps; i++) total = await this.add(total, i);
    if (input.sleep !== undefined) await ctx.sleep(input.sleep);
    return total;
  }

  @Step()
  async add(total: number, i: number): Promise<number> {
    return total + i;
  }
}

/**
 * The `retry` scenario's A/B pair: `steps` calls of one trivial step that carries a retry policy
 * (exponential back-off, the library's defaults) or explicitly none. Same step name, so both record
 * identical keys and rows; only the policy differs.
 */
@Workflow({ name: 'BenchLoopExponential' })
export class LoopExponentialWorkflow implements WorkflowDefinition<{ steps: number }, number> {
  async run(input: { steps: number }): Promise<number> {
    let total = 0;
    for (let i = 0; i < input.steps; i++) total = await this.add(total, i);
    return total;
  }

  @Step({ name: 'add', retry: RetryPolicy.exponential() })
  async add(total: number, i: number): Promise<number> {
    return total + i;
  }
}

@Workflow({ name: 'BenchLoopNoRetry' })
export class LoopNoRetryWorkflow implements WorkflowDefinition<{ steps: number }, number> {
  async run(input: { steps: number }): Promise<number> {
    let total = 0;
    for (let i = 0; i < input.steps; i++) total = await this.add(total, i);
    return total;
  }

  @Step({ name: 'add', retry: RetryPolicy.none() })
  async add(total: number, i: number): Promise<number> {
    return total + i;
  }
}

export interface RetryOnceInput {
  /** Unique per run: the flaky step fails the first time it sees a token. */
  token: string;
  /** false: the same three steps with no failure (the baseline). */
  fail: boolean;
}

/** Tokens whose first attempt has already failed, in this process (a step body cannot see its attempt number). */
const failedOnce = new Set<string>();

/**
 * Three trivial steps; with `fail`, the middle one throws a TransientError on its first attempt and
 * succeeds on the second. Interval 0: the retry is due at once, so the figure is the cycle's own cost
 * (record the attempt and park, re-claim, load the steps, replay, attempt 2), not a back-off wait.
 */
@Workflow({ name: 'BenchRetryOnce' })
export class RetryOnceWorkflow implements WorkflowDefinition<RetryOnceInput, number> {
  async run(input: RetryOnceInput): Promise<number> {
    const a = await this.before(1);
    const b = await this.flaky(a, input.token, input.fail);
    return this.after(b);
  }

  @Step()
  async before(n: number): Promise<number> {
    return n + 1;
  }

  @Step({ retry: RetryPolicy.fixed({ maxAttempts: 2, interval: 0 }) })
  async flaky(n: number, token: string, fail: boolean): Promise<number> {
    if (fail && !failedOnce.has(token)) {
      failedOnce.add(token);
      throw new TransientError('bench: the first attempt fails on purpose');
    }
    failedOnce.delete(token);
    return n * 2;
  }

  @Step()
  async after(n: number): Promise<number> {
    return n - 1;
  }
}

export interface TimedStepsInput {
  /** How many times the step is called (keys `TimedStepsWorkflow.wait#1` … in sequence, `$parallel#1[i]/TimedStepsWorkflow.wait#1` in parallel). */
  steps: number;
  /** false: one step after another; true: every step in its own branch of one `ctx.parallel` group. */
  parallel: boolean;
  /** How long each step body waits on a timer (no CPU, no I/O: stands for a call to another service). */
  ms: number;
}

/**
 * The `parallel` scenario's workflow: `steps` calls of a step whose body awaits a timer of `ms`,
 * either in sequence or all at once through `ctx.parallel` (fail-fast, the default). Ideally the
 * sequential run takes steps × ms and the parallel one ms; the rest is Kagzi's cost.
 */
@Workflow({ name: 'BenchTimedSteps' })
export class TimedStepsWorkflow implements WorkflowDefinition<TimedStepsInput, number> {
  async run(input: TimedStepsInput, ctx: WorkflowContext): Promise<number> {
    if (input.parallel) {
      const values = await ctx.parallel(Array.from({ length: input.steps }, (_, i) => () => this.wait(i, input.ms)));
      return values.reduce((a, b) => a + b, 0);
    }
    let total = 0;
    for (let i = 0; i < input.steps; i++) total += await this.wait(i, input.ms);
    return total;
  }

  @Step()
  async wait(i: number, ms: number): Promise<number> {
    await delay(ms);
    return i;
  }
}

/**
 * When the body of `BenchSignalWait`'s step after the wait started (`performance.now()`), by the run's
 * token. The bench and the worker share one process, so the scenario reads it here.
 */
export const signalStepStarts = new Map<string, number>();

/**
 * The `signal` scenario's workflow: waits for the signal `go` (the run parks WAITING with its slot
 * freed), then one trivial step whose body records when it started. The timeout only keeps a run whose
 * signal never came from waiting forever; no measured run reaches it.
 */
@Workflow({ name: 'BenchSignalWait' })
export class SignalWaitWorkflow implements WorkflowDefinition<{ token: string }, number> {
  async run(input: { token: string }, ctx: WorkflowContext): Promise<number> {
    const n = await ctx.waitForSignal<number>('go', { timeout: '10m' });
    return this.afterSignal(input.token, n ?? -1);
  }

  @Step()
  async afterSignal(token: string, n: number): Promise<number> {
    signalStepStarts.set(token, performance.now());
    return n + 1;
  }
}

/** The `child` scenario's child runs' ids, by the token the parent passed (the bench and the worker share one process). */
export const childRunIds = new Map<string, string>();

/** The `child` scenario's child: the same one trivial step as `BenchInlineStep`; records its own run id. */
@Workflow({ name: 'BenchChildWork' })
export class ChildWorkWorkflow implements WorkflowDefinition<{ token: string; n: number }, number> {
  async run(input: { token: string; n: number }, ctx: WorkflowContext): Promise<number> {
    childRunIds.set(input.token, ctx.runId);
    return this.work(input.n);
  }

  @Step({ name: 'work' })
  async work(n: number): Promise<number> {
    return n + 1;
  }
}

/** The `child` scenario's A: a parent that calls one trivial step inline. */
@Workflow({ name: 'BenchInlineStep' })
export class InlineStepWorkflow implements WorkflowDefinition<{ token: string; n: number }, number> {
  async run(input: { token: string; n: number }): Promise<number> {
    return this.work(input.n);
  }

  @Step({ name: 'work' })
  async work(n: number): Promise<number> {
    return n + 1;
  }
}

/** The `child` scenario's B: a parent whose only work is `ctx.executeChild(BenchChildWork)` (the same step, in the child). */
@Workflow({ name: 'BenchChildParent' })
export class ChildParentWorkflow implements WorkflowDefinition<{ token: string; n: number }, number> {
  async run(input: { token: string; n: number }, ctx: WorkflowContext): Promise<number> {
    return ctx.executeChild(ChildWorkWorkflow, input);
  }
}

export const BENCH_WORKFLOWS = [
  ThreeStepWorkflow,
  ThreeTxStepWorkflow,
  LoopWorkflow,
  LoopExponentialWorkflow,
  LoopNoRetryWorkflow,
  RetryOnceWorkflow,
  TimedStepsWorkflow,
  SignalWaitWorkflow,
  ChildWorkWorkflow,
  InlineStepWorkflow,
  ChildParentWorkflow,
];
