/**
 * ctx.logger (SPEC §5.3): a line is written when the workflow code passes that point for the first
 * time, never again when the run replays its history (after a park, a crash, a retry). The lines are
 * captured from Nest's logger and counted.
 */
import { ConsoleLogger, Injectable } from '@nestjs/common';
import { Step, Workflow, WorkflowContext, WorkflowDefinition } from '@kagzi/nestjs';
import { createTestDatabase, TestDatabase } from './support/database';
import { bootKagzi, closeAllApps, KagziTestApp } from './support/app';

const lines: string[] = [];

/** Nest's logger, keeping every line the workflows write (their context is the workflow name). */
class CapturingLogger extends ConsoleLogger {
  override log(message: unknown, context?: string): void {
    if (context?.startsWith('Logger.')) lines.push(String(message));
  }
  override warn(message: unknown, context?: string): void {
    if (context?.startsWith('Logger.')) lines.push(`WARN ${String(message)}`);
  }
}

@Injectable()
class Tasks {
  @Step({ name: 'Tasks.enqueue' })
  async enqueue(n: number): Promise<number> {
    return n;
  }
}

/** The ported sample: "Enqueueing tasks!" printed once per replay before; once in all now. */
@Workflow({ name: 'Logger.Queue' })
class QueueWorkflow implements WorkflowDefinition<{ id: string }, number> {
  constructor(private readonly tasks: Tasks) {}
  async run(input: { id: string }, ctx: WorkflowContext): Promise<number> {
    ctx.logger.log(`Enqueueing tasks! ${input.id}`);
    let total = 0;
    for (let i = 0; i < 5; i++) {
      total += await this.tasks.enqueue(i);
      ctx.logger.log(`enqueued ${i} ${input.id}`);
      await ctx.sleep('20ms'); // parks: every round replays what came before
    }
    await ctx.parallel([
      async () => ctx.logger.warn(`branch a ${input.id}`),
      async () => {
        await this.tasks.enqueue(9);
        ctx.logger.log(`branch b ${input.id}`);
      },
    ]);
    ctx.logger.log(`done ${input.id}`);
    return total;
  }
}

let db: TestDatabase;
let kagzi: KagziTestApp;

beforeAll(async () => {
  db = await createTestDatabase('workflow_logger');
  kagzi = await bootKagzi({ url: db.url, providers: [Tasks, QueueWorkflow] });
  kagzi.app.useLogger(new CapturingLogger());
});

afterAll(async () => {
  await closeAllApps();
  await db?.drop();
});

it('writes each line once across six replays, with the run and workflow in it', async () => {
  const handle = await kagzi.client.start(QueueWorkflow, { id: 'q1' });
  expect(await handle.result({ timeout: '20s' })).toBe(10);
  const mine = lines.filter((l) => l.includes('q1'));
  expect(mine.filter((l) => l.includes('Enqueueing tasks!'))).toHaveLength(1);
  for (let i = 0; i < 5; i++) expect(mine.filter((l) => l.includes(`enqueued ${i} q1`))).toHaveLength(1);
  expect(mine.filter((l) => l.includes('branch a q1'))).toEqual([expect.stringMatching(/^WARN /)]);
  expect(mine.filter((l) => l.includes('branch b q1'))).toHaveLength(1);
  expect(mine.filter((l) => l.includes('done q1'))).toHaveLength(1);
  expect(mine).toHaveLength(9);
  for (const line of mine) expect(line).toContain(`Run ${handle.runId} (Logger.Queue v1): `);
});
