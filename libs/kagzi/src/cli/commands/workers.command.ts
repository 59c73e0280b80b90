import { Command } from 'commander';
import { ScheduleInfo, WorkerInfo } from '../../interfaces/run.interface';
import { formatAgo, formatTimeAgo, renderTable, truncate } from '../format';
import { kagziAction } from '../kagzi-action';

/** `kagzi workers list` and `kagzi schedules list`. */
export function addWorkersCommands(program: Command): void {
  program
    .command('workers')
    .description('the worker processes')
    .command('list')
    .description('every known worker, newest first: status, heartbeat age, active runs, served versions')
    .action(
      kagziAction(async ({ session }) => {
        const workers = await (await session({ replica: true })).client.listWorkers();
        return { data: workers, text: renderWorkers(workers, new Date()) };
      }),
    );

  program
    .command('schedules')
    .description("the workflows' cron schedules")
    .command('list')
    .description('every schedule with its next and last run and the ticks it skipped')
    .action(
      kagziAction(async ({ session }) => {
        const schedules = await (await session({ replica: true })).client.listSchedules();
        return { data: schedules, text: renderSchedules(schedules, new Date()) };
      }),
    );
}

function renderWorkers(workers: WorkerInfo[], now: Date): string {
  if (workers.length === 0) return 'No workers have registered.';
  const rows = workers.map((w) => [
    w.name,
    w.status,
    `${w.hostname}:${w.pid}`,
    formatAgo(w.lastHeartbeatAt, now),
    `${w.activeRuns}/${w.concurrency}`,
    formatAgo(w.startedAt, now),
    truncate(compactPairs(w.workflows) || '-', 60),
  ]);
  return renderTable(['worker', 'status', 'host:pid', 'heartbeat', 'active', 'started', 'serves'], rows);
}

/** `order@1, order@2, shipment@1` → `order@1,2, shipment@1`. */
function compactPairs(pairs: string[]): string {
  const versions = new Map<string, string[]>();
  for (const pair of pairs) {
    const at = pair.lastIndexOf('@');
    const name = pair.slice(0, at);
    versions.set(name, [...(versions.get(name) ?? []), pair.slice(at + 1)]);
  }
  return [...versions].map(([name, list]) => `${name}@${list.join(',')}`).join(', ');
}

function renderSchedules(schedules: ScheduleInfo[], now: Date): string {
  if (schedules.length === 0) return 'No schedules.';
  const rows = schedules.map((s) => [
    `${s.workflowName} v${s.version}`,
    s.cron,
    s.timezone,
    formatTimeAgo(s.nextRunAt, now),
    s.lastRunAt ? formatTimeAgo(s.lastRunAt, now) : '-',
    s.lastRunId ?? '-',
    s.skipped,
  ]);
  return renderTable(['workflow', 'cron', 'timezone', 'next run', 'last run', 'last run id', 'skipped'], rows);
}
