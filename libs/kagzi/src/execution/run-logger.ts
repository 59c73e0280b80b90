import { Logger } from '@nestjs/common';

/**
 * The structured fields of a library log line about a run. Nest's ConsoleLogger prints them after the
 * text, or as the record's `params` with `json: true` (`flattenParams` puts them at the top level); a
 * custom LoggerService receives them as the optional parameter before the context.
 */
export interface RunLogFields {
  runId: string;
  workflow: string;
  version: number;
  stepKey?: string;
}

/** The library's log lines about one run, each with the run's fields (and the step key where there is one). */
export class RunLogger {
  readonly fields: RunLogFields;

  constructor(
    private readonly logger: Logger,
    run: { runId: string; workflowName: string; version: number },
  ) {
    this.fields = { runId: run.runId, workflow: run.workflowName, version: run.version };
  }

  log(message: string, stepKey?: string): void {
    this.logger.log(message, this.with(stepKey));
  }

  debug(message: string, stepKey?: string): void {
    this.logger.debug(message, this.with(stepKey));
  }

  warn(message: string, stepKey?: string): void {
    this.logger.warn(message, this.with(stepKey));
  }

  error(message: string, stepKey?: string): void {
    this.logger.error(message, this.with(stepKey));
  }

  private with(stepKey: string | undefined): RunLogFields {
    return stepKey === undefined ? { ...this.fields } : { ...this.fields, stepKey };
  }
}
