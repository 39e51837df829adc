/**
 * The simulator's errors share one base, {@link SimError}, shaped like viem's `BaseError`: a short
 * message, optional details, and the underlying `cause`. A subclass only names itself:
 *
 * ```ts
 * export class ScenarioError extends SimError {
 *   override name = "ScenarioError";
 * }
 * ```
 *
 * Callers tell them apart with `instanceof`, never by message text.
 */

export interface SimErrorOptions {
  /** What a reader needs beyond the short message (shown after it). */
  details?: string;
  /** The error this one wraps. */
  cause?: unknown;
}

/**
 * Base of every error the simulator throws.
 *
 * @example
 * throw new SimulationError("the subnet's epoch did not run", { details: "tempo 10, 24 blocks" });
 */
export class SimError extends Error {
  override name = "SimError";
  /** The message without its details. */
  readonly shortMessage: string;
  readonly details: string | undefined;
  constructor(shortMessage: string, options: SimErrorOptions = {}) {
    const { details, cause } = options;
    super(
      details === undefined ? shortMessage : `${shortMessage}\n\nDetails: ${details}`,
      cause === undefined ? undefined : { cause },
    );
    this.shortMessage = shortMessage;
    this.details = details;
  }
}
