import { KagziError } from './kagzi.error';

/** That version is deprecated: no new runs may start on it (runs in flight still finish). */
export class WorkflowVersionDeprecatedError extends KagziError {
  /** Always `'KAGZI_VERSION_DEPRECATED'`. */
  readonly code = 'KAGZI_VERSION_DEPRECATED';
}
