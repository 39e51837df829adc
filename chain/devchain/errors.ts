/**
 * The dev chain's base error and the pool's refusal. Every dev-chain error extends
 * {@link DevChainError}, so callers match a family by `instanceof` and a case by its class, never
 * by message text.
 */
import { BaseError, type BaseErrorOptions } from "../../protocol/errors.js";

export type DevChainErrorOptions = BaseErrorOptions;

/**
 * Base of the dev chain's errors: a short message, optional details and the cause (viem's
 * `BaseError` shape). Subclasses set their `name`; those that carry data add a field for it.
 *
 * @example throw new DevChainError("the dev chain is not started");
 */
export class DevChainError extends BaseError {
  override name = "DevChainError";
  declare readonly details: string | undefined;
}

/**
 * The transaction pool refused a submitted transaction before inclusion, as a node's
 * `author_submitExtrinsic` does: `code` is the JSON-RPC error code that travels on the wire
 * (1010 invalid transaction, 1013 already imported, 1016 pool full) and `details` the error's `data`.
 */
export class PoolRejectionError extends DevChainError {
  override name = "PoolRejectionError";
  constructor(
    readonly code: 1010 | 1013 | 1016,
    message: string,
    options: DevChainErrorOptions = {},
  ) {
    super(message, options);
  }
}
