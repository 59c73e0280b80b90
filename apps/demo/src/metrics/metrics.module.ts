import { DynamicModule, Module } from '@nestjs/common';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { MetricsController } from './metrics.controller';

/** GET /metrics: serves the given exporter (the reader of the registered MeterProvider, see telemetry.ts). */
@Module({})
export class MetricsModule {
  static forRoot(exporter: PrometheusExporter): DynamicModule {
    return {
      module: MetricsModule,
      controllers: [MetricsController],
      providers: [
        { provide: PrometheusExporter, useValue: exporter },
        // The exporter's default options (no prefix, no timestamps, scope labels and target_info on).
        { provide: PrometheusSerializer, useValue: new PrometheusSerializer() },
      ],
    };
  }
}
