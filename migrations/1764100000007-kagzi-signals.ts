import { MigrationInterface, QueryRunner } from 'typeorm';
import { kagziSchemaOf } from './schema-of';

/**
 * Signals: messages sent to a run by name, kept in order until a `ctx.waitForSignal` consumes them. A
 * run parked on a signal wait is WAITING (due at its timeout, or at once when a signal arrives); the
 * consumption is recorded as a step of kind SIGNAL in the statement that consumes it.
 */
export class KagziSignals1764100000007 implements MigrationInterface {
  name = 'KagziSignals1764100000007';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = kagziSchemaOf(queryRunner);
    await queryRunner.query(`alter table "${s}".workflow_runs drop constraint workflow_runs_status_check`);
    await queryRunner.query(`
      alter table "${s}".workflow_runs add constraint workflow_runs_status_check
        check (status in ('PENDING','RUNNING','SLEEPING','WAITING','COMPLETED','FAILED','CANCELLED'))`);
    // The id of the newest signal stored for the run: a run about to park on a signal wait compares it with
    // the newest one it could see, so a signal stored in between (not yet visible to it) makes it due at once.
    await queryRunner.query(`alter table "${s}".workflow_runs add column last_signal_id bigint not null default 0`);
    await queryRunner.query(`alter table "${s}".step_runs drop constraint step_runs_kind_check`);
    await queryRunner.query(`alter table "${s}".step_runs add constraint step_runs_kind_check check (kind in ('STEP','SLEEP','GROUP','SIGNAL'))`);
    await queryRunner.query(`
      create table "${s}".signals (
        id bigserial primary key,
        workflow_run_id uuid not null references "${s}".workflow_runs (id) on delete cascade,
        name text not null,
        payload json,
        sent_at timestamptz not null default now(),
        consumed_at timestamptz,
        consumed_by text,
        -- chosen by the sender: a send retried after a lost reply stores the signal once
        delivery_id uuid not null unique
      )`);
    // The oldest unconsumed signal of a name, for the consuming statement; and a run's history for getRun.
    await queryRunner.query(`create index signals_unconsumed on "${s}".signals (workflow_run_id, name, id) where consumed_at is null`);
    await queryRunner.query(`create index signals_by_run on "${s}".signals (workflow_run_id, id)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = kagziSchemaOf(queryRunner);
    await queryRunner.query(`drop table "${s}".signals`);
    await queryRunner.query(`delete from "${s}".step_runs where kind = 'SIGNAL'`);
    await queryRunner.query(`alter table "${s}".step_runs drop constraint step_runs_kind_check`);
    await queryRunner.query(`alter table "${s}".step_runs add constraint step_runs_kind_check check (kind in ('STEP','SLEEP','GROUP'))`);
    await queryRunner.query(`update "${s}".workflow_runs set status = 'SLEEPING' where status = 'WAITING'`);
    await queryRunner.query(`alter table "${s}".workflow_runs drop column last_signal_id`);
    await queryRunner.query(`alter table "${s}".workflow_runs drop constraint workflow_runs_status_check`);
    await queryRunner.query(`
      alter table "${s}".workflow_runs add constraint workflow_runs_status_check
        check (status in ('PENDING','RUNNING','SLEEPING','COMPLETED','FAILED','CANCELLED'))`);
  }
}
