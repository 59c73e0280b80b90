import { BadRequestException, CanActivate, ExecutionContext, ForbiddenException, Inject, Injectable, Type } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { isObservable, lastValueFrom } from 'rxjs';
import { DASHBOARD_OPTIONS, ResolvedDashboardOptions } from './dashboard-options';

/**
 * Runs the guards of the options before every dashboard route, in order; the first that says no ends
 * the request with 403 `{ code: 'KAGZI_FORBIDDEN' }` (a guard may also throw its own HttpException).
 * Actions must come as JSON (`content-type: application/json`): a browser sends JSON cross-site only
 * after a CORS preflight, so another site's page cannot post a form or a text body that acts on runs.
 */
@Injectable()
export class DashboardGuard implements CanActivate {
  private guards?: CanActivate[];

  constructor(
    @Inject(DASHBOARD_OPTIONS) private readonly options: ResolvedDashboardOptions,
    private readonly moduleRef: ModuleRef,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<{ method?: string; headers?: Record<string, string | string[] | undefined> }>();
    if (request.method === 'POST' && !/^application\/json\s*(;|$)/i.test(String(request.headers?.['content-type'] ?? ''))) {
      throw new BadRequestException({ code: 'KAGZI_BAD_REQUEST', message: 'Dashboard actions take a JSON body: send content-type: application/json' });
    }
    // Resolved at the first request: every provider exists by then, whatever the module order.
    this.guards ??= await Promise.all(this.options.guards.map((type) => this.resolve(type)));
    for (const guard of this.guards) {
      const verdict = guard.canActivate(context);
      const allowed = isObservable(verdict) ? await lastValueFrom(verdict) : await verdict;
      if (!allowed) throw new ForbiddenException({ code: 'KAGZI_FORBIDDEN', message: `Access to the Kagzi dashboard was denied by ${guard.constructor.name}` });
    }
    return true;
  }

  /** The app's instance when the guard is one of its providers (its dependencies resolved there), else one made here. */
  private async resolve(type: Type<CanActivate>): Promise<CanActivate> {
    try {
      return this.moduleRef.get(type, { strict: false });
    } catch {
      return this.moduleRef.create(type);
    }
  }
}
