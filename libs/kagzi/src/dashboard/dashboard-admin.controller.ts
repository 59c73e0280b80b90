import { Body, Controller, Get, HttpCode, Inject, Param, Post, UseFilters, UseGuards } from '@nestjs/common';
import { WorkflowClient } from '../client/workflow.client';
import { ScheduleInfo, WorkerInfo, WorkflowVersionInfo } from '../interfaces/run.interface';
import { assertWritable } from './dashboard-api.controller';
import { DashboardErrorsFilter } from './dashboard-errors.filter';
import { defaultVersionBody, emptyBody, parseInput, versionParam } from './dashboard-input';
import { DASHBOARD_OPTIONS, ResolvedDashboardOptions } from './dashboard-options';
import { DashboardGuard } from './dashboard.guard';
import { DashboardStats, DashboardStore } from './dashboard.store';

/** The dashboard's JSON API for workflows and versions, workers, schedules and overall figures. */
@Controller('api')
@UseGuards(DashboardGuard)
@UseFilters(DashboardErrorsFilter)
export class DashboardAdminController {
  constructor(
    private readonly client: WorkflowClient,
    private readonly store: DashboardStore,
    @Inject(DASHBOARD_OPTIONS) private readonly options: ResolvedDashboardOptions,
  ) {}

  @Get('workflows')
  workflows(): Promise<Array<{ name: string; versions: WorkflowVersionInfo[] }>> {
    return this.store.workflows();
  }

  @Post('workflows/:name/default')
  @HttpCode(200)
  async setDefault(@Param('name') name: string, @Body() body: unknown): Promise<{ name: string; version: number }> {
    assertWritable(this.options, 'setting the default version');
    const { version } = parseInput(defaultVersionBody, body, 'body');
    await this.client.setDefaultVersion(name, version);
    return { name, version };
  }

  @Post('workflows/:name/versions/:version/deprecate')
  @HttpCode(200)
  async deprecate(@Param('name') name: string, @Param('version') raw: string, @Body() body: unknown): Promise<{ name: string; version: number }> {
    assertWritable(this.options, 'deprecating a version');
    const version = parseInput(versionParam, raw, 'version');
    parseInput(emptyBody, body, 'body');
    await this.client.deprecateVersion(name, version);
    return { name, version };
  }

  @Get('workers')
  workers(): Promise<WorkerInfo[]> {
    return this.client.listWorkers();
  }

  @Get('schedules')
  schedules(): Promise<ScheduleInfo[]> {
    return this.client.listSchedules();
  }

  @Get('stats')
  stats(): Promise<DashboardStats> {
    return this.store.stats();
  }
}
