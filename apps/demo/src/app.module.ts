import { DynamicModule, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { KagziDashboardModule, KagziModule } from '@kagzi/nestjs';
import { HealthController } from './health/health.controller';
import { MetricsModule } from './metrics/metrics.module';
import { OrdersModule } from './orders/orders.module';

@Module({
  imports: [
    // No database options: KAGZI_DATABASE_URL / DATABASE_URL if set, else an embedded PostgreSQL under ./.kagzi
    KagziModule.forRoot(),
    TerminusModule,
    OrdersModule,
  ],
  controllers: [HealthController],
})
export class AppModule {
  /**
   * The HTTP app (`npm start`): AppModule plus `GET /metrics`, served from `exporter` (the reader of the
   * MeterProvider that telemetry.ts registers), and the dashboard at /kagzi (open: this is a demo; put a
   * guard or `readOnly: true` in front of it anywhere else). The batch demo (`npm run demo`) boots plain AppModule.
   */
  static http(exporter: PrometheusExporter): DynamicModule {
    return { module: AppModule, imports: [MetricsModule.forRoot(exporter), KagziDashboardModule.forRoot({ path: '/kagzi' })] };
  }
}
