import { Logger } from '@nestjs/common';
import { Counter, Histogram, Meter, MeterProvider, ObservableResult, createNoopMeter, metrics } from '@opentelemetry/api';
import { KAGZI_VERSION } from '../kagzi.constants';
import { METRIC, METRIC_ATTR, SECONDS_BUCKETS } from './metric-names';

/** Kagzi's synchronous instruments, from the meter of the provider registered when they were made. */
export interface KagziInstruments {
  runsStarted: Counter;
  runsFinished: Counter;
  stepAttempts: Counter;
  leasesLost: Counter;
  runDuration: Histogram;
  stepDuration: Histogram;
  claimLag: Histogram;
}

/** Due, unclaimed runs per (workflow, version), read from one database in one statement. */
export type BacklogReader = () => Promise<Array<{ workflow: string; version: number; runs: number }>>;

/** What this process contributes to the observable gauges: each module's backlog reader, each worker's runs in flight. */
const backlogReaders = new Set<BacklogReader>();
const activeRunCounts = new Set<() => number>();
const logger = new Logger('Kagzi');
/** A backlog read failed (logged once until one works again). */
let backlogFailing = false;

let current: { provider: MeterProvider; instruments: KagziInstruments | undefined } | undefined;

/**
 * Kagzi's instruments, or undefined when no SDK is registered (the API's no-op meter): callers then skip
 * building attributes and reading clocks, so an app without an SDK pays one comparison per call. The API
 * has no proxy for meters (an instrument made before an SDK is registered stays a no-op), so they are
 * made again whenever the global provider changed.
 */
export function kagziInstruments(): KagziInstruments | undefined {
  const provider = metrics.getMeterProvider();
  if (current?.provider !== provider) {
    const meter = provider.getMeter('kagzi', KAGZI_VERSION);
    current = { provider, instruments: meter === createNoopMeter() ? undefined : createInstruments(meter) };
  }
  return current.instruments;
}

/** Adds a module's backlog reader to `kagzi.runs.backlog`; returns its removal. */
export function observeBacklog(read: BacklogReader): () => void {
  read = singleFlight(read);
  backlogReaders.add(read);
  kagziInstruments(); // registers the gauges with a provider set up before the app booted
  return () => backlogReaders.delete(read);
}

/** Adds a worker's count of runs in flight to `kagzi.worker.active_runs`; returns its removal. */
export function observeActiveRuns(count: () => number): () => void {
  activeRunCounts.add(count);
  kagziInstruments();
  return () => activeRunCounts.delete(count);
}

function createInstruments(meter: Meter): KagziInstruments {
  const seconds = (name: string, description: string, buckets: readonly number[]): Histogram =>
    meter.createHistogram(name, { description, unit: 's', advice: { explicitBucketBoundaries: [...buckets] } });
  const backlog = meter.createObservableGauge(METRIC.backlog, { description: 'Runs due now that no worker holds (queued, woken, backing off, lease lapsed)', unit: '{run}' });
  backlog.addCallback(observeBacklogNow);
  const active = meter.createObservableGauge(METRIC.activeRuns, { description: "Runs this process's workers are executing", unit: '{run}' });
  active.addCallback((result) => {
    let total = 0;
    for (const count of activeRunCounts) total += count();
    if (activeRunCounts.size > 0) result.observe(total);
  });
  return {
    runsStarted: meter.createCounter(METRIC.runsStarted, { description: 'Runs created by this process (start, signalWithStart, children, continue-as-new, schedule ticks)', unit: '{run}' }),
    runsFinished: meter.createCounter(METRIC.runsFinished, { description: 'Runs ended by this process, by status', unit: '{run}' }),
    stepAttempts: meter.createCounter(METRIC.stepAttempts, { description: 'Step attempts executed, by outcome', unit: '{attempt}' }),
    leasesLost: meter.createCounter(METRIC.leasesLost, { description: 'Run segments stopped because their lease was lost', unit: '{lease}' }),
    runDuration: seconds(METRIC.runDuration, 'From a run’s first claim to its end, across every segment', SECONDS_BUCKETS.run),
    stepDuration: seconds(METRIC.stepDuration, 'Duration of one step attempt', SECONDS_BUCKETS.step),
    claimLag: seconds(METRIC.claimLag, 'Claim time minus due time (queueing, wake-up and recovery delay)', SECONDS_BUCKETS.claimLag),
  };
}

/**
 * At most one backlog read in flight per module: collections that come while one waits (a table locked,
 * a slow database) share its result instead of each taking a pool connection the engine needs.
 */
function singleFlight(read: BacklogReader): BacklogReader {
  let pending: ReturnType<BacklogReader> | undefined;
  return () => (pending ??= read().finally(() => (pending = undefined)));
}

/** One statement per module and collection; a database that does not answer leaves the gauge without a value. */
async function observeBacklogNow(result: ObservableResult): Promise<void> {
  const reads = await Promise.allSettled([...backlogReaders].map((read) => read()));
  let failed: unknown;
  for (const read of reads) {
    if (read.status === 'rejected') {
      failed = read.reason;
      continue;
    }
    for (const row of read.value) result.observe(row.runs, { [METRIC_ATTR.workflow]: row.workflow, [METRIC_ATTR.version]: row.version });
  }
  if (failed !== undefined && !backlogFailing) logger.warn(`Metrics: reading the backlog failed; the gauge is left out until a read works: ${String(failed)}`);
  backlogFailing = failed !== undefined;
}
