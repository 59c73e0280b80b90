import { Attributes } from '@opentelemetry/api';
import { kagziInstruments } from './kagzi-meter';

export { observeActiveRuns } from './kagzi-meter';
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

type AttemptOutcome = 'completed' | 'retried' | 'failed';

/** Segments this process executes, by their lease: how long their run has been going. */
const segments = new WeakMap<object, { workflow: string; version: number; startedAt: number; lost?: true }>();

/**
 * Attribute sets, made once per combination and reused: their values come from code (workflow and step
 * names, versions, outcomes, error kinds), so the cache is as bounded as the series are.
 */
const attributeSets = new Map<string, Attributes>();
const MAX_ATTRIBUTE_SETS = 10_000;

function attributes(workflow: string, version: number | null | undefined, extra?: { status?: string; step?: string; outcome?: AttemptOutcome; errorKind?: string }): Attributes {
  const key = `${workflow}\u0000${version ?? ''}\u0000${extra?.status ?? ''}\u0000${extra?.step ?? ''}\u0000${extra?.outcome ?? ''}\u0000${extra?.errorKind ?? ''}`;
  let set = attributeSets.get(key);
  if (set === undefined) {
    set = { [METRIC_ATTR.workflow]: workflow };
    if (version !== null && version !== undefined) set[METRIC_ATTR.version] = version;
    if (extra?.status !== undefined) set[METRIC_ATTR.status] = extra.status;
    if (extra?.step !== undefined) set[METRIC_ATTR.step] = extra.step;
    if (extra?.outcome !== undefined) set[METRIC_ATTR.outcome] = extra.outcome;
    if (extra?.errorKind !== undefined) set[METRIC_ATTR.errorKind] = extra.errorKind;
    if (attributeSets.size >= MAX_ATTRIBUTE_SETS) attributeSets.clear(); // names made at run time: stay bounded anyway
    attributeSets.set(key, Object.freeze(set));
  }
  return set;
}

/** A run was created by this process (start, signalWithStart, a child, continue-as-new, a schedule tick). */
export function recordRunStarted(workflow: string, version: number | null | undefined): void {
  kagziInstruments()?.runsStarted.add(1, attributes(workflow, version));
}

/** A worker claimed a segment: its claim lag, and the clock its run's duration is measured with. */
export function recordClaim(claim: MeteredClaim): void {
  const instruments = kagziInstruments();
  if (!instruments) return;
  segments.set(claim.lease, { workflow: claim.workflowName, version: claim.version, startedAt: claim.claimedAt - claim.ageMs });
  instruments.claimLag.record(Math.max(0, claim.claimLagMs) / 1000, attributes(claim.workflowName, claim.version));
}

/** The segment holding `lease` ended its run with `status` (continuing as new ends it COMPLETED). */
export function recordRunEnd(lease: object, status: 'COMPLETED' | 'FAILED' | 'CANCELLED'): void {
  const segment = segments.get(lease);
  const instruments = kagziInstruments();
  if (!segment || !instruments) return;
  segments.delete(lease);
  instruments.runsFinished.add(1, attributes(segment.workflow, segment.version, { status }));
  instruments.runDuration.record(Math.max(0, performance.now() - segment.startedAt) / 1000, attributes(segment.workflow, segment.version));
}

/** This worker found it no longer holds `lease` (a write refused, a heartbeat that could not renew it): counted once per segment. */
export function recordLeaseLost(lease: object): void {
  const segment = segments.get(lease);
  if (!segment || segment.lost) return;
  segment.lost = true;
  kagziInstruments()?.leasesLost.add(1, attributes(segment.workflow, segment.version));
}

/** The segment holding `lease` stopped without ending its run (parked, handed back, lost): nothing more to measure. */
export function recordSegmentStop(lease: object): void {
  segments.delete(lease);
}

/** One step attempt whose outcome the worker decided (an attempt cut by a cancel or a lost lease is not counted). */
export function recordAttempt(run: { workflowName: string; version: number }, step: string, outcome: AttemptOutcome, startedAt: number, errorKind?: string): void {
  const instruments = kagziInstruments();
  if (!instruments) return;
  const set = attributes(run.workflowName, run.version, { step, outcome, errorKind });
  instruments.stepAttempts.add(1, set);
  instruments.stepDuration.record(Math.max(0, performance.now() - startedAt) / 1000, set);
}
