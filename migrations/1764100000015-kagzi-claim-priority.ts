import { MigrationInterface, QueryRunner } from 'typeorm';
import { kagziSchemaOf } from './schema-of';

/** The two indexes, complementary halves of workflow_runs_due: every live run is in exactly one. */
const INDEXES = [
  // Runs claimed at least once (expired leases, sleeps and back-offs that ended, signals, hand-backs): claimed first.
  { name: 'workflow_runs_due_resumed', where: 'lease_epoch > 0' },
  // Runs never claimed: the share of each worker's claims reserved for them, and whatever resumed runs leave.
  { name: 'workflow_runs_due_new', where: 'lease_epoch = 0' },
];

/**
 * Claim priority (see claim-runs.sql.ts): one due-ordered index per branch of the claim, so neither
 * walks past the other's rows. workflow_runs_due stays: older workers' claim and next-due use it.
 *
 * A plain CREATE INDEX in the migration's transaction. TypeORM could run this migration outside one
 * (`transaction = false`) for CREATE INDEX CONCURRENTLY, but a concurrent build waits for every
 * transaction in the database that holds an older snapshot, the app's own included (a long report on
 * a shared database would hold up every replica's boot), and deadlocks with processes that wait for
 * the migration lock inside a statement (pg_advisory_lock: PostgreSQL aborts one, a boot fails). A
 * plain build waits only for writers of workflow_runs, then blocks writes while it scans the table
 * (0.22 s for both on 1.1 million rows in memory). For a large table, create both CONCURRENTLY by hand
 * beforehand (docs/workers.md): this migration keeps them, and builds again one left invalid.
 */
export class KagziClaimPriority1764100000015 implements MigrationInterface {
  name = 'KagziClaimPriority1764100000015';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = kagziSchemaOf(queryRunner);
    for (const index of INDEXES) {
      const [found] = (await queryRunner.query(`select indisvalid from pg_index where indexrelid = to_regclass($1)`, [`"${s}".${index.name}`])) as Array<{
        indisvalid: boolean;
      }>;
      if (found && !found.indisvalid) await queryRunner.query(`drop index "${s}".${index.name}`);
      await queryRunner.query(`create index if not exists ${index.name} on "${s}".workflow_runs (due_at) where due_at is not null and ${index.where}`);
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = kagziSchemaOf(queryRunner);
    for (const index of INDEXES) await queryRunner.query(`drop index if exists "${s}".${index.name}`);
  }
}
