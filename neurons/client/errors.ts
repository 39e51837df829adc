/**
 * What the storage client (./api.ts) throws. Each is a NodeError subclass with a unique `name`;
 * match them with `instanceof`. A gateway's refusal keeps its HTTP status and the API's
 * snake_case `code`, so a caller can tell "unknown CID" (404 not_found) from "quota" (507).
 */
import { NodeError } from "../errors.js";

/** The base of every client error. */
export class ClientError extends NodeError {
  override name = "ClientError";
}

/**
 * A gateway refused the request: its status and the error body's code and message, and for a
 * 429 or 503 how long it asked the client to wait (`Retry-After`).
 */
export class GatewayError extends ClientError {
  override name = "GatewayError";
  readonly status: number;
  readonly code: string;
  readonly gateway: string;
  readonly retryAfterMs: number | undefined;
  constructor(gateway: string, status: number, code: string, message: string, retryAfterMs?: number) {
    super(`${message} (${status} ${code} from ${gateway})`);
    this.status = status;
    this.code = code;
    this.gateway = gateway;
    this.retryAfterMs = retryAfterMs;
  }
}

/** No gateway could be reached (every one failed to connect, timed out or answered 5xx). */
export class GatewayUnavailableError extends ClientError {
  override name = "GatewayUnavailableError";
}

/** The gateway answered with something that is not the API's shape (bad JSON, too large). */
export class GatewayProtocolError extends ClientError {
  override name = "GatewayProtocolError";
}

/** The gateway named the stored file by another CID than the one the client computed. */
export class CidMismatchError extends ClientError {
  override name = "CidMismatchError";
}

/** A block failed verification against its CID from every gateway that was asked for it. */
export class CorruptBlockError extends ClientError {
  override name = "CorruptBlockError";
}

/** The bytes of a put's source changed between hashing them and sending them. */
export class SourceChangedError extends ClientError {
  override name = "SourceChangedError";
}

/** An encrypted put or get without a user secret. */
export class MissingUserSecretError extends ClientError {
  override name = "MissingUserSecretError";
}

/** A byte range the file cannot satisfy, or a malformed CID, range or TTL given to the client. */
export class ClientInputError extends ClientError {
  override name = "ClientInputError";
}

/** Gateway discovery found no usable gateway on chain. */
export class NoGatewayError extends ClientError {
  override name = "NoGatewayError";
}
