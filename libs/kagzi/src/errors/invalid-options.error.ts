import { KagziError } from './kagzi.error';

/** Options passed to Kagzi are malformed (module options, start options, decorator options). */
export class InvalidOptionsError extends KagziError {
  /** Always `'KAGZI_INVALID_OPTIONS'`. */
  readonly code = 'KAGZI_INVALID_OPTIONS';
}
