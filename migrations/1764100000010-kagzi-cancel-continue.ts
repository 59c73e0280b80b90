import { MigrationInterface, QueryRunner } from 'typeorm';
import { kagziSchemaOf } from './schema-of';

/**
 * Cancellation delivered to the workflow's code, and continue-as-new.
 * A cancel is a request (`cancel_requested_at`, `cancel_reason`) that the run's code receives as a
 * WorkflowCancelledError; `cancel_cut_at` is when the executing worker delivered it, so every replay
 * of the run decides the same way which durable sleeps had ended before the cancel.
 * A run that continued as new records the run that goes on (`continued_as`), and that run the one it
 * came from (`continued_from`).
 */
export class KagziCancelContinue1764100000010 implements MigrationInterface {
  name = 'KagziCancelContinue1764100000010';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = kagziSchemaOf(queryRunner);
    await queryRunner.query(`
      alter table "${s}".workflow_runs
        add column cancel_requested_at timestamptz,
        add column cancel_reason text,
        add column cancel_cut_at timestamptz,
        add column continued_as uuid,
        add column continued_from uuid`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = kagziSchemaOf(queryRunner);
    await queryRunner.query(`
      alter table "${s}".workflow_runs
        drop column continued_from,
        drop column continued_as,
        drop column cancel_cut_at,
        drop column cancel_reason,
        drop column cancel_requested_at`);
  }
}
