/**
 * What a parallel branch's failure looks like when the branch itself throws (not a step in it): it is
 * classified like a step's failure, the module's classifyError hook first.
 */
import { ErrorKind, Settled, Workflow, WorkflowContext, WorkflowDefinition } from '@kagzi/nestjs';
import { createTestDatabase, TestDatabase } from './support/database';
import { bootKagzi, closeAllApps } from './support/app';

/** A client library's own error class, which only the app's hook knows how to classify. */
class QuotaExceededError extends Error {
  constructor() {
    super('quota exceeded');
    this.name = 'QuotaExceededError';
  }
}

@Workflow({ name: 'Branches.Quota' })
class QuotaWorkflow implements WorkflowDefinition<Record<string, never>, Array<{ status: string; kind?: string; message?: string }>> {
  async run(_input: Record<string, never>, ctx: WorkflowContext): Promise<Array<{ status: string; kind?: string; message?: string }>> {
    const settled: Settled<string>[] = await ctx.parallel(
      [
        async () => 'fine',
        async (): Promise<string> => {
          throw new QuotaExceededError();
        },
      ],
      { strategy: 'collect-all' },
    );
    return settled.map((s) => (s.status === 'fulfilled' ? { status: s.status } : { status: s.status, kind: s.error.kind, message: s.error.message }));
  }
}

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('branch_errors');
});

afterAll(async () => {
  await closeAllApps();
  await db?.drop();
});

it('a branch that throws is classified with the module classifyError hook, like a step', async () => {
  const kagzi = await bootKagzi({
    url: db.url,
    providers: [QuotaWorkflow],
    classifyError: (err) => (err instanceof QuotaExceededError ? ErrorKind.RateLimited : undefined),
  });
  const handle = await kagzi.client.start(QuotaWorkflow, {});
  expect(await handle.result({ timeout: '10s' })).toEqual([
    { status: 'fulfilled' },
    { status: 'rejected', kind: ErrorKind.RateLimited, message: 'quota exceeded' },
  ]);
});
