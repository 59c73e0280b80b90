import { MigrationInterface, QueryRunner } from 'typeorm';
import { kagziSchemaOf } from './schema-of';

/**
 * Tracing: the W3C trace context (`traceparent`, `tracestate`, baggage) of whoever started the run,
 * as the propagator's carrier object. Every worker that executes a segment of the run starts its
 * `kagzi.run` span as a child of it, so the run joins the caller's trace in any process, at any time.
 * Null when no OpenTelemetry SDK was registered in the starting process.
 */
export class KagziTraceContext1764100000014 implements MigrationInterface {
  name = 'KagziTraceContext1764100000014';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = kagziSchemaOf(queryRunner);
    await queryRunner.query(`alter table "${s}".workflow_runs add column trace_context jsonb`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = kagziSchemaOf(queryRunner);
    await queryRunner.query(`alter table "${s}".workflow_runs drop column trace_context`);
  }
}
