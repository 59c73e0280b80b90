import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { LongTimer, setLongTimeout } from '../common/long-timer';
import { ResolvedKagziOptions } from '../common/resolve-options';
import { WorkflowRegistry } from '../discovery/workflow.registry';
import { PayloadSerializer } from '../execution/payload.serializer';
import { KAGZI_RESOLVED_OPTIONS } from '../kagzi.constants';
import { isConnectionFailure } from '../persistence/connection-failure';
import { ConnectionRetry } from '../persistence/connection-retry';
import { ScheduleStore, ScheduleTick, TickOutcome } from '../persistence/schedule.store';
import { tickTrace } from '../tracing/tick.trace';
import { KagziWorker } from '../worker/kagzi.worker';
import { latestTick, nextTick } from './cron';
import { DueTick, LocalSchedule, TickPlan } from './tick-plan';
import { recordRunStarted } from '../metrics/run.metrics';
import { workflowClock } from '../common/clock';

/** The idempotency key of a schedule's run for `tick`: (workflow name, key) is unique, so one run per tick. */
export function scheduleKey(tick: Date): string {
  return `schedule:${tick.toISOString()}`;
}

interface Ticking {
  plan: TickPlan;
  retryMs: number;
  timer?: LongTimer;
  /** The tick statement in flight, awaited at shutdown so the pool is not closed under it. */
  firing?: Promise<void>;
}

/**
 * Fires the cron schedules of the workflows this worker serves. At bootstrap (worker processes only) it
 * registers them, then sleeps until the next tick of any of them and fires the ticks due then in one
 * statement; the database decides which process starts the run. A failed statement is retried every
 * poll interval until a later tick supersedes it. The timer is unref'ed and stopped at shutdown.
 */
