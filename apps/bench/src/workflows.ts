import { Duration, Step, Workflow, WorkflowContext, WorkflowDefinition } from '@kagzi/nestjs';

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

export interface LoopInput {
  /** How many times the step is called (keys `BenchLoop.add#1` … `#steps`). */
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

export const BENCH_WORKFLOWS = [ThreeStepWorkflow, LoopWorkflow];
