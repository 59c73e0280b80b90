import { Command } from 'commander';
import { readPackageVersion } from '../common/package-version';
import { addMigrateCommand } from './commands/migrate.command';
import { addReplayCommand } from './commands/replay.command';
import { addRunsCommands } from './commands/runs.command';
import { addStatsCommand } from './commands/stats.command';
import { addVersionsCommands } from './commands/versions.command';
import { addWorkersCommands } from './commands/workers.command';

/**
 * The `kagzi` command line. Commander reports usage errors by throwing (exitOverride) and prints
 * nothing itself (outputError): main() turns them into one line and exit code 2. Settings are made
 * before the commands are added, which inherit them.
 */
export function buildProgram(): Command {
  const program = new Command('kagzi')
    .description(`Operate Kagzi workflows from the database alone (kagzi ${readPackageVersion(__dirname)})`)
    .option('--database-url <url>', 'PostgreSQL URL (default: $KAGZI_DATABASE_URL, else $DATABASE_URL)')
    .option('--read-database-url <url>', 'a read replica for the commands that only show (default: $KAGZI_READ_DATABASE_URL)')
    .option('--schema <name>', "the schema Kagzi's tables live in", 'kagzi')
    .option('--json', 'print one JSON document instead of tables')
    .exitOverride()
    .configureOutput({ outputError: () => undefined })
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .showSuggestionAfterError(true)
    .addHelpText('after', '\nExit codes: 0 success, 1 error (one line on stderr), 2 bad usage.');
  addRunsCommands(program);
  addVersionsCommands(program);
  addWorkersCommands(program);
  addStatsCommand(program);
  addMigrateCommand(program);
  addReplayCommand(program);
  return program;
}
