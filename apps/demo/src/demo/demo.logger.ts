import { ConsoleLogger } from '@nestjs/common';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** Where the batch demo writes its warnings, relative to the working directory (next to the embedded database). */
export const DEMO_LOG_FILE = '.kagzi/demo.log';

/**
 * Nest logger for the batch demo: warnings and errors only. Warnings (a retried payment, a lease taken
 * over) go to `logFile`, appended one line each, so they never tear the progress bar; `warnings` counts
 * them for the summary. Errors still reach the terminal: while the progress bar is live they go through
 * `sink` (the bar prints them above itself), else to the console.
 */
export class DemoLogger extends ConsoleLogger {
  private sink?: (line: string) => void;
  private fd?: number;
  /** Warnings written to `logFile` so far. */
  warnings = 0;

  constructor(readonly logFile: string = DEMO_LOG_FILE) {
    super({ logLevels: ['warn', 'error', 'fatal'] });
  }

  /** Sends error lines to `sink` until called again without one. */
  routeTo(sink?: (line: string) => void): void {
    this.sink = sink;
  }

  override warn(message: unknown, ...optionalParams: unknown[]): void {
    // Opened on the first warning, so a quiet run leaves no file behind; synchronous writes keep the
    // lines in order and on disk even if the process is killed.
    if (this.fd === undefined) {
      mkdirSync(dirname(this.logFile), { recursive: true });
      this.fd = openSync(this.logFile, 'a');
    }
    writeSync(this.fd, fileLine('WARN', message, optionalParams));
    this.warnings++;
  }

  override error(message: unknown, ...optionalParams: unknown[]): void {
    if (!this.sink) return super.error(message, ...optionalParams);
    this.sink(terminalLine('ERROR', message, optionalParams));
  }

  override fatal(message: unknown, ...optionalParams: unknown[]): void {
    if (!this.sink) return super.fatal(message, ...optionalParams);
    this.sink(terminalLine('FATAL', message, optionalParams));
  }

  /** Closes the log file (a later warning opens it again). */
  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Nest passes (message, context), (message, stack, context) or (message, ...params, context). */
function splitParams(params: unknown[]): { context?: string; rest: unknown[] } {
  const last = params[params.length - 1];
  return typeof last === 'string' ? { context: last, rest: params.slice(0, -1) } : { rest: params };
}

function text(message: unknown): string {
  if (message instanceof Error) return message.message;
  if (typeof message === 'object' && message !== null) return json(message);
  return String(message);
}

function json(value: unknown): string {
  try {
    return JSON.stringify(value, (_key, v: unknown) => (v instanceof Error ? { name: v.name, message: v.message } : typeof v === 'bigint' ? String(v) : v));
  } catch {
    return String(value);
  }
}

/** `2026-01-31T12:00:00.000Z WARN [Kagzi] message {"structured":"params"}` */
function fileLine(level: string, message: unknown, params: unknown[]): string {
  const { context, rest } = splitParams(params);
  const extra = rest.map((p) => ` ${typeof p === 'object' && p !== null ? json(p) : String(p)}`).join('');
  return `${new Date().toISOString()} ${level} ${context ? `[${context}] ` : ''}${text(message).replace(/\n/g, '\\n')}${extra.replace(/\n/g, '\\n')}\n`;
}

function terminalLine(level: string, message: unknown, params: unknown[]): string {
  const { context } = splitParams(params);
  return `${level} ${context ? `[${context}] ` : ''}${text(message)}\n`;
}
