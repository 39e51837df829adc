/**
 * The base of the nodes' errors (neurons/): a short message, optional details and the cause, as
 * viem's `BaseError`. Subclasses set only their `name` (unique across the nodes) and message;
 * callers match them with `instanceof`, never by message text.
 *
 * @example
 * export class StartupError extends NodeError {
 *   override name = "StartupError";
 * }
 * throw new StartupError("cannot reach the chain", { cause, details: endpoint });
 */
export class NodeError extends Error {
  override name = "NodeError";
  readonly details?: string;
  constructor(message: string, options?: { cause?: unknown; details?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    if (options?.details !== undefined) this.details = options.details;
  }
}
