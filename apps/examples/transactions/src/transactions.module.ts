import { Module } from '@nestjs/common';
import { LedgerService } from './ledger.service';
import { TransferWorkflow } from './transfer.workflow';

/** Needs the app's TypeORM DataSource (TypeOrmModule, global) shared with KagziModule: see main.ts. */
@Module({ providers: [LedgerService, TransferWorkflow] })
export class TransactionsModule {}
