/**
 * apps/examples/retries: a charge retried with exponential back-off, errors classified by the module's
 * classifyError hook and the built-in rules, a PermanentError and a declined card never retried. The
 * back-offs are skipped with the test clock.
 */
import { ErrorKind, WorkflowHandle } from '@kagzi/nestjs';
import { KagziTesting } from '@kagzi/nestjs/testing';
import { ChargeResult, ChargeWorkflow } from '../../apps/examples/retries/src/charge.workflow';
import { classifyGatewayError } from '../../apps/examples/retries/src/classify-gateway-error';
import { PaymentGateway } from '../../apps/examples/retries/src/payment-gateway';
import { RetriesModule } from '../../apps/examples/retries/src/retries.module';
import { createTestDatabase, TestDatabase } from '../support/database';

let db: TestDatabase;
let kt: KagziTesting;
let gateway: PaymentGateway;

beforeAll(async () => {
  db = await createTestDatabase('example_retries');
  kt = await KagziTesting.create({ imports: [RetriesModule], options: { database: { url: db.url }, classifyError: classifyGatewayError } });
  gateway = kt.app.get(PaymentGateway);
});

afterAll(async () => {
  await kt?.close();
  await db?.drop();
});

/** Skips each back-off as soon as the run parks for it, until the run has ended. */
async function resultSkippingBackoffs(handle: WorkflowHandle<ChargeResult>): Promise<ChargeResult> {
  for (let i = 0; i < 20; i++) {
    const status = await handle.status();
    if (status === 'COMPLETED' || status === 'FAILED') break;
    if (status === 'SLEEPING') await kt.clock.advance('1m');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return handle.result({ timeout: '5s' });
}

test('a rate limit (classified by the hook) and a network timeout (built-in rule) are retried, then the charge succeeds', async () => {
  gateway.script('ord-flaky', ['rate_limit', 'timeout', 'ok']);
  const handle = await kt.client.start(ChargeWorkflow, { orderId: 'ord-flaky', cents: 4200 });
  await expect(resultSkippingBackoffs(handle)).resolves.toMatchObject({ orderId: 'ord-flaky', status: 'paid' });
  const run = await kt.client.getRun(handle.runId);
  const attempts = run.steps.find((s) => s.name === 'PaymentsService.charge')!.attempts;
  expect(attempts.map((a) => a.error?.kind ?? 'ok')).toEqual([ErrorKind.RateLimited, ErrorKind.NetworkError, 'ok']);
  expect(gateway.calls.filter((c) => c === 'ord-flaky')).toHaveLength(3);
});

test('a declined card is classified as a business error by the hook: one attempt, and the workflow handles it', async () => {
  gateway.script('ord-declined', ['card_declined']);
  const handle = await kt.client.start(ChargeWorkflow, { orderId: 'ord-declined', cents: 4200 });
  await expect(handle.result({ timeout: '5s' })).resolves.toEqual({ orderId: 'ord-declined', status: 'declined', reason: 'the card was declined' });
  const run = await kt.client.getRun(handle.runId);
  expect(run.steps[0].attempts).toHaveLength(1);
  expect(run.steps[0].error).toMatchObject({ kind: ErrorKind.BusinessLogicError, retryable: false });
});

test('a PermanentError is never retried and fails the run with its kind and code', async () => {
  const handle = await kt.client.start(ChargeWorkflow, { orderId: 'ord-zero', cents: 0 });
  await expect(handle.result({ timeout: '5s' })).rejects.toMatchObject({ error: { name: 'PermanentError', kind: ErrorKind.InvalidInput, code: 'BAD_AMOUNT' } });
  expect(gateway.calls).not.toContain('ord-zero');
  const run = await kt.client.getRun(handle.runId);
  expect(run.steps[0].attempts).toHaveLength(1);
});

test('a gateway that keeps rate-limiting exhausts maxAttempts (5) and fails the run', async () => {
  gateway.script('ord-down', ['rate_limit']);
  const handle = await kt.client.start(ChargeWorkflow, { orderId: 'ord-down', cents: 100 });
  await expect(resultSkippingBackoffs(handle)).rejects.toMatchObject({ error: { kind: ErrorKind.RateLimited } });
  expect(gateway.calls.filter((c) => c === 'ord-down')).toHaveLength(5);
});
