/**
 * The workflow the chaos test runs, inside apps/chaos/src/worker.ts.
 *
 *   reserve ─▶ ctx.parallel(pack:left, pack:right) ─▶ ctx.sleep ─▶ charge (retried) ─▶ ship
 *
 * Every step body is one "execution" with an id of its own. It records a side effect durably (a row in
 * public.chaos_effects) when it starts and again when it ends ('ok' or 'error'), and returns its
 * execution id, so the committed output of a step names the one execution whose work was kept. A row
 * written at the start survives a SIGKILL in the middle of the body: the driver compares executions with
 * kagzi.step_runs afterwards (apps/chaos/src/analysis.ts).
 *
 * `charge` fails with a TransientError the first `failures` times it reaches its end (counted durably,
 * so a kill does not change the plan): it must still complete, by retry.
 */
import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { RetryPolicy, Step, TransientError, Workflow, WorkflowContext, WorkflowDefinition } from '@kagzi/nestjs';

export const WORKFLOW_NAME = 'Chaos';
export const STEP_LABELS = ['reserve', 'pack:left', 'pack:right', 'charge', 'ship'] as const;
export type StepLabel = (typeof STEP_LABELS)[number];

export interface ChaosInput {
  n: number;
  /** Body duration of each step, ms. */
  delays: Record<StepLabel, number>;
  sleepMs: number;
  /** Transient failures of `charge` before it succeeds (fewer than its maxAttempts). */
  failures: number;
}

/** Per step label, the id of the execution whose output was committed. */
export type ChaosOutput = Record<StepLabel, string>;

export interface StepOutput {
  exec: string;
  worker: string;
}

/** How long a step body waits for its ledger database through a restart before it gives up. */
const OUTAGE_PATIENCE_MS = 60_000;

export const CHARGE_RETRY = { maxAttempts: 5, initialInterval: '100ms', multiplier: 2, jitter: 0.2 } as const;

@Injectable()
export class Effects implements OnApplicationShutdown {
  readonly worker = process.env.WORKER_NAME ?? `chaos-${process.pid}`;
  // Small: the server's max_connections is shared by every worker (and whoever else uses it).
  private readonly pool = new Pool({ connectionString: process.env.DB_URL, max: 4 });
  private closed = false;

  constructor() {
    this.pool.on('error', () => undefined);
  }

  /** One execution of a step body: start row, work, end row. */
  async perform(runId: string, step: StepLabel, delayMs: number, failures = 0): Promise<StepOutput> {
    const exec = randomUUID();
    await this.record(runId, step, exec, 'start');
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    if (failures > 0) {
      const { rows } = await this.throughOutages(() =>
        this.pool.query<{ n: number }>(`select count(*)::int as n from public.chaos_effects where run_id = $1 and step = $2 and phase = 'error'`, [runId, step]),
      );
      if (rows[0].n < failures) {
        await this.record(runId, step, exec, 'error');
        throw new TransientError(`chaos: ${step} failed on purpose (${rows[0].n + 1} of ${failures})`, { code: 'CHAOS_TRANSIENT' });
      }
    }
    await this.record(runId, step, exec, 'ok');
    return { exec, worker: this.worker };
  }

  private async record(runId: string, step: StepLabel, exec: string, phase: 'start' | 'ok' | 'error'): Promise<void> {
    await this.throughOutages(() =>
      this.pool.query(
        'insert into public.chaos_effects (run_id, step, exec_id, worker, pid, phase) values ($1, $2, $3, $4, $5, $6) on conflict (exec_id, phase) do nothing',
        [runId, step, exec, this.worker, process.pid, phase],
      ),
    );
  }

  /**
   * The ledger lives on the database that `--db-restarts` restarts: a body waits for it to come back, as
   * a side effect with its own retries would, so the ledger misses no execution. `on conflict do nothing`
   * makes a write whose reply was lost safe to repeat. Step commits are Kagzi's business, not retried here.
   */
  private async throughOutages<T>(write: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + OUTAGE_PATIENCE_MS;
    for (;;) {
      try {
        return await write();
      } catch (err: unknown) {
        if (this.closed || Date.now() > deadline) throw err;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    await this.pool.end().catch(() => undefined);
  }
}

@Workflow({ name: WORKFLOW_NAME })
export class ChaosWorkflow implements WorkflowDefinition<ChaosInput, ChaosOutput> {
  constructor(private readonly effects: Effects) {}

  async run(input: ChaosInput, ctx: WorkflowContext): Promise<ChaosOutput> {
    const { delays } = input;
    const reserve = await this.reserve(ctx.runId, delays.reserve);
    const [left, right] = await ctx.parallel([
      () => this.pack(ctx.runId, 'pack:left', delays['pack:left']),
      () => this.pack(ctx.runId, 'pack:right', delays['pack:right']),
    ]);
    await ctx.sleep(input.sleepMs);
    const charge = await this.charge(ctx.runId, delays.charge, input.failures);
    const ship = await this.ship(ctx.runId, delays.ship);
    return { reserve: reserve.exec, 'pack:left': left.exec, 'pack:right': right.exec, charge: charge.exec, ship: ship.exec };
  }

  @Step()
  async reserve(runId: string, delayMs: number): Promise<StepOutput> {
    return this.effects.perform(runId, 'reserve', delayMs);
  }

  @Step()
  async pack(runId: string, label: 'pack:left' | 'pack:right', delayMs: number): Promise<StepOutput> {
    return this.effects.perform(runId, label, delayMs);
  }

  @Step({ retry: RetryPolicy.exponential(CHARGE_RETRY) })
  async charge(runId: string, delayMs: number, failures: number): Promise<StepOutput> {
    return this.effects.perform(runId, 'charge', delayMs, failures);
  }

  @Step()
  async ship(runId: string, delayMs: number): Promise<StepOutput> {
    return this.effects.perform(runId, 'ship', delayMs);
  }
}
