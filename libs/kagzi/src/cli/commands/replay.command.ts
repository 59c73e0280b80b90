import { Command } from 'commander';
import { CliError } from '../cli-errors';
import { kagziAction } from '../kagzi-action';
import { parseInteger, parseStatuses } from '../option-values';

const MAX_VERSION = 2 ** 31 - 1;

interface ReplayOptions {
  app: string;
  export?: string;
  workflow: string;
  version?: string;
  status?: string;
  limit: string;
}

/**
 * `kagzi replay`: the pre-deploy check "would this build break runs in flight?". The one command that
 * loads app code: the app's module, booted in replay mode (it writes nothing), replays stored runs of
 * the CLI's database against the build's workflow code. Exit 1 when any run would fail.
 */
export function addReplayCommand(program: Command): void {
  program
    .command('replay')
    .description("replays stored runs against an app's current code (loaded from --app, booted read-only): would this build break runs in flight?")
    .requiredOption('--app <path>', "the app's module file, compiled JavaScript (e.g. dist/app.module.js)")
    .option('--export <name>', 'the exported module class (default: AppModule, else the default export, else the only exported @Module class)')
    .requiredOption('--workflow <name>', 'replay runs of this workflow')
    .option('--version <n>', 'only runs of this version')
    .option('--status <status>', 'only runs with this status, or any of a comma-separated list (e.g. RUNNING,SLEEPING,WAITING: the runs in flight)')
    .option('--limit <n>', 'at most this many runs, the newest first, 1 to 10000', '100')
    .addHelpText(
      'after',
      [
        '',
        'Each run replays its recorded history without side effects (no step body runs,',
        'nothing is written). Verdicts: ok completed, ok continues at <the next call>,',
        'ok fails as recorded; NON-DETERMINISTIC (a call no longer matches its record),',
        'FAILS (the code throws where the run did not), NOT REGISTERED (a run in flight',
        'of a version the app does not register). Exit 0 when every run is ok, 1 when',
        'any would fail.',
      ].join('\n'),
    )
    .action(
      kagziAction<ReplayOptions>(async ({ options, session, target }) => {
        if (options.workflow.trim() === '') throw new CliError('--workflow must not be empty');
        const selection = {
          workflow: options.workflow,
          version: options.version === undefined ? undefined : parseInteger('--version', options.version, { min: 1, max: MAX_VERSION }),
          statuses: options.status === undefined ? undefined : parseStatuses('--status', options.status),
          limit: parseInteger('--limit', options.limit, { min: 1, max: 10_000 }),
        };
        // Loaded on use, like the session: --help and usage errors never load Nest.
        const [{ bootReplayApp }, { replayStoredRuns }, { replayOutput }] = await Promise.all([
          import('../replay/replay-app'),
          import('../replay/replay-runs'),
          import('../replay/replay-output'),
        ]);
        // An app whose KagziModule takes its database from the environment replays on the CLI's.
        if (!process.env.KAGZI_DATABASE_URL && !process.env.DATABASE_URL) process.env.DATABASE_URL = target.url;
        const app = await bootReplayApp(options.app, options.export);
        try {
          const versions = app.workflows.filter((w) => w.name === selection.workflow).map((w) => w.version);
          if (versions.length === 0) {
            const names = [...new Set(app.workflows.map((w) => `"${w.name}"`))].join(', ') || 'none';
            throw new CliError(`the app's ${app.label} does not register workflow "${selection.workflow}" (its workflows: ${names})`);
          }
          if (selection.version !== undefined && !versions.includes(selection.version)) {
            throw new CliError(`the app's ${app.label} does not register ${selection.workflow} v${selection.version} (it registers v${versions.join(', v')})`);
          }
          const verdicts = await replayStoredRuns((await session({ replica: true })).database.reads, app, selection);
          return replayOutput(selection.workflow, verdicts);
        } finally {
          await app.close().catch(() => undefined);
        }
      }),
    );
}
