/**
 * apps/examples/transactions: a transactional step (`@Step({ transactional: true })` + stepTransaction())
 * on the app's TypeORM DataSource, shared with Kagzi. Rows are counted: an attempt that fails after its
 * writes leaves none, the retry (skipped with the clock) writes them once, and a refused transfer none.
 */
import { KagziTesting } from '@kagzi/nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { ledgerDataSourceOptions } from '../../apps/examples/transactions/src/ledger-data-source';
import { Account, LedgerEntry } from '../../apps/examples/transactions/src/ledger.entities';
import { LedgerService } from '../../apps/examples/transactions/src/ledger.service';
import { TransactionsModule } from '../../apps/examples/transactions/src/transactions.module';
import { TransferWorkflow } from '../../apps/examples/transactions/src/transfer.workflow';
import { createTestDatabase, TestDatabase } from '../support/database';

let db: TestDatabase;
let dataSource: DataSource;
let kt: KagziTesting;
let ledger: LedgerService;

beforeAll(async () => {
  db = await createTestDatabase('example_transactions');
  dataSource = await new DataSource(ledgerDataSourceOptions(db.url)).initialize();
  kt = await KagziTesting.create({
    // the app's DataSource, given to TypeORM's module and to Kagzi: one pool, the app's entities in stepTransaction()
    imports: [TypeOrmModule.forRootAsync({ useFactory: () => ({}), dataSourceFactory: () => Promise.resolve(dataSource) }), TransactionsModule],
    options: { database: { dataSource } },
  });
  ledger = kt.app.get(LedgerService);
});

beforeEach(async () => {
  await ledger.openAccount('alice', 10_000);
  await ledger.openAccount('bob', 0);
});

afterAll(async () => {
  await kt?.close();
  if (dataSource?.isInitialized) await dataSource.destroy(); // TypeOrmModule closes it with the app
  await db?.drop();
});

const balances = async () => Object.fromEntries((await dataSource.getRepository(Account).find()).map((a) => [a.id, a.balance]));
const entries = (transferId: string) => dataSource.getRepository(LedgerEntry).countBy({ transferId });

test('a transfer commits its rows with the step record: one entry, balances moved once', async () => {
  const handle = await kt.client.start(TransferWorkflow, { transferId: 't-ok', from: 'alice', to: 'bob', cents: 2_500 });
  await expect(handle.result({ timeout: '5s' })).resolves.toMatchObject({ transferId: 't-ok', fromBalance: 7_500 });
  expect(await entries('t-ok')).toBe(1);
  expect(await balances()).toEqual({ alice: 7_500, bob: 2_500 });
});

test("an attempt that fails after its writes is rolled back; the retry's rows are the only ones", async () => {
  ledger.failAfterWrites.add('t-retry');
  const handle = await kt.client.start(TransferWorkflow, { transferId: 't-retry', from: 'alice', to: 'bob', cents: 1_000 });
  await kt.waitForStatus(handle, 'SLEEPING'); // parked for the retry's 1 s back-off
  expect(await entries('t-retry')).toBe(0); // the first attempt's writes are gone
  expect(await balances()).toEqual({ alice: 10_000, bob: 0 });
  await kt.clock.advance('1s');
  const result = await handle.result({ timeout: '5s' });
  expect(await entries('t-retry')).toBe(1);
  expect(await balances()).toEqual({ alice: 9_000, bob: 1_000 });
  const step = (await kt.client.getRun(handle.runId)).steps.find((s) => s.name === 'LedgerService.transfer')!;
  expect(step.attempts.map((a) => a.error?.message ?? 'ok')).toEqual(['connection lost after the writes', 'ok']);
  expect(ledger.receipts).toContain(`t-retry:${result.entryId}`);
});

test('insufficient funds is a PermanentError: nothing written, no retry', async () => {
  const handle = await kt.client.start(TransferWorkflow, { transferId: 't-broke', from: 'bob', to: 'alice', cents: 1 });
  await expect(handle.result({ timeout: '5s' })).rejects.toMatchObject({ error: { code: 'INSUFFICIENT_FUNDS' } });
  expect(await entries('t-broke')).toBe(0);
  expect(await balances()).toEqual({ alice: 10_000, bob: 0 });
});
