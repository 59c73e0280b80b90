import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ErrorKind, PermanentError, RetryPolicy, Step, stepTransaction, TransientError } from '@kagzi/nestjs';
import { Account, LedgerEntry } from './ledger.entities';

export interface Transfer {
  transferId: string;
  from: string;
  to: string;
  cents: number;
}

@Injectable()
export class LedgerService {
  /** Transfers whose next attempt fails after its writes (a connection lost before COMMIT, say). */
  readonly failAfterWrites = new Set<string>();
  readonly receipts: string[] = [];

  constructor(private readonly dataSource: DataSource) {}

  /** Not a step: setup for the example and its test. */
  async openAccount(id: string, balance: number): Promise<void> {
    await this.dataSource.getRepository(Account).upsert({ id, balance }, ['id']);
  }

  /**
   * The body's writes (through stepTransaction()) and the step's completion record commit together or not
   * at all: an attempt that throws leaves no row behind, and a completed transfer is never written twice.
   */
  @Step({ transactional: true, retry: RetryPolicy.fixed({ maxAttempts: 3, interval: '1s' }) })
  async transfer(t: Transfer): Promise<{ entryId: string; fromBalance: number }> {
    const manager = stepTransaction();
    const from = await manager.findOne(Account, { where: { id: t.from }, lock: { mode: 'pessimistic_write' } });
    if (!from) throw new PermanentError(`no account ${t.from}`, { kind: ErrorKind.NotFound, code: 'NO_ACCOUNT' });
    if (from.balance < t.cents) throw new PermanentError('insufficient funds', { kind: ErrorKind.BusinessLogicError, code: 'INSUFFICIENT_FUNDS', context: { ...t } });
    await manager.decrement(Account, { id: t.from }, 'balance', t.cents);
    await manager.increment(Account, { id: t.to }, 'balance', t.cents);
    const entry = await manager.save(LedgerEntry, manager.create(LedgerEntry, { transferId: t.transferId, from: t.from, to: t.to, cents: t.cents }));
    if (this.failAfterWrites.delete(t.transferId)) throw new TransientError('connection lost after the writes');
    return { entryId: entry.id, fromBalance: from.balance - t.cents };
  }

  /** A plain step: an outside call, once per attempt, outside any transaction. */
  @Step()
  async sendReceipt(transferId: string, entryId: string): Promise<void> {
    this.receipts.push(`${transferId}:${entryId}`);
  }
}
