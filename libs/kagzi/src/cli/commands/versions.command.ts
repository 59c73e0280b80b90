import { Command } from 'commander';
import { WorkflowVersionInfo } from '../../interfaces/run.interface';
import { formatAgo, renderTable } from '../format';
import { kagziAction } from '../kagzi-action';
import { parseInteger } from '../option-values';

const MAX_VERSION = 2 ** 31 - 1;

/** `kagzi versions list | set-default | deprecate`. */
export function addVersionsCommands(program: Command): void {
  const versions = program.command('versions').description("a workflow's versions: list them, set the default, deprecate one");

  versions
    .command('list')
    .description('every registered version, oldest first: default, deprecated, served by a live worker, runs in flight')
    .argument('<workflow>', 'the workflow name')
    .action(
      kagziAction(async ({ args: [workflow], session }) => {
        const list = await (await session({ replica: true })).client.listVersions(workflow);
        return { data: list, text: renderVersions(list, new Date()) };
      }),
    );

  versions
    .command('set-default')
    .description('makes a version the one new runs start on, in every process at once')
    .argument('<workflow>', 'the workflow name')
    .argument('<version>', 'the version')
    .action(
      kagziAction(async ({ args: [workflow, text], session }) => {
        const version = parseInteger('version', text, { min: 1, max: MAX_VERSION });
        await (await session()).client.setDefaultVersion(workflow, version);
        return { data: { workflowName: workflow, defaultVersion: version }, text: `New runs of ${workflow} start on v${version}` };
      }),
    );

  versions
    .command('deprecate')
    .description('no new runs may start on a version; runs in flight on it still finish')
    .argument('<workflow>', 'the workflow name')
    .argument('<version>', 'the version')
    .action(
      kagziAction(async ({ args: [workflow, text], session }) => {
        const version = parseInteger('version', text, { min: 1, max: MAX_VERSION });
        await (await session()).client.deprecateVersion(workflow, version);
        return { data: { workflowName: workflow, version, deprecated: true }, text: `${workflow} v${version} is deprecated: no new runs start on it` };
      }),
    );
}

function renderVersions(list: WorkflowVersionInfo[], now: Date): string {
  const rows = list.map((v) => [
    v.version,
    v.isDefault ? 'yes' : '-',
    v.deprecatedAt ? `since ${formatAgo(v.deprecatedAt, now)}` : '-',
    v.served ? 'yes' : 'no',
    Object.entries(v.runs).map(([status, count]) => `${status} ${count}`).join(', ') || '-',
    formatAgo(v.registeredAt, now),
    formatAgo(v.lastSeenAt, now),
  ]);
  return renderTable(['version', 'default', 'deprecated', 'served', 'runs in flight', 'registered', 'last seen'], rows);
}
