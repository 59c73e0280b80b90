import { Command } from 'commander';
import { RUN_STATUSES } from '../../interfaces/run.interface';
import { formatDuration, formatTime, renderFields, renderTable } from '../format';
import { kagziAction } from '../kagzi-action';
import { OpsStats, OpsStatsReader } from '../ops-stats.reader';

/** `kagzi stats`. */
export function addStatsCommand(program: Command): void {
  program
    .command('stats')
    .description('runs by status, the backlog (due, unclaimed) and how long its oldest run has waited')
    .action(
      kagziAction(async ({ session }) => {
        const stats = await new OpsStatsReader((await session({ replica: true })).database).read();
        return { data: stats, text: renderStats(stats) };
      }),
    );
}

function renderStats(stats: OpsStats): string {
  const counts = renderTable(
    [...RUN_STATUSES.map((s) => s.toLowerCase()), 'total'],
    [[...RUN_STATUSES.map((s) => stats.runsByStatus[s]), stats.total]],
  );
  const oldest = stats.oldestDueAt ? `due since ${formatTime(stats.oldestDueAt)}, waiting ${formatDuration(stats.oldestDueAgeMs ?? 0)}` : '-';
  const fields = renderFields([
    ['Backlog', `${stats.backlog} run${stats.backlog === 1 ? '' : 's'} due and not claimed`],
    ['Oldest due', oldest],
  ]);
  const sections = [`Runs by status\n${counts}`, fields];
  if (stats.backlogByWorkflow.length > 0) {
    sections.push(`Backlog by workflow\n${renderTable(
      ['workflow', 'version', 'backlog', 'oldest waiting'],
      stats.backlogByWorkflow.map((b) => [b.workflowName, b.version, b.backlog, formatDuration(Math.max(0, stats.measuredAt.getTime() - b.oldestDueAt.getTime()))]),
    )}`);
  }
  return sections.join('\n\n');
}
