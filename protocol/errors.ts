/**
 * The one error base of the codebase, after viem's BaseError: a short message, optional `details`
 * (what exactly was wrong, for logs) and the `cause`. Each layer has its own subclass
 * (`ProtocolError` here, `ChainLayerError`, `DevChainError`, `NodeError`, `SimError`), and an
 * error class below it only sets its `name` (unique across the codebase, so `instanceof` and `name`
 * both identify it) and, when it carries a field, builds its message from it.
 *
 * @example
 * export class LeafIndexError extends ProtocolError {
 *   override name = "LeafIndexError";
 * }
 * throw new LeafIndexError("leaf indices must be increasing", { details: "[3, 1]" });
 */
export interface BaseErrorOptions {
  /** What a reader needs beyond the short message. */
  details?: string | undefined;
  /** The error this one wraps. */
  cause?: unknown;
}

export class BaseError extends Error {
  override name = "BaseError";
  /** The message as given, without details a layer may append to `message`. */
  readonly shortMessage: string;
  declare readonly details?: string;

  /**
   * `message` defaults to `shortMessage`; a layer that shows details in its messages passes the
   * joined text.
   */
  constructor(shortMessage: string, options: BaseErrorOptions = {}, message: string = shortMessage) {
    // No `cause` key at all when there is none: a CodecError with a cause means an unexpected
    // exception was wrapped (see protocol/codec.ts), so an undefined one must not show.
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.shortMessage = shortMessage;
    if (options.details) this.details = options.details;
  }
}

/** The base of every error protocol/ throws. */
export class ProtocolError extends BaseError {
  override name = "ProtocolError";
}
