/**
 * The fixed front of a frame, read before its body: the length prefix, the envelope header and,
 * for a signed request, the claimed sender, recipient and timestamp (protocol/codec.ts describes the
 * layout). A node reads this much of a stream, decides whether the sender may send a body of
 * that size, and only then reads the rest. Nothing here is authenticated: the signature (which
 * covers the body) is checked once the whole frame has arrived.
 */
import {
  AUTH_BLOCK_SIZE,
  type DecodeOptions,
  LENGTH_PREFIX_SIZE,
  MESSAGE_TYPE_CODES,
  UNSIGNED_HEADER_SIZE,
} from "./codec.js";
import { CodecError } from "./codec-errors.js";
import { MAX_FRAME_SIZE, PROTOCOL_VERSION } from "./constants.js";
import { type MessageType, PUBLIC_KEY_LENGTH } from "./messages.js";

/** Bytes of a frame's front when its request is signed: prefix, header and authentication block. */
export const MAX_FRAME_HEADER_SIZE = LENGTH_PREFIX_SIZE + UNSIGNED_HEADER_SIZE + AUTH_BLOCK_SIZE;

/** What a frame's front says about it. `sender` and `timestamp` are claims until the body arrives. */
export interface FrameHeader {
  /** The length prefix: bytes of the payload after it. */
  payloadLength: number;
  type: MessageType;
  requestId: number;
  /**
   * The claimed sender's public key, the recipient it names and the timestamp, when the frame
   * carries an authentication block.
   */
  auth?: { sender: Uint8Array; recipient: Uint8Array; timestamp: number };
}

const TYPES_BY_CODE = new Map<number, MessageType>(
  (Object.entries(MESSAGE_TYPE_CODES) as [MessageType, number][]).map(([type, code]) => [code, type]),
);

/**
 * Reads the front of a frame from the first bytes of a stream. Returns undefined while more
 * bytes are needed (at most {@link MAX_FRAME_HEADER_SIZE}); throws CodecError ("too-large",
 * "bad-version", "unknown-type", "invalid-field", "truncated") as soon as the bytes so far rule
 * the frame out, exactly as decoding the whole frame would.
 *
 * @example
 * const header = peekFrameHeader(firstBytes);
 * if (header && header.payloadLength > 4096 && !allowed(header.auth?.sender)) refuse();
 */
export function peekFrameHeader(bytes: Uint8Array, opts: DecodeOptions = {}): FrameHeader | undefined {
  if (bytes.length < LENGTH_PREFIX_SIZE) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const payloadLength = view.getUint32(0);
  const max = opts.maxFrameSize ?? MAX_FRAME_SIZE;
  if (payloadLength > max) {
    throw new CodecError("too-large", `frame of ${payloadLength} bytes exceeds the limit of ${max}`);
  }
  const at = LENGTH_PREFIX_SIZE;
  // Each field is judged as soon as it arrives, so a frame is refused on its first bad byte.
  if (bytes.length > at && payloadLength > 0) {
    const version = bytes[at] as number;
    if (version !== PROTOCOL_VERSION) {
      throw new CodecError("bad-version", `frame version ${version}, expected ${PROTOCOL_VERSION}`);
    }
  }
  if (bytes.length > at + 1 && payloadLength > 1) {
    const code = bytes[at + 1] as number;
    if (!TYPES_BY_CODE.has(code)) throw new CodecError("unknown-type", `unknown message type ${code}`);
  }
  if (bytes.length > at + 2 && payloadLength > 2) {
    const flags = bytes[at + 2] as number;
    if (flags > 1) throw new CodecError("invalid-field", `unknown envelope flags ${flags}`);
  }
  const unsignedEnd = at + UNSIGNED_HEADER_SIZE;
  if (bytes.length < LENGTH_PREFIX_SIZE + Math.min(payloadLength, UNSIGNED_HEADER_SIZE)) return undefined;
  if (payloadLength < UNSIGNED_HEADER_SIZE) {
    throw new CodecError("truncated", "frame ends inside the envelope header");
  }
  const type = TYPES_BY_CODE.get(bytes[at + 1] as number) as MessageType;
  const requestId = view.getUint32(at + 3);
  if (bytes[at + 2] === 0) return { payloadLength, type, requestId };
  if (payloadLength < UNSIGNED_HEADER_SIZE + AUTH_BLOCK_SIZE) {
    throw new CodecError("truncated", "frame ends inside the authentication block");
  }
  if (bytes.length < unsignedEnd + AUTH_BLOCK_SIZE) return undefined;
  // Authentication block: sender, recipient, timestamp (u64), nonce, signature.
  const sender = bytes.slice(unsignedEnd, unsignedEnd + PUBLIC_KEY_LENGTH);
  const recipient = bytes.slice(unsignedEnd + PUBLIC_KEY_LENGTH, unsignedEnd + 2 * PUBLIC_KEY_LENGTH);
  const timestampAt = unsignedEnd + 2 * PUBLIC_KEY_LENGTH;
  const high = view.getUint32(timestampAt);
  const low = view.getUint32(timestampAt + 4);
  if (high >= 2 ** 21) throw new CodecError("invalid-field", "timestamp is not a safe integer");
  return { payloadLength, type, requestId, auth: { sender, recipient, timestamp: high * 2 ** 32 + low } };
}
