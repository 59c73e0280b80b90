import { KagziError } from './kagzi.error';

/** A serialized input or output is larger than maxPayloadBytes. */
export class PayloadTooLargeError extends KagziError {
  /** Always `'KAGZI_PAYLOAD_TOO_LARGE'`. */
  readonly code = 'KAGZI_PAYLOAD_TOO_LARGE';
}
