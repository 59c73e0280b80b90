import { Attributes } from '@opentelemetry/api';
import { kagziInstruments } from './kagzi-meter';
import { METRIC_ATTR } from './metric-names';

/** What the metrics of a claimed segment need (ClaimedRun), with the lease as its identity. */
export interface MeteredClaim {
  lease: object;
  workflowName: string;
  version: number;
  /** Claim time minus the time the run was due, by the database's clock. */
  claimLagMs: number;
  /** Time since the run's first claim, by the database's clock, when this claim was made. */
  ageMs: number;
  /** `performance.now()` when the claim's rows arrived. */
  claimedAt: number;
}

/** Segments this process executes, by their lease: how long their run has been going. */
const segments = new WeakMap<object, { attributes: Attributes; startedAt: number; lost?: true }>();

function runAttributes(workflow: string, version: number | null | undefined): Attributes {
  return version === null || version === undefined ? { [METRIC_ATTR.workflow]: workflow } : { [METRIC_ATTR.workflow]: workflow, [METRIC_ATTR.version]: version };
}

/** A run was created by this process (start, signalWithStart, a child, continue-as-new, a schedule tick). */
export function recordRunStarted(workflow: string, version: number | null | undefined, runs = 1): void {
  if (runs > 0) kagziInstruments().runsStarted.add(runs, runAttributes(workflow, version));
}

/** A worker claimed a segment: its claim lag, and the clock its run's duration is measured with. */
export function recordClaim(claim: MeteredClaim): void {
  const attributes = runAttributes(claim.workflowName, claim.version);
  segments.set(claim.lease, { attributes, startedAt: claim.claimedAt - claim.ageMs });
  kagziInstruments().claimLag.record(Math.max(0, claim.claimLagMs) / 1000, attributes);
}

/** The segment holding `lease` ended its run with `status` (continuing as new ends it COMPLETED). */
export function recordRunEnd(lease: object, status: 'COMPLETED' | 'FAILED' | 'CANCELLED'): void {
  const segment = segments.get(lease);
  if (!segment) return;
  segments.delete(lease);
  const instruments = kagziInstruments();
  instruments.runsFinished.add(1, { ...segment.attributes, [METRIC_ATTR.status]: status });
  instruments.runDuration.record(Math.max(0, performance.now() - segment.startedAt) / 1000, segment.attributes);
}

/** This worker found it no longer holds `lease` (a write refused, a heartbeat that could not renew it): counted once per segment. */
export function recordLeaseLost(lease: object): void {
  const segment = segments.get(lease);
  if (!segment || segment.lost) return;
  segment.lost = true;
  kagziInstruments().leasesLost.add(1, segment.attributes);
}

/** The segment holding `lease` stopped without ending its run (parked, handed back, lost): nothing more to measure. */
export function recordSegmentStop(lease: object): void {
  segments.delete(lease);
}

/** One step attempt whose outcome the worker decided (an attempt cut by a cancel or a lost lease is not counted). */
export function recordAttempt(
  run: { workflowName: string; version: number }, step: string, outcome: 'completed' | 'retried' | 'failed', startedAt: number, errorKind?: string,
): void {
  const attributes: Attributes = { ...runAttributes(run.workflowName, run.version), [METRIC_ATTR.step]: step, [METRIC_ATTR.outcome]: outcome };
  if (errorKind !== undefined) attributes[METRIC_ATTR.errorKind] = errorKind;
  const instruments = kagziInstruments();
  instruments.stepAttempts.add(1, attributes);
  instruments.stepDuration.record(Math.max(0, performance.now() - startedAt) / 1000, attributes);
}
