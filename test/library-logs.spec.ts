/**
 * The library's log lines about a run carry its run id, workflow, version and step key as structured
 * fields: with Nest's JSON logger (`new ConsoleLogger({ json: true })`) they are the record's `params`.
 * The lines are the real logger's output, read from stdout.
 */
import { ConsoleLogger, Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { KagziModule, PermanentError, RetryPolicy, Step, TransientError, Workflow, WorkflowClient, WorkflowDefinition } from '@kagzi/nestjs';
import { createTestDatabase, TestDatabase } from './support/database';
import { FAST_WORKER, waitFor } from './support/app';

@Injectable()
class Gateway {
  private calls = 0;

  @Step({ retry: RetryPolicy.fixed({ interval: '10ms', maxAttempts: 3 }) })
  async charge(): Promise<string> {
    if (++this.calls === 1) throw new TransientError('gateway busy');
    return 'charged';
  }

  @Step()
  async refund(): Promise<never> {
    throw new PermanentError('refunds are closed');
  }
}

@Workflow({ name: 'Logged', version: 3 })
class LoggedWorkflow implements WorkflowDefinition<string, string> {
  constructor(private readonly gateway: Gateway) {}
  async run(what: string): Promise<string> {
    return what === 'refund' ? this.gateway.refund() : this.gateway.charge();
  }
}

interface JsonRecord {
  level: string;
  context?: string;
  message: string;
  params?: Record<string, unknown>;
}

let db: TestDatabase;
const records: JsonRecord[] = [];

beforeAll(async () => {
  db = await createTestDatabase('library_logs');
});

afterAll(async () => {
  await db?.drop();
});

test('run lines carry runId, workflow, version and stepKey as fields of the JSON record', async () => {
  const write = process.stdout.write.bind(process.stdout);
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = String(chunk);
    if (text.startsWith('{')) {
      for (const line of text.trim().split('\n')) records.push(JSON.parse(line) as JsonRecord);
      return true;
    }
    return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
  });
  const app = await Test.createTestingModule({
    imports: [KagziModule.forRoot({ database: { url: db.url }, worker: FAST_WORKER })],
    providers: [Gateway, LoggedWorkflow],
  })
    .setLogger(new ConsoleLogger({ json: true, logLevels: ['warn', 'error'] }))
    .compile();
  try {
    await app.init();
    const client = app.get(WorkflowClient);
    const charged = await client.start(LoggedWorkflow, 'charge');
    await expect(charged.result({ timeout: '10s' })).resolves.toBe('charged');
    const refunded = await client.start(LoggedWorkflow, 'refund');
    await expect(refunded.result({ timeout: '10s' })).rejects.toThrow('refunds are closed');

    const retry = records.find((r) => r.level === 'warn' && r.message.includes('attempt 1 failed'));
    expect(retry).toMatchObject({ context: 'Kagzi', params: { runId: charged.runId, workflow: 'Logged', version: 3, stepKey: expect.stringContaining('Gateway.charge') } });
    // The worker logs the failure once it is recorded; the client may hear of the end a moment before.
    const failed = await waitFor('the failure line', () => records.find((r) => r.level === 'warn' && r.message.includes('failed: [')));
    expect(failed).toMatchObject({ context: 'Kagzi', params: { runId: refunded.runId, workflow: 'Logged', version: 3 } });
    expect(failed?.params).not.toHaveProperty('stepKey');
  } finally {
    await app.close();
    spy.mockRestore();
  }
});
