import type { DataSourceOptions } from 'typeorm';
import { DemoOrders1764200000001 } from './migrations/1764200000001-demo-orders';
import { Order } from './order.entity';
import { StockLevel, StockReservation } from './stock.entity';

/**
 * The order app's TypeORM DataSource. Kagzi shares it (`database: { dataSource }`): one pool for the app's
 * queries and Kagzi's, so it is sized for both: the worker's concurrency (10 by default) plus heartbeat and
 * claims, plus the HTTP handlers. The app's tables are created by its own migration, run at boot.
 */
export function demoDataSourceOptions(url: string): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    applicationName: 'kagzi-demo',
    entities: [Order, StockLevel, StockReservation],
    migrations: [DemoOrders1764200000001],
    migrationsTableName: 'demo_migrations',
    migrationsRun: true,
    extra: { max: 20 },
  };
}
