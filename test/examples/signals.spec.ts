/**
 * apps/examples/signals: a human approval, ctx.waitForSignal with a 3-day timeout answered by
 * client.signal, and the timeout itself skipped with the test clock.
 */
import { KagziTesting } from '@kagzi/nestjs/testing';
import { DECISION, ExpenseApprovalWorkflow } from '../../apps/examples/signals/src/expense-approval.workflow';
import { ExpenseService } from '../../apps/examples/signals/src/expense.services';
import { SignalsModule } from '../../apps/examples/signals/src/signals.module';
import { createTestDatabase, TestDatabase } from '../support/database';

let db: TestDatabase;
let kt: KagziTesting;
let expenses: ExpenseService;

beforeAll(async () => {
  db = await createTestDatabase('example_signals');
  kt = await KagziTesting.create({ imports: [SignalsModule], options: { database: { url: db.url } } });
  expenses = kt.app.get(ExpenseService);
});

afterAll(async () => {
  await kt?.close();
  await db?.drop();
});

const claim = (claimId: string) => ({ claimId, cents: 12900, approver: 'alice' });

test('an approval signal wakes the waiting run, which pays the claim', async () => {
  const handle = await kt.client.start(ExpenseApprovalWorkflow, claim('exp-ok'));
  await kt.waitForStatus(handle, 'WAITING');
  expect(await kt.client.getEvent(handle.runId, 'stage')).toBe('awaiting-approval');
  await kt.client.signal(handle.runId, DECISION, { approved: true, by: 'alice' });
  await expect(handle.result({ timeout: '5s' })).resolves.toEqual({ claimId: 'exp-ok', status: 'paid', payoutId: 'payout-exp-ok-12900', approvedBy: 'alice' });
  expect(expenses.paid).toEqual(['exp-ok']);
  expect(await kt.client.getEvent(handle.runId, 'stage')).toBe('approved');
  const run = await kt.client.getRun(handle.runId);
  expect(run.signals).toEqual([expect.objectContaining({ name: DECISION, payload: { approved: true, by: 'alice' }, consumedAt: expect.any(Date) })]);
});

test('a rejection ends the claim without paying', async () => {
  const handle = await kt.client.start(ExpenseApprovalWorkflow, claim('exp-no'));
  await kt.waitForStatus(handle, 'WAITING');
  await kt.client.signal(handle.runId, DECISION, { approved: false, by: 'bob' });
  await expect(handle.result({ timeout: '5s' })).resolves.toEqual({ claimId: 'exp-no', status: 'rejected', by: 'bob' });
  expect(expenses.paid).not.toContain('exp-no');
});

test('with no decision, the 3-day timeout (skipped with the clock) expires the claim', async () => {
  const handle = await kt.client.start(ExpenseApprovalWorkflow, claim('exp-late'));
  await kt.waitForStatus(handle, 'WAITING');
  await kt.clock.advance('2d');
  expect(await handle.status()).toBe('WAITING'); // one day left
  await kt.clock.advance('1d');
  await expect(handle.result({ timeout: '5s' })).resolves.toEqual({ claimId: 'exp-late', status: 'expired' });
  expect(expenses.sent).toContain('claimant of exp-late: no decision within 3 days: please resubmit');
  expect(expenses.paid).not.toContain('exp-late');
  // a decision that comes too late is refused: the run has ended
  await expect(kt.client.signal(handle.runId, DECISION, { approved: true, by: 'alice' })).rejects.toMatchObject({ name: 'RunNotActiveError' });
});
