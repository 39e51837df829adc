/**
 * The base of every error protocol/ throws, after viem's BaseError: a short message, optional
 * `details` (what exactly was wrong, for logs) and the `cause`. A subclass only sets its `name`
 * (unique across the codebase, so `instanceof` and `name` both identify it) and, when it carries
 * a field, builds its message from it.
 *
 * @example
 * export class LeafIndexError extends ProtocolError {
 *   override name = "LeafIndexError";
 * }
 * throw new LeafIndexError("leaf indices must be increasing", { details: "[3, 1]" });
 */
export class ProtocolError extends Error {
  override name = "ProtocolError";
  declare readonly details?: string;

  constructor(message: string, options: { cause?: unknown; details?: string } = {}) {
    // No `cause` key at all when there is none: a CodecError with a cause means an unexpected
    // exception was wrapped (see protocol/codec.ts), so an undefined one must not show.
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    if (options.details !== undefined) this.details = options.details;
  }
}