@Injectable()
export class ScheduleTicker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Kagzi');
  private ticking?: Ticking;
  private stopped = false;
  /** Ticks fail because the database is unreachable (logged once until they work again). */
  private failing = false;

  /** @internal */
  constructor(
    @Inject(KAGZI_RESOLVED_OPTIONS) private readonly options: ResolvedKagziOptions,
    private readonly registry: WorkflowRegistry,
    private readonly worker: KagziWorker,
    private readonly schedules: ScheduleStore,
    private readonly serializer: PayloadSerializer,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const workerOptions = this.options.worker;
    if (!workerOptions || this.options.replay) return; // `kagzi replay` registers and ticks nothing
    await this.worker.ready; // the served versions are recorded, so default_version() knows this worker's
    if (this.worker.state !== 'RUNNING' || this.stopped) return;
    const { names, versions } = this.worker.snapshot().served;
    const served = names.map((name, i) => this.registry.get(name, versions[i])).filter((w) => w !== undefined);
    const local: LocalSchedule[] = served.flatMap((w) => (w.schedule ? [{ name: w.name, version: w.version, ...w.schedule }] : []));
    const since = workflowClock.now();
    const declared = local.map((s) => ({ ...s, nextRunAt: nextTick(s, since), latestTick: latestTick(s, since) }));
    const undeclared = served.filter((w) => !w.schedule).map((w) => ({ name: w.name, version: w.version }));
    const retry = new ConnectionRetry(this.options.reconnectTimeoutMs);
    await retry.run('registering the schedules at boot', () => this.schedules.register(declared, undeclared));
    if (local.length === 0) return;
    this.ticking = { plan: new TickPlan(local, since), retryMs: workerOptions.pollIntervalMs };
    this.logger.log(`Schedules of worker ${workerOptions.name}: ${local.map((s) => `${s.name} v${s.version} "${s.cron}" ${s.timezone}`).join(', ')}`);
    this.arm(this.ticking, workflowClock.now());
  }

  /** Stops the timer and waits for a tick statement in flight (the pool closes after this). */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    const ticking = this.ticking;
    if (!ticking) return;
    ticking.timer?.clear();
    await ticking.firing;
  }

  /** @internal Testing (`kt.clock.advance`): the clock moved ahead; fire the ticks that became due now. */
  skipTime(): void {
    const ticking = this.ticking;
    if (!ticking || this.stopped || ticking.firing) return; // a tick in flight re-arms with the new time
    ticking.timer?.clear();
    this.arm(ticking, workflowClock.now(), 0);
  }

  /** Sleeps until the next tick of any schedule, or `retryInMs` sooner (ticks are in `ctx.now()`'s clock). */
  private arm(ticking: Ticking, now: Date, retryInMs?: number): void {
    if (this.stopped) return;
    const wakeAt = ticking.plan.nextWakeAt(now);
    const untilTick = wakeAt === undefined ? Infinity : wakeAt.getTime() - workflowClock.now().getTime();
    const delayMs = Math.max(0, Math.min(untilTick, retryInMs ?? Infinity));
    if (delayMs === Infinity) return;
    ticking.timer = setLongTimeout(() => {
      ticking.firing = this.fire(ticking)
        .catch((err: unknown) => {
          // A fault outside the statement (none is expected: the expressions were checked at boot).
          this.logger.error(`Schedules: a tick failed, retrying in ${ticking.retryMs} ms: ${String(err)}`);
          this.arm(ticking, workflowClock.now(), ticking.retryMs);
        })
        .finally(() => (ticking.firing = undefined));
    }, delayMs).unref();
  }

  private async fire(ticking: Ticking): Promise<void> {
    if (this.stopped) return;
    const due = ticking.plan.due(workflowClock.now());
    let retryInMs: number | undefined;
    if (due.length > 0) {
      try {
        await this.fireTicks(due);
        ticking.plan.markFired(due);
        if (this.failing) this.logger.log('Schedules: ticking works again');
        this.failing = false;
      } catch (err: unknown) {
        retryInMs = ticking.retryMs;
        this.reportFailure(err, ticking.retryMs);
      }
    }
    this.arm(ticking, workflowClock.now(), retryInMs);
  }

  private async fireTicks(due: DueTick[]): Promise<void> {
    const ticks = due.map(({ schedule, tick, nextTick: next }): ScheduleTick => ({
      name: schedule.name,
      version: schedule.version,
      cron: schedule.cron,
      timezone: schedule.timezone,
      tick,
      nextTick: next,
      runId: randomUUID(),
      idempotencyKey: scheduleKey(tick),
      input: this.serializer.encode({ scheduledAt: tick }, `input of workflow "${schedule.name}"`).text,
    }));
    // One `kagzi.schedule.tick` span per tick: its context is stored with the run the tick starts.
    const traces = ticks.map((t) => tickTrace(t));
    ticks.forEach((t, i) => (t.traceContext = traces[i].carrier));
    let outcomes: TickOutcome[];
    try {
      outcomes = await this.schedules.tick(ticks);
    } catch (err: unknown) {
      for (const t of traces) t.fail(err);
      throw err;
    }
    ticks.forEach((t, i) => {
      const o = outcomes.find((x) => x.name === t.name && x.version === t.version);
      traces[i].end(o?.kind ?? 'none', o?.kind === 'started' ? o.runId : undefined);
    });
    for (const o of outcomes) {
      const at = o.tick.toISOString();
      if (o.kind === 'started') {
        recordRunStarted(o.name, o.version);
        this.logger.debug(`Schedule ${o.name} v${o.version}: tick ${at} started run ${o.runId}`);
      } else if (o.kind === 'skipped') this.logger.log(`Schedule ${o.name} v${o.version}: tick ${at} skipped: its previous run is still in flight`);
    }
  }

  private reportFailure(err: unknown, retryMs: number): void {
    // An outage fails every tick: say so once, at WARN; anything else is a fault, at ERROR each time.
    const outage = isConnectionFailure(err);
    if (!outage) this.logger.error(`Schedules: firing ticks failed, retrying in ${retryMs} ms: ${String(err)}`);
    else if (!this.failing) this.logger.warn(`Schedules: database unreachable, ticks paused; retrying every ${retryMs} ms: ${String(err)}`);
    this.failing = outage;
  }
}
