import { Injectable } from '@nestjs/common';
import { trace } from '@opentelemetry/api';
import { ErrorKind, RetryPolicy, Step, TransientError } from '@kagzi/nestjs';

const tracer = trace.getTracer('example-observability');

@Injectable()
export class WarehouseService {
  /** Calls left that fail before the warehouse answers (the example and its test set it). */
  failuresLeft = 0;

  /** Your own span inside a step body nests under Kagzi's `kagzi.step` span for the attempt. */
  @Step({ retry: RetryPolicy.fixed({ maxAttempts: 3, interval: '1s' }) })
  async stockLevels(warehouse: string): Promise<number> {
    return tracer.startActiveSpan('warehouse.http', { attributes: { 'warehouse.id': warehouse } }, async (span) => {
      try {
        if (this.failuresLeft > 0) {
          this.failuresLeft--;
          throw new TransientError('warehouse API unavailable', { kind: ErrorKind.ServiceUnavailable });
        }
        return 120;
      } finally {
        span.end();
      }
    });
  }

  @Step()
  async publish(warehouse: string, units: number): Promise<string> {
    return `report ${warehouse}: ${units} units`;
  }
}
