import { Injectable, SetMetadata, applyDecorators } from '@nestjs/common';
import { WORKFLOW_METADATA } from '../kagzi.constants';

/** What `@Workflow()` takes; every field is optional. */
export interface WorkflowOptions {
  /** Default: the class name. */
  name?: string;
  /** Default 1. */
  version?: number;
  /**
   * Starts a run on a cron schedule: `'0 3 * * *'` (UTC), or `{ cron: '0 3 * * *', timezone: 'Europe/Berlin' }`
   * with an IANA time zone. Five fields, or six with seconds first. The run's input is `{ scheduledAt: Date }` (the tick);
   * exactly one run per tick across all worker processes; a tick while the schedule's previous run is
   * still in flight is skipped (counted in `listSchedules()`); ticks missed while no worker ran are not
   * replayed. Only the schedule of the workflow's default version ticks. Checked at boot. See docs/schedules.md.
   */
  schedule?:
    | string
    | {
        /** The cron expression: five fields, or six with seconds first. */
        cron: string;
        /** An IANA time zone the expression is read in. Default `'UTC'`. */
        timezone?: string;
      };
}

/**
 * Marks a provider class as a workflow (and makes it `@Injectable()`). The class must implement `run(input, ctx)`.
 * Checked at boot: an InvalidOptionsError when the class has no `run`, is not a singleton, or a name, version or schedule is invalid.
 */
export function Workflow(options: WorkflowOptions = {}): ClassDecorator {
  return applyDecorators(Injectable(), SetMetadata(WORKFLOW_METADATA, options));
}
