import { ProtocolError } from "./errors.js";

/** Why a frame could not be decoded (or an envelope could not be encoded). */
export type CodecErrorCode =
  /** The bytes end before the frame or a field does. */
  | "truncated"
  /** The length prefix (or an encoded frame) exceeds the frame limit. */
  | "too-large"
  /** The message type byte names no known message. */
  | "unknown-type"
  /** The frame speaks another protocol version. */
  | "bad-version"
  /** A field is out of range: wrong hash length, unordered indices, invalid UTF-8, … */
  | "invalid-field"
  /** Bytes remain after the frame's last field. */
  | "trailing-bytes";

/**
 * The one error the codec throws. Decoding untrusted bytes either yields an envelope or throws
 * this; match it by class or `name`, and branch on `code`.
 *
 * @example
 * try { decodeFrame(bytes) } catch (e) { if (e instanceof CodecError && e.code === "bad-version") … }
 */
export class CodecError extends ProtocolError {
  override name = "CodecError";
  readonly code: CodecErrorCode;

  constructor(code: CodecErrorCode, message: string, options?: { cause?: unknown; details?: string }) {
    super(message, options);
    this.code = code;
  }
}
