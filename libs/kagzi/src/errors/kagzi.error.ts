/** Base class of every error Kagzi throws at an API call. `code` is stable and safe to branch on. */
export abstract class KagziError extends Error {
  abstract readonly code: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}
