import { StoredPayload } from '../execution/payload.serializer';
import { StoredStepRow } from './run.rows';

/** Who holds a run: every write for a claimed run carries this and is refused if it is stale. */
export interface Lease {
  runId: string;
  owner: string;
  epoch: number;
}

/** A run this worker has just claimed, with the lease every later write for it carries. */
export interface ClaimedRun {
  lease: Lease;
  workflowName: string;
  version: number;
  input: StoredPayload | null;
  /** A run claimed before: what it recorded (see claim-runs.sql.ts); undefined on its first claim. */
  steps?: StoredStepRow[];
  /** Set when a cancel was requested: `cutAt` once a worker delivered it to the run's code. */
  cancel?: { cutAt?: Date; reason?: string };
  /** The starter's W3C trace context, stored with the run: the parent of each `kagzi.run` span. */
  traceContext?: Record<string, string>;
  /** Claim time minus due time, and time since the run's first claim, by the database's clock (for the metrics). */
  claimLagMs: number;
  ageMs: number;
  /** `performance.now()` when the claim returned. */
  claimedAt: number;
}

/**
 * The (workflow name, version) pairs a worker serves, as two arrays for `unnest`.
 * @inline
 */
export interface ServedPairs {
  /** The workflow names, one per pair. */
  names: string[];
  /** The versions, at the same positions as `names`. */
  versions: number[];
}

/** Where a step ran: the innermost parallel group and the branch within it (absent at the top level). */
export interface StepPlacement {
  group?: string;
  branch?: string;
}

export type StepCommitOutcome = { kind: 'committed' } | { kind: 'exists'; step: StoredStepRow } | { kind: 'lost' };
