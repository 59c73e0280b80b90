import { Command } from 'commander';
import { assertRunId } from '../../client/client-input';
import { Page, RunSummary, TERMINAL_STATUSES } from '../../interfaces/run.interface';
import { CliError } from '../cli-errors';
import { formatAgo, formatDuration, renderTable, truncate } from '../format';
import { kagziAction } from '../kagzi-action';
import { parseInteger, parseJson, parseStatuses } from '../option-values';
import { renderRunDetails } from './run-details.view';
import { addRetryCommand } from './runs-retry.command';

const MAX_VERSION = 2 ** 31 - 1;

/** `kagzi runs list | show | cancel | retry | signal | start`. */
export function addRunsCommands(program: Command): void {
  const runs = program.command('runs').description('list, inspect, cancel, retry, signal and start runs');

  runs
    .command('list')
    .description('the newest runs first')
    .option('--workflow <name>', 'only runs of this workflow')
    .option('--status <status>', 'only runs with this status, or any of a comma-separated list (PENDING, RUNNING, SLEEPING, WAITING, COMPLETED, FAILED, CANCELLED)')
    .option('--limit <n>', 'at most this many runs, 1 to 1000', '20')
    .option('--cursor <cursor>', 'the next page: the cursor the previous page printed')
    .action(
      kagziAction<{ workflow?: string; status?: string; limit: string; cursor?: string }>(async ({ options, session }) => {
        const status = options.status === undefined ? undefined : parseStatuses('--status', options.status);
        const limit = parseInteger('--limit', options.limit, { min: 1, max: 1000 });
        const { client } = await session({ replica: true });
        const page = await client.listRuns({ name: options.workflow, status, limit, cursor: options.cursor });
        return { data: page, text: renderRunList(page, new Date()) };
      }),
    );

  runs
    .command('show')
    .description("a run: its input, output and error, its steps on a timeline with their attempts, signals, children and retries")
    .argument('<runId>', 'the run id (a UUID)')
    .action(
      kagziAction(async ({ args: [runId], session }) => {
        assertRunId(runId);
        const run = await (await session({ replica: true })).client.getRun(runId);
        return { data: run, text: renderRunDetails(run, new Date()) };
      }),
    );

  runs
    .command('cancel')
    .description("cancels a run that has not ended: its code sees the cancel at its pending await, may compensate, and the run ends CANCELLED")
    .argument('<runId>', 'the run id')
    .option('--reason <text>', 'why, stored with the run')
    .action(
      kagziAction<{ reason?: string }>(async ({ args: [runId], options, session }) => {
        assertRunId(runId);
        const { client } = await session();
        const handle = client.getHandle(runId);
        const before = await handle.status();
        if (before === 'CANCELLED') return { data: { runId, status: before, cancelled: false }, text: `Run ${runId} is already CANCELLED` };
        if (TERMINAL_STATUSES.includes(before)) throw new CliError(`run ${runId} is ${before}: only a run that has not ended can be cancelled`);
        await client.cancel(runId, options.reason);
        const status = await handle.status();
        const text =
          status === 'CANCELLED'
            ? `Run ${runId} is CANCELLED`
            : `Cancel requested for run ${runId} (${status}): it ends CANCELLED once its code has handled the cancel`;
        return { data: { runId, status, cancelled: true }, text };
      }),
    );

  addRetryCommand(runs);

  runs
    .command('signal')
    .description("sends a signal to a live run; it waits, in order, for the run's ctx.waitForSignal(name)")
    .argument('<runId>', 'the run id')
    .argument('<name>', 'the signal name')
    .option('--payload <json>', 'the payload, as JSON (default null)')
    .action(
      kagziAction<{ payload?: string }>(async ({ args: [runId, name], options, session }) => {
        assertRunId(runId);
        const payload = parseJson('--payload', options.payload);
        await (await session()).client.signal(runId, name, payload);
        return { data: { runId, signal: name, payload: payload ?? null }, text: `Signal "${name}" sent to run ${runId}` };
      }),
    );

  runs
    .command('start')
    .description('starts a run of a workflow some process has registered (its workers run it)')
    .argument('<workflow>', 'the workflow name')
    .option('--input <json>', 'the input, as JSON')
    .option('--version <n>', "the version to run (default: the workflow's default version)")
    .option('--idempotency-key <key>', 'a second start with this key returns the first run instead')
    .action(
      kagziAction<{ input?: string; version?: string; idempotencyKey?: string }>(async ({ args: [workflow], options, session }) => {
        const input = parseJson('--input', options.input);
        const version = options.version === undefined ? undefined : parseInteger('--version', options.version, { min: 1, max: MAX_VERSION });
        const { client } = await session();
        const handle = await client.start(workflow, input, { version, idempotencyKey: options.idempotencyKey });
        const run = await client.getRun(handle.runId);
        const data = { runId: run.runId, workflowName: run.workflowName, version: run.version, status: run.status };
        return { data, text: `Started run ${run.runId} of ${run.workflowName} v${run.version} (${run.status})` };
      }),
    );
}

function renderRunList(page: Page<RunSummary>, now: Date): string {
  if (page.items.length === 0) return 'No runs match.';
  const rows = page.items.map((r) => [
    r.runId,
    r.workflowName,
    r.version,
    r.status,
    formatAgo(r.createdAt, now),
    r.completedAt ? formatDuration(r.completedAt.getTime() - r.createdAt.getTime()) : '-',
    r.idempotencyKey === undefined ? '-' : truncate(r.idempotencyKey, 40),
  ]);
  const table = renderTable(['run id', 'workflow', 'version', 'status', 'created', 'took', 'idempotency key'], rows);
  return page.nextCursor ? `${table}\nMore: add --cursor ${page.nextCursor}` : table;
}
