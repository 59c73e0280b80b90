/** Span and attribute names of Kagzi's traces (SPEC §5.3); docs/observability.md lists them with their meaning. */
export const SPAN = {
  start: 'kagzi.start',
  run: 'kagzi.run',
  step: 'kagzi.step',
  sleep: 'kagzi.sleep',
  signalWait: 'kagzi.signal.wait',
  childStart: 'kagzi.child.start',
  /** One schedule's tick fired by a worker's ticker: the root of the trace of the run it starts. */
  scheduleTick: 'kagzi.schedule.tick',
} as const;

export const ATTR = {
  runId: 'kagzi.run_id',
  workflow: 'kagzi.workflow',
  version: 'kagzi.version',
  /** The run's lease epoch: 1 for its first segment, one more for each claim after a park, crash or retry. */
  epoch: 'kagzi.lease_epoch',
  worker: 'kagzi.worker',
  /** How a segment ended: completed, failed, cancelled, suspended, lost, continued. */
  outcome: 'kagzi.outcome',
  step: 'kagzi.step',
  stepKey: 'kagzi.step_key',
  attempt: 'kagzi.attempt',
  errorKind: 'kagzi.error.kind',
  errorCode: 'kagzi.error.code',
  retryDelayMs: 'kagzi.retry.delay_ms',
  sleepMs: 'kagzi.sleep.duration_ms',
  wakeAt: 'kagzi.sleep.wake_at',
  signal: 'kagzi.signal',
  childWorkflow: 'kagzi.child.workflow',
  childRunId: 'kagzi.child.run_id',
  /** On a span still open when its segment stopped (a sleep that parked the run, a step cut by a lost lease): why. */
  segmentEnd: 'kagzi.segment_end',
  /** On `kagzi.schedule.tick`: the schedule's cron expression, its time zone, and the tick (ISO time, the run's `scheduledAt`). */
  schedule: 'kagzi.schedule',
  scheduleTimezone: 'kagzi.schedule_timezone',
  scheduledAt: 'kagzi.scheduled_at',
} as const;
