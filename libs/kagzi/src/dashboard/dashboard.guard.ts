import { CanActivate, ExecutionContext, ForbiddenException, Inject, Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { isObservable, lastValueFrom } from 'rxjs';
import { DASHBOARD_OPTIONS, ResolvedDashboardOptions } from './dashboard-options';

/**
 * Runs the guards of the options before every dashboard route, in order; the first that says no ends
 * the request with 403 `{ code: 'KAGZI_FORBIDDEN' }` (a guard may also throw its own HttpException).
 */
@Injectable()
export class DashboardGuard implements CanActivate {
  private guards?: CanActivate[];

  constructor(
    @Inject(DASHBOARD_OPTIONS) private readonly options: ResolvedDashboardOptions,
    private readonly moduleRef: ModuleRef,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    // Resolved at the first request: every provider exists by then, whatever the module order.
    this.guards ??= this.options.guards.map((type) => this.moduleRef.get(type, { strict: false }));
    for (const guard of this.guards) {
      const verdict = guard.canActivate(context);
      const allowed = isObservable(verdict) ? await lastValueFrom(verdict) : await verdict;
      if (!allowed) throw new ForbiddenException({ code: 'KAGZI_FORBIDDEN', message: `Access to the Kagzi dashboard was denied by ${guard.constructor.name}` });
    }
    return true;
  }
}
