import { DynamicModule, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { TypeOrmModule } from '@nestjs/typeorm';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { DataSource } from 'typeorm';
import { KagziDashboardModule, KagziModule } from '@kagzi/nestjs';
import { demoDataSourceOptions } from './database/demo-data-source';
import { HealthController } from './health/health.controller';
import { MetricsModule } from './metrics/metrics.module';
import { OrdersModule } from './orders/orders.module';

export interface AppModuleOptions {
  /** The PostgreSQL both the app's tables and Kagzi's live in (see database/demo-database.ts). */
  databaseUrl: string;
  /**
   * For the HTTP app (`npm start`): adds `GET /metrics`, served from this exporter (the reader of the
   * MeterProvider that telemetry.ts registers), and the dashboard at /kagzi (open: this is a demo; put a
   * guard or `readOnly: true` in front of it anywhere else). The batch demo (`npm run demo`) leaves it out.
   */
  metrics?: PrometheusExporter;
}

@Module({})
export class AppModule {
  static forRoot(options: AppModuleOptions): DynamicModule {
    const http = options.metrics ? [MetricsModule.forRoot(options.metrics), KagziDashboardModule.forRoot({ path: '/kagzi' })] : [];
    return {
      module: AppModule,
      imports: [
        // The app's TypeORM setup (orders, stock) ...
        TypeOrmModule.forRoot(demoDataSourceOptions(options.databaseUrl)),
        // ... which Kagzi shares: one pool, and runs can start inside the app's transactions (docs/transactions.md).
        KagziModule.forRootAsync({ inject: [DataSource], useFactory: (dataSource: DataSource) => ({ database: { dataSource } }) }),
        TerminusModule,
        OrdersModule,
        ...http,
      ],
      controllers: [HealthController],
    };
  }
}
