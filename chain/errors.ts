/**
 * The chain layer's errors (chain client, wallets, Yuma) share one base, {@link ChainLayerError},
 * shaped like viem's `BaseError`: a short message, optional details and the underlying `cause`.
 * A subclass only names itself (and adds a field where it carries data):
 *
 * ```ts
 * export class ChainUnavailableError extends ChainError {
 *   override name = "ChainUnavailableError";
 * }
 * ```
 *
 * Callers tell them apart with `instanceof`, never by message text. A module error carries the
 * pallet and error names from the metadata (`subtensorModule.SettingWeightsTooFast`), so callers
 * match on `error.error`.
 */
import { BaseError, type BaseErrorOptions } from "../protocol/errors.js";

export type ChainLayerErrorOptions = BaseErrorOptions;

/**
 * Base of every error the chain layer throws.
 *
 * @example
 * throw new ChainError("cannot read the inclusion block", { cause });
 */
export class ChainLayerError extends BaseError {
  override name = "ChainLayerError";
  declare readonly details: string | undefined;
  constructor(shortMessage: string, options: ChainLayerErrorOptions = {}) {
    super(shortMessage, options, options.details ? `${shortMessage}: ${options.details}` : shortMessage);
  }
}

/** An error from the chain or the client talking to it. */
export class ChainError extends ChainLayerError {
  override name = "ChainError";
}

/** A dispatched extrinsic failed with a pallet error (`System.ExtrinsicFailed`). */
export class ChainModuleError extends ChainError {
  override name = "ChainModuleError";
  constructor(
    /** Pallet name as @polkadot/api shows it, e.g. `subtensorModule`. */
    readonly section: string,
    /** Error variant name, e.g. `IncorrectWeightVersionKey`. */
    readonly error: string,
    /** The error's documentation from the metadata (also its `details`). */
    readonly docs: string,
  ) {
    super(`${section}.${error}`, { details: docs });
  }
}

/** A dispatch error that is not a module error (BadOrigin, Token, Arithmetic, …). */
export class ChainDispatchError extends ChainError {
  override name = "ChainDispatchError";
  constructor(readonly kind: string) {
    super(`dispatch failed: ${kind}`);
  }
}

/** The node refused the transaction before inclusion (invalid signature, nonce, `1010` errors). */
export class TransactionRejectedError extends ChainError {
  override name = "TransactionRejectedError";
}

/** The chain endpoint could not be reached in time. */
export class ChainUnavailableError extends ChainError {
  override name = "ChainUnavailableError";
}
