/**
 * Errors from the chain, as named classes. A module error carries the pallet and error names
 * from the metadata (`subtensorModule.SettingWeightsTooFast`), so callers match on `error.error`
 * rather than on message text.
 */
export class ChainError extends Error {
  override name = "ChainError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A dispatched extrinsic failed with a pallet error (`System.ExtrinsicFailed`). */
export class ChainModuleError extends ChainError {
  override name = "ChainModuleError";
  constructor(
    /** Pallet name as @polkadot/api shows it, e.g. `subtensorModule`. */
    readonly section: string,
    /** Error variant name, e.g. `IncorrectWeightVersionKey`. */
    readonly error: string,
    readonly docs: string,
  ) {
    super(`${section}.${error}${docs ? `: ${docs}` : ""}`);
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
