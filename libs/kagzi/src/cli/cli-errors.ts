/** A failure the CLI reports as one line on stderr (`kagzi: <message>`), exit code 1. */
export class CliError extends Error {
  readonly exitCode: number = 1;
}

/** The command line itself is wrong (a missing or conflicting argument): exit code 2. */
export class CliUsageError extends CliError {
  override readonly exitCode: number = 2;
}
