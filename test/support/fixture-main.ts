/**
 * The frame of a fixture that runs in a process of its own (see fixture-process.ts for the parent's
 * side): events to the parent as JSON lines on stdout, an orphan guard, and errors reported as events.
 */

/** One event to the parent. stdout to a pipe is synchronous on Linux: a line written right before SIGKILL reaches it. */
export function emit(event: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ ...event, t: Date.now() })}\n`);
}

/**
 * Runs the fixture's `main`. The parent holds our stdin open: when it goes away (even by SIGKILL) we go
 * too. A failed `main` or an unhandled rejection is reported as an `error` event (and a failed `main` exits 1).
 */
export function runFixture(main: () => Promise<void>): void {
  process.stdin.on('end', () => process.exit(3)).on('error', () => undefined).resume();
  process.on('unhandledRejection', (err) => emit({ event: 'error', message: String(err instanceof Error ? err.stack : err) }));
  main().catch((err: unknown) => {
    emit({ event: 'error', message: String(err instanceof Error ? err.stack : err) });
    process.exit(1);
  });
}
