import { DynamicModule, Inject, Logger, Module, OnApplicationBootstrap } from '@nestjs/common';
import { RouterModule } from '@nestjs/core';
import { DashboardAdminController } from './dashboard-admin.controller';
import { DashboardApiController } from './dashboard-api.controller';
import { DASHBOARD_OPTIONS, KagziDashboardOptions, ResolvedDashboardOptions, resolveDashboardOptions } from './dashboard-options';
import { DashboardUiController } from './dashboard-ui.controller';
import { DashboardGuard } from './dashboard.guard';
import { DashboardStore } from './dashboard.store';

/**
 * `KagziDashboardModule.forRoot({ path?, readOnly?, guards? })`: a UI to see and operate runs, and its
 * JSON API under `${path}/api`, served by the app itself. Needs `KagziModule` (global by default) in the
 * same app. Guards apply to every route; without one, and unless read-only, a warning at boot says the
 * dashboard is open.
 */
@Module({})
export class KagziDashboardModule implements OnApplicationBootstrap {
  /** @internal Nest creates the module. */
  constructor(@Inject(DASHBOARD_OPTIONS) private readonly options: ResolvedDashboardOptions) {}

  /** Nest calls it: warns once when the dashboard has no guards and is not read-only. */
  onApplicationBootstrap(): void {
    if (this.options.guards.length > 0 || this.options.readOnly) return;
    new Logger('KagziDashboard').warn(
      `The dashboard at ${this.options.path} is open: anyone who reaches this app can cancel, retry and signal runs. ` +
        'Pass guards (KagziDashboardModule.forRoot({ guards: [YourAuthGuard] })) or readOnly: true.',
    );
  }

  /**
   * The dashboard module, served under `options.path` (default `'/kagzi'`), writable unless `readOnly`, behind `guards`.
   * @throws {InvalidOptionsError} when an option is unknown or malformed (a bad path, `readOnly` not a boolean, `guards` not an array of guard classes).
   */
  static forRoot(options: KagziDashboardOptions = {}): DynamicModule {
    const resolved = resolveDashboardOptions(options);
    return {
      module: KagziDashboardModule,
      imports: [RouterModule.register([{ path: resolved.path, module: KagziDashboardModule }])],
      controllers: [DashboardApiController, DashboardAdminController, DashboardUiController],
      providers: [{ provide: DASHBOARD_OPTIONS, useValue: resolved }, DashboardGuard, DashboardStore],
    };
  }
}
