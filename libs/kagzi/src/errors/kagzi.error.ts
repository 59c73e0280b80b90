/** Base class of every error Kagzi throws at an API call. `code` is stable and safe to branch on. */
export abstract class KagziError extends Error {
  /** A stable `KAGZI_…` string naming the failure, one per subclass; branch on it rather than on the message. */
  abstract readonly code: string;

  /**
   * @param message - Says what failed and what to do about it.
   * @param options - `cause`: the underlying error, if any.
   */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}
