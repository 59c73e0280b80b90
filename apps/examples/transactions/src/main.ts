import 'reflect-metadata';
import { DynamicModule, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { KagziModule, startEmbeddedPostgres, WorkflowClient } from '@kagzi/nestjs';
import { ledgerDataSourceOptions } from './ledger-data-source';
import { LedgerEntry } from './ledger.entities';
import { LedgerService } from './ledger.service';
import { TransactionsModule } from './transactions.module';
import { TransferWorkflow } from './transfer.workflow';

@Module({})
class AppModule {
  /** The app's DataSource first, then Kagzi on it (the same pool, the app's entities in stepTransaction()). */
  static forUrl(url: string): DynamicModule {
    return {
      module: AppModule,
      imports: [
        TypeOrmModule.forRoot(ledgerDataSourceOptions(url)),
        KagziModule.forRootAsync({ useFactory: (dataSource: DataSource) => ({ database: { dataSource } }), inject: [DataSource] }),
        TransactionsModule,
      ],
    };
  }
}

async function main(): Promise<void> {
  // The URL is needed before Nest builds TypeORM: DATABASE_URL, else an embedded PostgreSQL under .kagzi/.
  const embedded = process.env.DATABASE_URL ? undefined : await startEmbeddedPostgres({ dataDir: '.kagzi' });
  const app = await NestFactory.createApplicationContext(AppModule.forUrl(process.env.DATABASE_URL ?? embedded!.url), { logger: ['warn', 'error'] });
  try {
    const ledger = app.get(LedgerService);
    await ledger.openAccount('alice', 10_000);
    await ledger.openAccount('bob', 0);
    const transferId = `tr-${Date.now()}`;
    ledger.failAfterWrites.add(transferId); // the first attempt's rows are rolled back; the retry (1 s later) commits
    const handle = await app.get(WorkflowClient).start(TransferWorkflow, { transferId, from: 'alice', to: 'bob', cents: 2_500 });
    console.log('result:', await handle.result({ timeout: '1m' }));
    const entries = await app.get(DataSource).getRepository(LedgerEntry).countBy({ transferId });
    console.log(`ledger entries for ${transferId}: ${entries}`);
  } finally {
    await app.close();
    await embedded?.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
