import { Controller, Get, Header, Logger } from '@nestjs/common';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';

/** The Prometheus text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

@Controller('metrics')
export class MetricsController {
  private readonly logger = new Logger(MetricsController.name);

  constructor(
    private readonly exporter: PrometheusExporter,
    private readonly serializer: PrometheusSerializer,
  ) {}

  /**
   * Collects every instrument (the observable gauges run their callbacks now, e.g. Kagzi's backlog query)
   * and answers in Prometheus text. A callback that failed leaves its metric out; the rest is served.
   */
  @Get()
  @Header('content-type', PROMETHEUS_CONTENT_TYPE)
  @Header('cache-control', 'no-store')
  async scrape(): Promise<string> {
    const { resourceMetrics, errors } = await this.exporter.collect();
    for (const err of errors) this.logger.warn(`Collecting metrics: ${err instanceof Error ? err.message : String(err)}`);
    return this.serializer.serialize(resourceMetrics);
  }
}
