import { Command, OptionValues } from 'commander';
import { CliError, CliUsageError } from './cli-errors';
import { CliTarget, GlobalOptions, resolveTarget } from './cli-target';
import { describeFailure } from './failure-message';
import type { KagziSession } from './kagzi-session';

/** What a command hands back: its --json document, its human form, and whether it still failed. */
export interface CommandOutput {
  /** Printed with --json: one JSON document on stdout. */
  data: unknown;
  /** Printed otherwise. */
  text: string;
  /** The output is printed, then this is reported (`kagzi: …`, exit 1): e.g. a bulk retry that wants --yes. */
  failure?: string;
}

export interface ActionContext<O extends OptionValues> {
  /** The command's positional arguments, in declaration order. */
  args: string[];
  options: O;
  target: CliTarget;
  /**
   * Opens the Kagzi session (once); validate arguments before calling it, so bad input costs no connection.
   * `replica`: the command only displays, so its client reads from the read replica if one is configured.
   */
  session(options?: { migrate?: boolean; replica?: boolean }): Promise<KagziSession>;
}

/**
 * Wraps a command handler for commander: resolves the database from the global options, opens the
 * session on demand and always closes it, prints the output as JSON or text, and turns any failure
 * into a CliError carrying its one-line message (with the database's URL, password hidden).
 */
export function kagziAction<O extends OptionValues = OptionValues>(handler: (context: ActionContext<O>) => Promise<CommandOutput>): (...received: unknown[]) => Promise<void> {
  return async (...received: unknown[]) => {
    const command = received[received.length - 1] as Command;
    const globals = command.optsWithGlobals<GlobalOptions & O>();
    const target = resolveTarget(globals);
    let opened: Promise<KagziSession> | undefined;
    let output: CommandOutput;
    try {
      output = await handler({
        args: received.slice(0, -2).map((arg) => arg as string),
        options: command.opts<O>(),
        target,
        // Loaded on first use: --help and usage errors never load Nest, TypeORM and pg.
        session: (options) =>
          (opened ??= import('./kagzi-session').then((m) => m.openSession(target, { migrate: options?.migrate ?? false, replica: options?.replica ?? false }))),
      });
    } catch (err: unknown) {
      const failure = describeFailure(err, target);
      throw failure.exitCode === 2 ? new CliUsageError(failure.message) : new CliError(failure.message);
    } finally {
      await opened?.then((s) => s.close()).catch(() => undefined);
    }
    process.stdout.write(`${globals.json ? JSON.stringify(output.data, null, 2) : output.text}\n`);
    if (output.failure) throw new CliError(output.failure);
  };
}
