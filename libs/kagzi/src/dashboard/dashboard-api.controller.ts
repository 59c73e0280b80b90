import { Body, Controller, ForbiddenException, Get, HttpCode, Inject, Param, Post, Query, UseFilters, UseGuards } from '@nestjs/common';
import { WorkflowClient } from '../client/workflow.client';
import { RunNotActiveError } from '../errors/run-not-active.error';
import { Page, RunDetails, RunSummary, TERMINAL_STATUSES } from '../interfaces/run.interface';
import { KAGZI_VERSION } from '../kagzi.constants';
import { DashboardErrorsFilter } from './dashboard-errors.filter';
import { cancelBody, emptyBody, parseInput, runsQuery, signalBody } from './dashboard-input';
import { DASHBOARD_OPTIONS, ResolvedDashboardOptions } from './dashboard-options';
import { DashboardGuard } from './dashboard.guard';
import { DashboardStore } from './dashboard.store';

/** Refuses an action of a read-only dashboard with 403 `{ code: 'KAGZI_READ_ONLY' }`. */
export function assertWritable(options: ResolvedDashboardOptions, action: string): void {
  if (options.readOnly) {
    throw new ForbiddenException({ code: 'KAGZI_READ_ONLY', message: `The dashboard is read-only (KagziDashboardModule.forRoot({ readOnly: true })), so ${action} is refused` });
  }
}

/** The dashboard's JSON API for runs: list and search, details, and the actions on a run. */
@Controller('api')
@UseGuards(DashboardGuard)
@UseFilters(DashboardErrorsFilter)
export class DashboardApiController {
  constructor(
    private readonly client: WorkflowClient,
    private readonly store: DashboardStore,
    @Inject(DASHBOARD_OPTIONS) private readonly options: ResolvedDashboardOptions,
  ) {}

  /** What the UI needs before its first view. */
  @Get('info')
  info(): { path: string; readOnly: boolean; version: string } {
    return { path: this.options.path, readOnly: this.options.readOnly, version: KAGZI_VERSION };
  }

  /** Newest first, keyset-paged; `q` finds a run by id or idempotency key (one page, no cursor). */
  @Get('runs')
  async runs(@Query() query: unknown): Promise<Page<RunSummary>> {
    const { workflow, status, q, cursor, limit = 50 } = parseInput(runsQuery, query, 'query');
    if (q !== undefined) return { items: await this.store.search(q, { name: workflow, statuses: status, limit }) };
    return this.client.listRuns({ name: workflow, status, cursor, limit });
  }

  @Get('runs/:runId')
  run(@Param('runId') runId: string): Promise<RunDetails> {
    return this.client.getRun(runId);
  }

  @Post('runs/:runId/cancel')
  @HttpCode(200)
  async cancel(@Param('runId') runId: string, @Body() body: unknown): Promise<{ runId: string }> {
    assertWritable(this.options, 'cancelling a run');
    const { reason } = parseInput(cancelBody, body, 'body');
    const status = await this.client.getHandle(runId).status();
    if (TERMINAL_STATUSES.includes(status)) throw new RunNotActiveError(`Run ${runId} has already ended (${status}); there is nothing to cancel`);
    await this.client.cancel(runId, reason ?? 'cancelled from the Kagzi dashboard');
    return { runId };
  }

  @Post('runs/:runId/retry')
  @HttpCode(200)
  async retry(@Param('runId') runId: string, @Body() body: unknown): Promise<{ runId: string }> {
    assertWritable(this.options, 'retrying a run');
    parseInput(emptyBody, body, 'body');
    await this.client.retry(runId);
    return { runId };
  }

  @Post('runs/:runId/signal')
  @HttpCode(200)
  async signal(@Param('runId') runId: string, @Body() body: unknown): Promise<{ runId: string }> {
    assertWritable(this.options, 'sending a signal');
    const { name, payload } = parseInput(signalBody, body, 'body');
    await this.client.signal(runId, name, payload);
    return { runId };
  }
}
