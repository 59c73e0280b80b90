import { replayHistory } from '../../execution/run-replay';
import { RunHistory } from '../../interfaces/run-history.interface';
import { RunStatus, TERMINAL_STATUSES } from '../../interfaces/run.interface';
import { KagziDatabase } from '../../persistence/kagzi-database';
import { toRunHistory } from '../../persistence/run-history.mapper';
import { RunStore } from '../../persistence/run.store';
import type { ReplayApp } from './replay-app';

/** Which stored runs `kagzi replay` checks: the newest first. */
export interface ReplaySelection {
  workflow: string;
  version?: number;
  statuses?: RunStatus[];
  limit: number;
}

/**
 * What replaying a run against the app's code showed:
 * - `completed`: the code returns within the recorded history;
 * - `continues`: every recorded call matched, and the code goes on past the records (`detail`: where), as a worker would;
 * - `fails-as-recorded`: the code throws, and the run failed, was cancelled or had a cancel requested;
 * - `fails`: the code throws where the run did not fail: a worker of this build would fail it;
 * - `non-deterministic`: a call no longer matches its record: a worker of this build would fail the run with NON_DETERMINISM;
 * - `not-registered`: a run that has not ended, of a version the app does not register: no worker of this build runs it;
 * - `skipped`: a run that has ended, of a version the app does not register: nothing to check.
 */
export type Verdict = 'completed' | 'continues' | 'fails-as-recorded' | 'fails' | 'non-deterministic' | 'not-registered' | 'skipped';

/** The verdicts that mean a deploy of this build would break the run. */
export const FAILING_VERDICTS: readonly Verdict[] = ['fails', 'non-deterministic', 'not-registered'];

export interface RunVerdict {
  runId: string;
  version: number;
  status: RunStatus;
  verdict: Verdict;
  ok: boolean;
  /** Where the run continues, the error message, or why it was not replayed; null for `completed`. */
  detail: string | null;
}

/**
 * Lists the selected runs from the CLI's database and replays each one's history (read one run at a
 * time, as `client.exportRun` reads it) against the app's code, in this process. Reads only.
 */
export async function replayStoredRuns(database: KagziDatabase, app: ReplayApp, selection: ReplaySelection): Promise<RunVerdict[]> {
  const store = new RunStore(database);
  const rows = await store.listRuns({ name: selection.workflow, version: selection.version, statuses: selection.statuses, limit: selection.limit });
  const verdicts: RunVerdict[] = [];
  for (const row of rows) {
    const found = await store.getRun(row.id);
    if (found) verdicts.push(await judge(toRunHistory(found), app)); // else deleted meanwhile (retention)
  }
  return verdicts;
}

async function judge(history: RunHistory, app: ReplayApp): Promise<RunVerdict> {
  const { runId, version, status } = history;
  const verdict = (v: Verdict, detail: string | null): RunVerdict => ({ runId, version, status, verdict: v, ok: !FAILING_VERDICTS.includes(v), detail });
  if (!app.registers(history.workflowName, version)) {
    const missing = `the app registers no ${history.workflowName} v${version}`;
    return TERMINAL_STATUSES.includes(status)
      ? verdict('skipped', `${missing} (the run has ended)`)
      : verdict('not-registered', `${missing}: no worker of this build would continue the run`);
  }
  const report = await replayHistory(undefined, history);
  switch (report.result) {
    case 'completed':
      return verdict('completed', null);
    case 'continues':
      return verdict('continues', report.at);
    case 'non-deterministic':
      return verdict('non-deterministic', report.error.message);
    case 'failed':
      return verdict(failureRecorded(history, report.error.message) ? 'fails-as-recorded' : 'fails', report.error.message);
  }
}

/** The run failed or was cancelled (or a cancel is pending), or a step recorded the error the code now throws. */
function failureRecorded(history: RunHistory, message: string): boolean {
  if (history.status === 'FAILED' || history.status === 'CANCELLED' || history.cancelRequestedAt !== undefined) return true;
  return history.steps.some((s) => s.status === 'FAILED' && s.error?.message === message);
}
