/** The dev chain's errors. */

export class DevChainError extends Error {
  override name = "DevChainError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A submitted transaction the pool refused; `code` is the JSON-RPC error code a node would send. */
export class TransactionRejectedError extends Error {
  override name = "TransactionRejectedError";
  constructor(
    readonly code: number,
    message: string,
    readonly data: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
