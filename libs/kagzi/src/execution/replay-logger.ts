import { Logger, LoggerService } from '@nestjs/common';

type Level = 'log' | 'error' | 'warn' | 'debug' | 'verbose' | 'fatal';

/**
 * `ctx.logger`: a Nest LoggerService for workflow code that writes each line once, not once per replay.
 *
 * A line logged while the run replays its history is held until the code's next durable operation in
 * the same strand (the top level, or a parallel branch) shows where the line was: if that operation
 * finds its record, an earlier execution already passed this point and wrote the line, so it is
 * dropped; if the operation is new (or the strand ends), the line is written now. A run with no history
 * writes at once. Every line names the run, its workflow and version.
 */
export class ReplayLogger implements LoggerService {
  private readonly logger: Logger;
  /** Lines held per strand (scope path) until the strand's next operation decides. */
  private readonly held = new Map<string, Array<() => void>>();
  /** Strands that have done new work: everything they log from now on is new. */
  private readonly fresh = new Set<string>();

  constructor(
    private readonly prefix: string,
    workflowName: string,
    /** Whether the run has a history to replay (false: everything is new). */
    private readonly replaying: () => boolean,
    /** The scope path of the code calling the logger now. */
    private readonly strand: () => string,
  ) {
    this.logger = new Logger(workflowName);
  }

  log(message: unknown, ...optionalParams: unknown[]): void {
    this.write('log', message, optionalParams);
  }
  error(message: unknown, ...optionalParams: unknown[]): void {
    this.write('error', message, optionalParams);
  }
  warn(message: unknown, ...optionalParams: unknown[]): void {
    this.write('warn', message, optionalParams);
  }
  debug(message: unknown, ...optionalParams: unknown[]): void {
    this.write('debug', message, optionalParams);
  }
  verbose(message: unknown, ...optionalParams: unknown[]): void {
    this.write('verbose', message, optionalParams);
  }
  fatal(message: unknown, ...optionalParams: unknown[]): void {
    this.write('fatal', message, optionalParams);
  }

  /** A durable operation of the strand at `path` found its record (`replayed`) or does new work. */
  decided(path: string, replayed: boolean): void {
    const lines = this.held.get(path);
    this.held.delete(path);
    if (replayed) return;
    this.fresh.add(path);
    lines?.forEach((line) => line());
  }

  /** The run's code ended here: what it logged after its last recorded operation is new. */
  flush(): void {
    for (const path of [...this.held.keys()]) this.decided(path, false);
  }

  private write(level: Level, message: unknown, optionalParams: unknown[]): void {
    const text = typeof message === 'string' ? `${this.prefix}${message}` : message;
    const line = (): void => (this.logger[level] as (m: unknown, ...p: unknown[]) => void)(text, ...optionalParams);
    const path = this.strand();
    if (!this.replaying() || this.fresh.has(path)) return line();
    const lines = this.held.get(path) ?? [];
    lines.push(line);
    this.held.set(path, lines);
  }
}

/** The scope path a step key belongs to: `$parallel#1[0]/pay#1` → `$parallel#1[0]/`, top level ''. */
export function pathOfKey(key: string): string {
  return key.slice(0, key.lastIndexOf('/') + 1);
}
