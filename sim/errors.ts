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
import { BaseError, type BaseErrorOptions } from "../protocol/errors.js";

export type SimErrorOptions = BaseErrorOptions;

/**
 * Base of every error the simulator throws.
 *
 * @example
 * throw new SimulationError("the subnet's epoch did not run", { details: "tempo 10, 24 blocks" });
 */
export class SimError extends BaseError {
  override name = "SimError";
  declare readonly details: string | undefined;
  constructor(shortMessage: string, options: SimErrorOptions = {}) {
    super(
      shortMessage,
      options,
      options.details === undefined ? shortMessage : `${shortMessage}\n\nDetails: ${options.details}`,
    );
  }
}
