import { KagziError } from './kagzi.error';

/** A Kagzi API was used where it cannot work, e.g. `ctx.sleep()` inside a step body. */
export class UsageError extends KagziError {
  /** Always `'KAGZI_USAGE'`. */
  readonly code = 'KAGZI_USAGE';
}
