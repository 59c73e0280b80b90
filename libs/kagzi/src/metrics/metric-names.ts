/** Instrument names of Kagzi's metrics (SPEC §5.3); docs/observability.md lists them with units and attributes. */
export const METRIC = {
  runsStarted: 'kagzi.runs.started',
  runsFinished: 'kagzi.runs.finished',
  stepAttempts: 'kagzi.steps.attempts',
  leasesLost: 'kagzi.leases.lost',
  runDuration: 'kagzi.run.duration',
  stepDuration: 'kagzi.step.duration',
  claimLag: 'kagzi.claim.lag',
  backlog: 'kagzi.runs.backlog',
  activeRuns: 'kagzi.worker.active_runs',
} as const;

/**
 * Metric attributes: few values each (workflow and step names come from code, versions are a handful),
 * never a run id, so every series stays bounded. The names match the span attributes.
 */
export const METRIC_ATTR = {
  workflow: 'kagzi.workflow',
  version: 'kagzi.version',
  status: 'kagzi.status',
  step: 'kagzi.step',
  /** Of an attempt: completed, retried (failed, another attempt is scheduled) or failed (no attempt left). */
  outcome: 'kagzi.outcome',
  errorKind: 'kagzi.error.kind',
} as const;

/** Histogram boundaries in seconds: from a millisecond step to a day-long run. */
export const SECONDS_BUCKETS = {
  run: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400],
  step: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  claimLag: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
} as const;
