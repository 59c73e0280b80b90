import { MigrationInterface, QueryRunner } from 'typeorm';
import { kagziSchemaOf } from './schema-of';

/**
 * Retention: the runs that ended (due_at null), by when they ended, so each batch of the sweep reads
 * the oldest few hundred from the index instead of scanning and sorting every ended run.
 */
export class KagziEndedRuns1764100000013 implements MigrationInterface {
  name = 'KagziEndedRuns1764100000013';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = kagziSchemaOf(queryRunner);
    await queryRunner.query(`create index workflow_runs_ended on "${s}".workflow_runs (completed_at) where due_at is null`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = kagziSchemaOf(queryRunner);
    await queryRunner.query(`drop index "${s}".workflow_runs_ended`);
  }
}
