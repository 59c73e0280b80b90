import { CommanderError } from 'commander';
import { CliError } from './cli-errors';
import { describeFailure } from './failure-message';
import { buildProgram } from './program';

/** Commander's codes for a command line that is itself wrong: exit code 2. */
const HELP_SHOWN = new Set(['commander.helpDisplayed', 'commander.version']);

/**
 * Runs the CLI on `argv` (process.argv: node, script, then the arguments) and resolves with the exit
 * code: 0 success, 1 error, 2 bad usage. Failures are one line on stderr, `kagzi: …`. The launcher
 * (bin/kagzi.js) exits with the code once the output is written; nothing here calls process.exit.
 */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync([...argv]);
    return 0;
  } catch (err: unknown) {
    if (err instanceof CommanderError) return usageExit(err);
    const failure = err instanceof CliError ? { message: err.message, exitCode: err.exitCode } : describeFailure(err);
    process.stderr.write(`kagzi: ${failure.message}\n`);
    return failure.exitCode;
  }
}

function usageExit(err: CommanderError): number {
  if (HELP_SHOWN.has(err.code)) return 0;
  // commander.help: a command group run without a subcommand; its help is already on stderr.
  if (err.code !== 'commander.help') {
    const message = err.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ');
    process.stderr.write(`kagzi: ${message}; see --help\n`);
  }
  return 2;
}
