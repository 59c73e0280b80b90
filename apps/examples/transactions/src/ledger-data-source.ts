import type { DataSourceOptions } from 'typeorm';
import { Account, LedgerEntry } from './ledger.entities';

/**
 * The app's DataSource, which Kagzi shares (`database: { dataSource }`): one pool for both, and the
 * transactional steps' EntityManager knows the app's entities. `synchronize` keeps the example short; a
 * real app runs its own migrations.
 */
export function ledgerDataSourceOptions(url: string): DataSourceOptions {
  return { type: 'postgres', url, entities: [Account, LedgerEntry], synchronize: true, applicationName: 'kagzi-example-transactions', extra: { max: 15 } };
}
