import { BaseError } from "../protocol/errors.js";

/**
 * The base of the errors the nodes (neurons/) throw, after viem's BaseError: a short message,
 * optional `details` and the `cause`. A subclass only sets its `name` (unique across the codebase)
 * and, when it carries a field, builds its message from it. Match errors with `instanceof`.
 *
 * @example
 * export class MinerStartError extends NodeError {
 *   override name = "MinerStartError";
 * }
 */
export class NodeError extends BaseError {
  override name = "NodeError";
}
