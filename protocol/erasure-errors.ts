import { ProtocolError } from "./errors.js";

/** Why an erasure coder refused its parameters or its shards. */
export type ErasureErrorCode =
  /** k < 1, m < 0, a non-integer, or k + m above what GF(2^8) can address (255). */
  | "invalid-params"
  /** The shard list is not k long (encode) or not k + m long (reconstruct). */
  | "shard-count"
  /** The shards are not all the same length. */
  | "shard-size"
  /** More than m shards are missing: the stripe cannot be rebuilt. */
  | "too-many-missing";

/**
 * The one error protocol/erasure.ts throws. Match it by class or `name`, and branch on `code`.
 *
 * @example
 * try { coder.reconstruct(shards) } catch (e) { if (e instanceof ErasureError && e.code === "too-many-missing") … }
 */
export class ErasureError extends ProtocolError {
  override name = "ErasureError";
  readonly code: ErasureErrorCode;

  constructor(code: ErasureErrorCode, message: string, options?: { cause?: unknown; details?: string }) {
    super(message, options);
    this.code = code;
  }
}
