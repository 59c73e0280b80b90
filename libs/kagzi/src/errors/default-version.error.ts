import { KagziError } from './kagzi.error';

/** The operation would leave a workflow without a usable default, e.g. deprecating the current default. */
export class DefaultVersionError extends KagziError {
  /** Always `'KAGZI_DEFAULT_VERSION'`. */
  readonly code = 'KAGZI_DEFAULT_VERSION';
}
