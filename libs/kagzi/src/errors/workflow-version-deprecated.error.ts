import { KagziError } from './kagzi.error';

/** That version is deprecated: no new runs may start on it (runs in flight still finish). */
export class WorkflowVersionDeprecatedError extends KagziError {
  readonly code = 'KAGZI_VERSION_DEPRECATED';
}
