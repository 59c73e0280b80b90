import { KagziError } from './kagzi.error';

/** A value cannot be stored: it holds a function, a symbol, a class instance Kagzi cannot rebuild, or a cycle. */
export class UnserializableValueError extends KagziError {
  /** Always `'KAGZI_UNSERIALIZABLE_VALUE'`. */
  readonly code = 'KAGZI_UNSERIALIZABLE_VALUE';
}
