import { ConsoleLogger } from '@nestjs/common';

/**
 * Nest logger for the batch demo: warnings and errors only. While the progress bar is live, lines go
 * through `sink` (the bar prints them above itself) instead of tearing the bar apart.
 */
export class DemoLogger extends ConsoleLogger {
  private sink?: (line: string) => void;

  constructor() {
    super({ logLevels: ['warn', 'error', 'fatal'] });
  }

  /** Sends lines to `sink` until called again without one. */
  routeTo(sink?: (line: string) => void): void {
    this.sink = sink;
  }

  override warn(message: unknown, ...optionalParams: unknown[]): void {
    if (!this.sink) return super.warn(message, ...optionalParams);
    this.sink(this.line('WARN', message, optionalParams));
  }

  override error(message: unknown, ...optionalParams: unknown[]): void {
    if (!this.sink) return super.error(message, ...optionalParams);
    this.sink(this.line('ERROR', message, optionalParams));
  }

  private line(level: string, message: unknown, params: unknown[]): string {
    // Nest passes (message, context) or (message, stack, context).
    const context = params.length > 0 && typeof params[params.length - 1] === 'string' ? String(params[params.length - 1]) : undefined;
    const text = message instanceof Error ? message.message : String(message);
    return `${level} ${context ? `[${context}] ` : ''}${text}\n`;
  }
}
