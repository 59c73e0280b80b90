import { Command } from 'commander';
import { assertRunId } from '../../client/client-input';
import type { WorkflowClient } from '../../client/workflow.client';
import { RunStatus, RunSummary } from '../../interfaces/run.interface';
import { CliUsageError } from '../cli-errors';
import { formatAgo, plural, renderTable } from '../format';
import { CommandOutput, kagziAction } from '../kagzi-action';
import { describeFailure } from '../failure-message';
import { parseDuration, parseStatuses } from '../option-values';

interface RetryOptions {
  status?: string;
  workflow?: string;
  since?: string;
  yes?: boolean;
}

/** Rows shown of a bulk retry's runs; the JSON document always has all of them. */
const SHOWN_ROWS = 50;
const PAGE = 1000;

/** `kagzi runs retry <runId>`, and in bulk `kagzi runs retry --status FAILED [--workflow n] [--since 2h] [--yes]`. */
export function addRetryCommand(runs: Command): void {
  runs
    .command('retry')
    .description('runs a FAILED or CANCELLED run again from where it stopped (completed steps are kept); with --status instead of a run id, every matching run')
    .argument('[runId]', 'the run id; omit it for a bulk retry')
    .option('--status <status>', 'bulk: FAILED, CANCELLED, or FAILED,CANCELLED')
    .option('--workflow <name>', 'bulk: only runs of this workflow')
    .option('--since <duration>', 'bulk: only runs that ended within this long (30m, 2h, 3d)')
    .option('--yes', 'bulk: retry them; without it, more than one matching run is only listed')
    .action(
      kagziAction<RetryOptions>(async ({ args: [runId], options, session }) => {
        if (runId !== undefined) {
          if (options.status !== undefined || options.workflow !== undefined || options.since !== undefined) {
            throw new CliUsageError('runs retry takes a run id, or --status with --workflow/--since for a bulk retry, not both');
          }
          assertRunId(runId);
          const { client } = await session();
          const previousStatus = await client.getHandle(runId).status();
          await client.retry(runId);
          return {
            data: { runId, previousStatus, status: 'PENDING' },
            text: `Run ${runId} (${previousStatus}) is PENDING again: it resumes from where it stopped`,
          };
        }
        if (options.status === undefined) {
          throw new CliUsageError('runs retry needs a run id, or --status FAILED (or CANCELLED) to retry matching runs in bulk');
        }
        const statuses = parseStatuses('--status', options.status, ['FAILED', 'CANCELLED']);
        const sinceMs = options.since === undefined ? undefined : parseDuration('--since', options.since);
        const { client } = await session();
        const now = new Date();
        const endedAfter = sinceMs === undefined ? undefined : new Date(now.getTime() - sinceMs);
        const matched = await findRuns(client, { name: options.workflow, statuses, endedAfter });
        return retryAll(client, matched, { ...options, now, what: describeSelection(statuses, options) });
      }),
    );
}

/** Every run with one of `statuses` (of workflow `name`) that ended after `endedAfter`, newest first. */
async function findRuns(client: WorkflowClient, filter: { name?: string; statuses: RunStatus[]; endedAfter?: Date }): Promise<RunSummary[]> {
  const found: RunSummary[] = [];
  // Paged by creation (the list's order); a run's end time is filtered here, as a run may end long after it started.
  for (let cursor: string | undefined, first = true; first || cursor !== undefined; first = false) {
    const page = await client.listRuns({ name: filter.name, status: filter.statuses, limit: PAGE, cursor });
    const cutoff = filter.endedAfter;
    found.push(...page.items.filter((r) => cutoff === undefined || (r.completedAt !== undefined && r.completedAt >= cutoff)));
    cursor = page.nextCursor;
  }
  return found;
}

async function retryAll(client: WorkflowClient, matched: RunSummary[], how: { yes?: boolean; now: Date; what: string }): Promise<CommandOutput> {
  if (matched.length === 0) return { data: { matched: 0, dryRun: false, runs: [], retried: [], refused: [] }, text: `No run matches (${how.what}): nothing to retry.` };
  if (matched.length > 1 && !how.yes) {
    return {
      data: { matched: matched.length, dryRun: true, runs: matched, retried: [], refused: [] },
      text: `${plural(matched.length, 'run')} match (${how.what}); this would retry them:\n${renderPlan(matched, how.now, () => 'would retry')}`,
      failure: `${plural(matched.length, 'run')} match: nothing retried; add --yes to retry them`,
    };
  }
  const results = new Map<string, string>();
  const refused: Array<{ runId: string; message: string }> = [];
  // One after another: a bulk retry of hundreds of runs is a few seconds, and the workers are woken as each one commits.
  for (const run of matched) {
    try {
      await client.retry(run.runId);
      results.set(run.runId, 'retried');
    } catch (err: unknown) {
      const { message } = describeFailure(err);
      refused.push({ runId: run.runId, message });
      results.set(run.runId, `refused: ${message}`);
    }
  }
  const retried = matched.filter((r) => results.get(r.runId) === 'retried').map((r) => r.runId);
  return {
    data: { matched: matched.length, dryRun: false, runs: matched, retried, refused },
    text: `Retried ${retried.length} of ${plural(matched.length, 'run')} (${how.what}); they resume from where they stopped:\n${renderPlan(matched, how.now, (id) => results.get(id) ?? '-')}`,
    ...(refused.length > 0 ? { failure: `${refused.length} of ${plural(matched.length, 'run')} not retried: ${refused[0].message}` } : {}),
  };
}

function renderPlan(runs: RunSummary[], now: Date, result: (runId: string) => string): string {
  const rows = runs
    .slice(0, SHOWN_ROWS)
    .map((r) => [r.runId, r.workflowName, r.version, r.status, r.completedAt ? formatAgo(r.completedAt, now) : '-', result(r.runId)]);
  const table = renderTable(['run id', 'workflow', 'version', 'status', 'ended', 'result'], rows);
  return runs.length > SHOWN_ROWS ? `${table}\n… and ${runs.length - SHOWN_ROWS} more (--json lists them all)` : table;
}

function describeSelection(statuses: RunStatus[], options: RetryOptions): string {
  return [statuses.join(' or '), options.workflow === undefined ? 'any workflow' : `workflow ${options.workflow}`, options.since === undefined ? undefined : `ended in the last ${options.since}`]
    .filter((part) => part !== undefined)
    .join(', ');
}
