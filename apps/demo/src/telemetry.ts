import { metrics } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';

/**
 * The OpenTelemetry metrics SDK of the HTTP demo (`npm start`). Import this module first in main.ts:
 * Kagzi records its metrics through the global MeterProvider of `@opentelemetry/api`, so the SDK is
 * registered before Nest and Kagzi are loaded. The Prometheus exporter is a pull reader that starts no
 * server of its own; the app's `GET /metrics` (MetricsController) collects it on every scrape.
 */
export const prometheusExporter = new PrometheusExporter({ preventServerStart: true });
export const meterProvider = new MeterProvider({ readers: [prometheusExporter] });

// setGlobalMeterProvider returns false (and keeps the first one) if a provider was already registered.
if (!metrics.setGlobalMeterProvider(meterProvider)) {
  throw new Error('A global OpenTelemetry MeterProvider was already registered: import ./telemetry once, before anything else');
}
