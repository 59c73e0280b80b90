import { CanActivate, Type } from '@nestjs/common';
import { InvalidOptionsError } from '../errors/invalid-options.error';

/** `KagziDashboardModule.forRoot(options)`. */
export interface KagziDashboardOptions {
  /** Where the UI is served; its JSON API is under `${path}/api`. Default '/kagzi'. */
  path?: string;
  /** Refuse every action (cancel, retry, signal, set default, deprecate) with 403; reading stays open. Default false. */
  readOnly?: boolean;
  /**
   * Guards run before every route of the dashboard, page and API alike, in order (resolved by Nest, so
   * they can inject services). A guard that returns false answers 403. Default none: the dashboard is
   * open to anyone who reaches the app, and a warning says so at boot unless it is read-only.
   */
  guards?: Array<Type<CanActivate>>;
}

export interface ResolvedDashboardOptions {
  /** Normalised: a leading slash, no trailing one ('/kagzi', '/admin/runs'). */
  path: string;
  readOnly: boolean;
  guards: Array<Type<CanActivate>>;
}

export const DASHBOARD_OPTIONS = Symbol('KAGZI_DASHBOARD_OPTIONS');

const SEGMENT = /^[A-Za-z0-9._~-]+$/;

export function resolveDashboardOptions(options: KagziDashboardOptions): ResolvedDashboardOptions {
  const problems: string[] = [];
  const known = new Set(['path', 'readOnly', 'guards']);
  for (const key of Object.keys(options)) if (!known.has(key)) problems.push(`unknown option "${key}"`);
  const raw = options.path ?? '/kagzi';
  let path = '/kagzi';
  if (typeof raw !== 'string') problems.push('path: expected a string such as "/kagzi"');
  else {
    const segments = raw.split('/').filter((s) => s.length > 0);
    if (segments.length === 0) problems.push(`path: "${raw}" is the root; mount the dashboard under a path such as "/kagzi"`);
    else if (!segments.every((s) => SEGMENT.test(s) && s !== '.' && s !== '..')) problems.push(`path: "${raw}" may hold only letters, digits and . _ ~ - between slashes`);
    else path = `/${segments.join('/')}`;
  }
  if (options.readOnly !== undefined && typeof options.readOnly !== 'boolean') problems.push('readOnly: expected true or false');
  const guards = options.guards ?? [];
  if (!Array.isArray(guards) || !guards.every((g) => typeof g === 'function')) problems.push('guards: expected an array of guard classes (CanActivate)');
  if (problems.length > 0) throw new InvalidOptionsError(`Invalid KagziDashboardModule options: ${problems.join('; ')}`);
  return { path, readOnly: options.readOnly ?? false, guards };
}
