/**
 * Binary codec for wire frames.
 *
 * A frame is a u32 big-endian payload length followed by the payload:
 *
 *   offset  size  field
 *        0     1  version (PROTOCOL_VERSION)
 *        1     1  message type (see MESSAGE_TYPE_CODES)
 *        2     1  flags: 1 = the authentication block follows, 0 = it is absent (all zero)
 *        3     4  requestId (u32)
 *  authentication block (flags = 1; requests signed by a validator):
 *        7    32  sender public key
 *       39     8  timestamp (ms, u64 holding a safe integer)
 *       47    16  nonce
 *       63    64  signature
 *  then   …  body (layout per message type, below), at 127 with the block and at 7 without
 *
 * Responses carry no authentication block (noise already authenticates the connection), which
 * keeps a one-leaf proof frame under 1.5 KB.
 *
 * All integers are big-endian. u64 fields must hold safe integers (< 2^53). Strings are a u16
 * byte length plus UTF-8. Byte strings are a u32 length plus the bytes. Arrays are a u32 count
 * plus the elements; a count is checked against the bytes left before anything is allocated.
 *
 * Decoded byte fields (chunk data, hashes, leaves) are subarrays of the input: no copy. Copy
 * them if the input buffer is going to be reused.
 */

import { hash } from "node:crypto";
import { CodecError } from "./codec-errors.js";
import { HASH_LENGTH, MAX_CHUNK_SIZE, MAX_FRAME_SIZE, NONCE_LENGTH, PROTOCOL_VERSION } from "./constants.js";
import {
  ENVELOPE_NONCE_LENGTH,
  type Envelope,
  ErrorCode,
  MAX_ERROR_MESSAGE_LENGTH,
  MAX_SOFTWARE_VERSION_LENGTH,
  MAX_STORE_ID_LENGTH,
  type Message,
  type MessageType,
  type NodeRole,
  PUBLIC_KEY_LENGTH,
  SIGNATURE_LENGTH,
  SIGNING_DOMAIN,
} from "./messages.js";
import type { Challenge, ChallengeResponse, ChunkProof } from "./types.js";

/** Bytes of the length prefix in front of every payload. */
export const LENGTH_PREFIX_SIZE = 4;

/** Bytes of the envelope header without the authentication block. */
export const UNSIGNED_HEADER_SIZE = 1 + 1 + 1 + 4;

/** Bytes of the authentication block: sender, timestamp, nonce, signature. */
export const AUTH_BLOCK_SIZE = PUBLIC_KEY_LENGTH + 8 + ENVELOPE_NONCE_LENGTH + SIGNATURE_LENGTH;

/** Bytes of the envelope header of a signed request, in front of the body. */
export const ENVELOPE_HEADER_SIZE = UNSIGNED_HEADER_SIZE + AUTH_BLOCK_SIZE;

/** True when the envelope has no authentication data (all zero), so its frame omits the block. */
export function isUnsignedEnvelope(e: Envelope): boolean {
  return e.timestamp === 0 && allZero(e.sender) && allZero(e.nonce) && allZero(e.signature);
}

function allZero(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

function headerSize(e: Envelope): number {
  return isUnsignedEnvelope(e) ? UNSIGNED_HEADER_SIZE : ENVELOPE_HEADER_SIZE;
}

/** Length of a proof's binding (a hash; see protocol/challenge.ts). */
export const BINDING_LENGTH = HASH_LENGTH;

/** The wire number of each message type. Numbers are fixed forever; new types take new numbers. */
export const MESSAGE_TYPE_CODES = {
  hello: 1,
  store: 2,
  "store-ack": 3,
  retrieve: 4,
  "retrieve-reply": 5,
  challenge: 6,
  proof: 7,
  evictions: 8,
  "evictions-reply": 9,
  error: 10,
} as const satisfies Record<MessageType, number>;

const ROLE_CODES = { miner: 1, validator: 2 } as const satisfies Record<NodeRole, number>;

/**
 * A decoded frame with its body's encoded bytes (a view of the input, no copy): what a request's
 * signature hashes, so a verifier can check it without encoding the body again.
 */
export interface DecodedFrame {
  envelope: Envelope;
  body: Uint8Array;
}

export interface DecodeOptions {
  /** Largest payload accepted, in bytes (the length prefix's value). Default MAX_FRAME_SIZE. */
  maxFrameSize?: number;
}

export interface EncodeOptions {
  /** Largest payload produced, in bytes. Default MAX_FRAME_SIZE. */
  maxFrameSize?: number;
}

// ---------------------------------------------------------------------------------------------
// Encoding

/**
 * Encodes an envelope into one frame (length prefix included). Validates every field on the
 * way, so it never emits a frame {@link decodeFrame} would refuse; throws CodecError otherwise.
 * A 1 MiB store frame costs one copy of the data.
 *
 * @example
 * const frame = encodeFrame(createEnvelope({ type: "retrieve", storeId, chunkIndex: 3 }, { requestId: 7 }));
 */
export function encodeFrame(envelope: Envelope, opts: EncodeOptions = {}): Uint8Array {
  return guard(() => {
    checkEnvelopeHeader(envelope);
    const payloadSize = headerSize(envelope) + measureBody(envelope.body);
    const max = opts.maxFrameSize ?? MAX_FRAME_SIZE;
    if (payloadSize > max) {
      throw new CodecError("too-large", `frame of ${payloadSize} bytes exceeds the limit of ${max}`);
    }
    const w = new Writer(new Uint8Array(LENGTH_PREFIX_SIZE + payloadSize));
    w.u32(payloadSize);
    writeHeader(w, envelope, true);
    writeBody(w, envelope.body);
    return w.finish();
  }, "encode");
}

/** The size in bytes of `encodeFrame(envelope)`, length prefix included. */
export function encodedFrameLength(envelope: Envelope): number {
  return guard(() => {
    checkEnvelopeHeader(envelope);
    return LENGTH_PREFIX_SIZE + headerSize(envelope) + measureBody(envelope.body);
  }, "encode");
}

/**
 * The exact bytes a requester signs and a responder verifies: the UTF-8 domain tag
 * SIGNING_DOMAIN, the encoded header with the signature field left out (version, type, flags,
 * requestId, sender, timestamp, nonce), then the SHA-256 of the encoded body. Computed from the
 * envelope, so signer and verifier cannot disagree about what was signed.
 *
 * The body goes in as its hash because sr25519 over a whole 1 MiB store body cost 7.5 ms to sign
 * and 11.5 ms to verify here, against 0.7 ms for SHA-256 (`npm run bench -- miner`); the
 * signature binds the body all the same.
 *
 * `encodedBody`, when given, must be the body's encoding as decoded ({@link DecodedFrame}'s
 * `body`); it saves encoding the body again (a 1 MiB copy per store request).
 *
 * @example
 * envelope.signature = pair.sign(signingPayload(envelope));
 * verify(signature, signingPayload(decoded.envelope, decoded.body), sender);
 */
export function signingPayload(envelope: Envelope, encodedBody?: Uint8Array): Uint8Array {
  return guard(() => {
    checkEnvelopeHeader(envelope);
    const tag = asciiBytes(SIGNING_DOMAIN);
    const bodyHash = hash("sha256", encodedBody ?? encodeBody(envelope.body), "buffer");
    const headerLength = headerSize(envelope) - (isUnsignedEnvelope(envelope) ? 0 : SIGNATURE_LENGTH);
    const w = new Writer(new Uint8Array(tag.length + headerLength + HASH_LENGTH));
    w.bytes(tag);
    writeHeader(w, envelope, false);
    w.bytes(bodyHash);
    return w.finish();
  }, "encode");
}

function encodeBody(body: Message): Uint8Array {
  const w = new Writer(new Uint8Array(measureBody(body)));
  writeBody(w, body);
  return w.finish();
}

function checkEnvelopeHeader(e: Envelope): void {
  if (typeof e !== "object" || e === null) invalid("envelope is not an object");
  checkUint(e.version, 0xff, "version");
  checkUint(e.requestId, 0xffffffff, "requestId");
  checkFixed(e.sender, PUBLIC_KEY_LENGTH, "sender");
  checkSafeUint(e.timestamp, "timestamp");
  checkFixed(e.nonce, ENVELOPE_NONCE_LENGTH, "nonce");
  checkFixed(e.signature, SIGNATURE_LENGTH, "signature");
}

function writeHeader(w: Writer, e: Envelope, withSignature: boolean): void {
  const signed = !isUnsignedEnvelope(e);
  w.u8(e.version);
  w.u8(MESSAGE_TYPE_CODES[e.body.type]);
  w.u8(signed ? 1 : 0);
  w.u32(e.requestId);
  if (!signed) return;
  w.bytes(e.sender);
  w.u64(e.timestamp);
  w.bytes(e.nonce);
  if (withSignature) w.bytes(e.signature);
}

/** Validates a body and returns its encoded size. */
function measureBody(m: Message): number {
  if (typeof m !== "object" || m === null) invalid("body is not an object");
  switch (m.type) {
    case "hello": {
      if (!Object.hasOwn(ROLE_CODES, m.role)) invalid("hello.role");
      checkUint(m.protocolVersion, 0xff, "hello.protocolVersion");
      checkUint(m.chunkSize, MAX_CHUNK_SIZE, "hello.chunkSize", 1);
      checkUint(m.leafSize, m.chunkSize, "hello.leafSize", 1);
      let size =
        1 + 1 + measureString(m.softwareVersion, MAX_SOFTWARE_VERSION_LENGTH, "hello.softwareVersion");
      size += 4 + 4 + 1;
      if (m.capacity !== null) {
        if (typeof m.capacity !== "object") invalid("hello.capacity");
        checkSafeUint(m.capacity.budgetBytes, "hello.capacity.budgetBytes");
        checkSafeUint(m.capacity.usedBytes, "hello.capacity.usedBytes");
        checkUint(m.capacity.chunkCount, 0xffffffff, "hello.capacity.chunkCount");
        size += 8 + 8 + 4;
      }
      return size;
    }
    case "store":
    case "retrieve-reply":
      checkUint(m.chunkIndex, 0xffffffff, `${m.type}.chunkIndex`);
      checkBytes(m.data, `${m.type}.data`);
      return measureStoreId(m.storeId) + 4 + 4 + m.data.length;
    case "store-ack":
      checkUint(m.chunkIndex, 0xffffffff, "store-ack.chunkIndex");
      checkFixed(m.root, HASH_LENGTH, "store-ack.root");
      return measureStoreId(m.storeId) + 4 + HASH_LENGTH;
    case "retrieve":
      checkUint(m.chunkIndex, 0xffffffff, "retrieve.chunkIndex");
      return measureStoreId(m.storeId) + 4;
    case "challenge":
      return measureChallenge(m.challenge);
    case "proof":
      return measureResponse(m.response);
    case "evictions":
      checkSafeUint(m.sinceSeq, "evictions.sinceSeq");
      return measureStoreId(m.storeId) + 8;
    case "evictions-reply":
      checkIncreasing(m.evicted, Number.POSITIVE_INFINITY, "evictions-reply.evicted");
      checkSafeUint(m.nextSeq, "evictions-reply.nextSeq");
      return measureStoreId(m.storeId) + 4 + 4 * m.evicted.length + 8;
    case "error":
      if (!isErrorCode(m.code)) invalid("error.code");
      return 2 + measureString(m.message, MAX_ERROR_MESSAGE_LENGTH, "error.message");
    default:
      return unknownType((m as { type: unknown }).type);
  }
}

function measureChallenge(c: Challenge): number {
  if (typeof c !== "object" || c === null) invalid("challenge");
  checkFixed(c.nonce, NONCE_LENGTH, "challenge.nonce");
  checkSafeUint(c.deadline, "challenge.deadline");
  checkArray(c.chunks, "challenge.chunks");
  let size = measureStoreId(c.storeId) + NONCE_LENGTH + 8 + 4;
  for (const chunk of c.chunks) {
    checkUint(chunk.chunkIndex, 0xffffffff, "challenge.chunks.chunkIndex");
    checkIncreasing(chunk.leafIndices, Number.POSITIVE_INFINITY, "challenge.chunks.leafIndices");
    size += 4 + 4 + 4 * chunk.leafIndices.length;
  }
  return size;
}

function measureResponse(r: ChallengeResponse): number {
  if (typeof r !== "object" || r === null) invalid("response");
  checkFixed(r.nonce, NONCE_LENGTH, "proof.nonce");
  checkFixed(r.binding, BINDING_LENGTH, "proof.binding");
  checkArray(r.chunks, "proof.chunks");
  let size = NONCE_LENGTH + BINDING_LENGTH + 4;
  for (const chunk of r.chunks) size += measureChunkProof(chunk);
  return size;
}

function measureChunkProof(c: ChunkProof): number {
  checkUint(c.chunkIndex, 0xffffffff, "proof.chunks.chunkIndex");
  const p = c.proof;
  if (typeof p !== "object" || p === null) invalid("proof.chunks.proof");
  checkUint(p.leafCount, 0xffffffff, "proof.chunks.proof.leafCount");
  checkIncreasing(p.indices, p.leafCount, "proof.chunks.proof.indices");
  checkArray(c.leaves, "proof.chunks.leaves");
  if (c.leaves.length !== p.indices.length) invalid("proof.chunks.leaves: one leaf per proven index");
  checkArray(p.siblings, "proof.chunks.proof.siblings");
  let size = 4 + 4 + 4 + 4;
  for (const leaf of c.leaves) {
    checkBytes(leaf, "proof.chunks.leaves");
    size += 4 + 4 + leaf.length;
  }
  for (const sibling of p.siblings) checkFixed(sibling, HASH_LENGTH, "proof.chunks.proof.siblings");
  return size + HASH_LENGTH * p.siblings.length;
}

function writeBody(w: Writer, m: Message): void {
  switch (m.type) {
    case "hello":
      w.u8(ROLE_CODES[m.role]);
      w.u8(m.protocolVersion);
      w.string(m.softwareVersion);
      w.u32(m.chunkSize);
      w.u32(m.leafSize);
      if (m.capacity === null) {
        w.u8(0);
      } else {
        w.u8(1);
        w.u64(m.capacity.budgetBytes);
        w.u64(m.capacity.usedBytes);
        w.u32(m.capacity.chunkCount);
      }
      return;
    case "store":
    case "retrieve-reply":
      w.string(m.storeId);
      w.u32(m.chunkIndex);
      w.u32(m.data.length);
      w.bytes(m.data);
      return;
    case "store-ack":
      w.string(m.storeId);
      w.u32(m.chunkIndex);
      w.bytes(m.root);
      return;
    case "retrieve":
      w.string(m.storeId);
      w.u32(m.chunkIndex);
      return;
    case "challenge": {
      const c = m.challenge;
      w.string(c.storeId);
      w.bytes(c.nonce);
      w.u64(c.deadline);
      w.u32(c.chunks.length);
      for (const chunk of c.chunks) {
        w.u32(chunk.chunkIndex);
        w.u32s(chunk.leafIndices);
      }
      return;
    }
    case "proof": {
      const r = m.response;
      w.bytes(r.nonce);
      w.bytes(r.binding);
      w.u32(r.chunks.length);
      for (const chunk of r.chunks) {
        w.u32(chunk.chunkIndex);
        w.u32(chunk.proof.leafCount);
        w.u32s(chunk.proof.indices);
        for (const leaf of chunk.leaves) {
          w.u32(leaf.length);
          w.bytes(leaf);
        }
        w.u32(chunk.proof.siblings.length);
        for (const sibling of chunk.proof.siblings) w.bytes(sibling);
      }
      return;
    }
    case "evictions":
      w.string(m.storeId);
      w.u64(m.sinceSeq);
      return;
    case "evictions-reply":
      w.string(m.storeId);
      w.u32s(m.evicted);
      w.u64(m.nextSeq);
      return;
    case "error":
      w.u16(m.code);
      w.string(m.message);
      return;
  }
}

class Writer {
  private readonly view: DataView;
  private pos = 0;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  u8(v: number): void {
    this.buf[this.pos++] = v;
  }

  u16(v: number): void {
    this.view.setUint16(this.pos, v);
    this.pos += 2;
  }

  u32(v: number): void {
    this.view.setUint32(this.pos, v);
    this.pos += 4;
  }

  u64(v: number): void {
    this.view.setUint32(this.pos, Math.floor(v / 2 ** 32));
    this.view.setUint32(this.pos + 4, v >>> 0);
    this.pos += 8;
  }

  u32s(values: readonly number[]): void {
    this.u32(values.length);
    for (const v of values) this.u32(v);
  }

  bytes(b: Uint8Array): void {
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** u16 byte length, then UTF-8. The string was validated (no lone surrogates) by the measure pass. */
  string(s: string): void {
    const start = this.pos;
    this.pos += 2;
    const buf = this.buf;
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (s.charCodeAt(++i) - 0xdc00);
      }
      if (c < 0x80) {
        buf[this.pos++] = c;
      } else if (c < 0x800) {
        buf[this.pos++] = 0xc0 | (c >> 6);
        buf[this.pos++] = 0x80 | (c & 0x3f);
      } else if (c < 0x10000) {
        buf[this.pos++] = 0xe0 | (c >> 12);
        buf[this.pos++] = 0x80 | ((c >> 6) & 0x3f);
        buf[this.pos++] = 0x80 | (c & 0x3f);
      } else {
        buf[this.pos++] = 0xf0 | (c >> 18);
        buf[this.pos++] = 0x80 | ((c >> 12) & 0x3f);
        buf[this.pos++] = 0x80 | ((c >> 6) & 0x3f);
        buf[this.pos++] = 0x80 | (c & 0x3f);
      }
    }
    this.view.setUint16(start, this.pos - start - 2);
  }

  finish(): Uint8Array {
    if (this.pos !== this.buf.length) {
      throw new Error(`codec bug: wrote ${this.pos} of ${this.buf.length} measured bytes`);
    }
    return this.buf;
  }
}

/** UTF-8 byte length of a well-formed string, or -1 if it holds a lone surrogate. */
function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return -1;
      i++;
      n += 4;
    } else if (c >= 0xdc00 && c <= 0xdfff) return -1;
    else n += 3;
  }
  return n;
}

function asciiBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function measureString(s: string, max: number, field: string): number {
  if (typeof s !== "string") invalid(`${field} is not a string`);
  const n = utf8Length(s);
  if (n < 0) invalid(`${field} is not well-formed Unicode`);
  if (n > max) invalid(`${field} is ${n} bytes, over the limit of ${max}`);
  return 2 + n;
}

function measureStoreId(s: string): number {
  const size = measureString(s, MAX_STORE_ID_LENGTH, "storeId");
  if (size === 2) invalid("storeId is empty");
  return size;
}

function checkUint(v: number, max: number, field: string, min = 0): void {
  if (!Number.isInteger(v) || v < min || v > max) invalid(`${field} must be an integer in [${min}, ${max}]`);
}

function checkSafeUint(v: number, field: string): void {
  if (!Number.isSafeInteger(v) || v < 0) invalid(`${field} must be a non-negative safe integer`);
}

function checkBytes(b: Uint8Array, field: string): void {
  if (!(b instanceof Uint8Array)) invalid(`${field} is not a Uint8Array`);
}

function checkFixed(b: Uint8Array, length: number, field: string): void {
  if (!(b instanceof Uint8Array) || b.length !== length) invalid(`${field} must be ${length} bytes`);
}

function checkArray(a: readonly unknown[], field: string): void {
  if (!Array.isArray(a)) invalid(`${field} is not an array`);
}

/** Strictly increasing u32s, each below `bound`. */
function checkIncreasing(a: readonly number[], bound: number, field: string): void {
  checkArray(a, field);
  let prev = -1;
  for (const v of a) {
    if (!Number.isInteger(v) || v <= prev || v > 0xffffffff || v >= bound) {
      invalid(`${field} must be strictly increasing u32s below ${bound}`);
    }
    prev = v;
  }
}

function isErrorCode(v: number): v is ErrorCode {
  return (Object.values(ErrorCode) as number[]).includes(v);
}

function invalid(message: string): never {
  throw new CodecError("invalid-field", message);
}

function unknownType(type: unknown): never {
  throw new CodecError("unknown-type", `unknown message type ${String(type)}`);
}

/** Runs `fn`, letting CodecError through and wrapping anything else, so callers see one error class. */
function guard<T>(fn: () => T, what: "encode" | "decode"): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof CodecError) throw error;
    throw new CodecError("invalid-field", `cannot ${what}: malformed input`, { cause: error });
  }
}

// ---------------------------------------------------------------------------------------------
// Decoding

/**
 * Decodes one complete frame (length prefix included) from untrusted bytes. Returns a valid
 * envelope or throws CodecError; never anything else. Byte fields of the result are subarrays
 * of `bytes`.
 *
 * @example
 * const { requestId, body } = decodeFrame(frame);
 */
export function decodeFrame(bytes: Uint8Array, opts: DecodeOptions = {}): Envelope {
  return guard(() => {
    if (!(bytes instanceof Uint8Array)) invalid("frame is not a Uint8Array");
    if (bytes.length < LENGTH_PREFIX_SIZE) truncated("length prefix");
    const length = readLengthPrefix(bytes, opts);
    const end = LENGTH_PREFIX_SIZE + length;
    if (bytes.length < end) truncated("payload");
    if (bytes.length > end) {
      throw new CodecError("trailing-bytes", `${bytes.length - end} bytes after the frame`);
    }
    return decodePayloadUnguarded(bytes.subarray(LENGTH_PREFIX_SIZE)).envelope;
  }, "decode");
}

/**
 * Decodes a payload (a frame without its length prefix), for transports that delimit frames
 * themselves. Same guarantees as {@link decodeFrame}.
 */
export function decodePayload(payload: Uint8Array, opts: DecodeOptions = {}): Envelope {
  return guard(() => {
    if (!(payload instanceof Uint8Array)) invalid("payload is not a Uint8Array");
    checkPayloadLength(payload.length, opts);
    return decodePayloadUnguarded(payload).envelope;
  }, "decode");
}

function readLengthPrefix(bytes: Uint8Array, opts: DecodeOptions): number {
  const length =
    (bytes[0] as number) * 2 ** 24 +
    (((bytes[1] as number) << 16) | ((bytes[2] as number) << 8) | (bytes[3] as number));
  checkPayloadLength(length, opts);
  return length;
}

function checkPayloadLength(length: number, opts: DecodeOptions): void {
  const max = opts.maxFrameSize ?? MAX_FRAME_SIZE;
  if (length > max) throw new CodecError("too-large", `frame of ${length} bytes exceeds the limit of ${max}`);
}

function truncated(what: string): never {
  throw new CodecError("truncated", `input ends inside the ${what}`);
}

function decodePayloadUnguarded(payload: Uint8Array): DecodedFrame {
  const r = new Reader(payload);
  const version = r.u8();
  if (version !== PROTOCOL_VERSION) {
    throw new CodecError("bad-version", `frame version ${version}, expected ${PROTOCOL_VERSION}`);
  }
  const typeCode = r.u8();
  const flags = r.u8();
  if (flags > 1) throw new CodecError("invalid-field", `unknown envelope flags ${flags}`);
  const requestId = r.u32();
  const signed = flags === 1;
  const sender = signed ? r.fixed(PUBLIC_KEY_LENGTH) : new Uint8Array(PUBLIC_KEY_LENGTH);
  const timestamp = signed ? r.u64() : 0;
  const nonce = signed ? r.fixed(ENVELOPE_NONCE_LENGTH) : new Uint8Array(ENVELOPE_NONCE_LENGTH);
  const signature = signed ? r.fixed(SIGNATURE_LENGTH) : new Uint8Array(SIGNATURE_LENGTH);
  if (signed && timestamp === 0 && allZero(sender) && allZero(nonce) && allZero(signature)) {
    // Canonical form: an all-zero authentication block is written as no block at all.
    throw new CodecError("invalid-field", "empty authentication block");
  }
  const bodyStart = payload.length - r.remaining();
  const body = readBody(r, typeCode);
  if (r.remaining() !== 0) {
    throw new CodecError("trailing-bytes", `${r.remaining()} bytes after the message body`);
  }
  return {
    envelope: { version, requestId, sender, timestamp, nonce, signature, body },
    body: payload.subarray(bodyStart),
  };
}

function readBody(r: Reader, typeCode: number): Message {
  switch (typeCode) {
    case MESSAGE_TYPE_CODES.hello: {
      const roleCode = r.u8();
      const role: NodeRole | undefined =
        roleCode === ROLE_CODES.miner ? "miner" : roleCode === ROLE_CODES.validator ? "validator" : undefined;
      if (role === undefined) invalid(`hello.role ${roleCode}`);
      const protocolVersion = r.u8();
      const softwareVersion = r.string(MAX_SOFTWARE_VERSION_LENGTH, "hello.softwareVersion");
      const chunkSize = r.u32();
      checkUint(chunkSize, MAX_CHUNK_SIZE, "hello.chunkSize", 1);
      const leafSize = r.u32();
      checkUint(leafSize, chunkSize, "hello.leafSize", 1);
      const flag = r.u8();
      if (flag > 1) invalid("hello.capacity flag");
      const capacity = flag === 1 ? { budgetBytes: r.u64(), usedBytes: r.u64(), chunkCount: r.u32() } : null;
      return { type: "hello", role, protocolVersion, softwareVersion, chunkSize, leafSize, capacity };
    }
    case MESSAGE_TYPE_CODES.store:
    case MESSAGE_TYPE_CODES["retrieve-reply"]: {
      const storeId = r.storeId();
      const chunkIndex = r.u32();
      const data = r.fixed(r.u32());
      return {
        type: typeCode === MESSAGE_TYPE_CODES.store ? "store" : "retrieve-reply",
        storeId,
        chunkIndex,
        data,
      };
    }
    case MESSAGE_TYPE_CODES["store-ack"]:
      return { type: "store-ack", storeId: r.storeId(), chunkIndex: r.u32(), root: r.fixed(HASH_LENGTH) };
    case MESSAGE_TYPE_CODES.retrieve:
      return { type: "retrieve", storeId: r.storeId(), chunkIndex: r.u32() };
    case MESSAGE_TYPE_CODES.challenge:
      return { type: "challenge", challenge: readChallenge(r) };
    case MESSAGE_TYPE_CODES.proof:
      return { type: "proof", response: readResponse(r) };
    case MESSAGE_TYPE_CODES.evictions:
      return { type: "evictions", storeId: r.storeId(), sinceSeq: r.u64() };
    case MESSAGE_TYPE_CODES["evictions-reply"]:
      return {
        type: "evictions-reply",
        storeId: r.storeId(),
        evicted: r.increasingU32s(Number.POSITIVE_INFINITY, "evictions-reply.evicted"),
        nextSeq: r.u64(),
      };
    case MESSAGE_TYPE_CODES.error: {
      const code = r.u16();
      if (!isErrorCode(code)) invalid(`error.code ${code}`);
      return { type: "error", code, message: r.string(MAX_ERROR_MESSAGE_LENGTH, "error.message") };
    }
    default:
      return unknownType(typeCode);
  }
}

function readChallenge(r: Reader): Challenge {
  const storeId = r.storeId();
  const nonce = r.fixed(NONCE_LENGTH);
  const deadline = r.u64();
  // Each chunk is at least its index and its leaf count.
  const count = r.count(8, "challenge.chunks");
  const chunks: Challenge["chunks"] = [];
  for (let i = 0; i < count; i++) {
    const chunkIndex = r.u32();
    const leafIndices = r.increasingU32s(Number.POSITIVE_INFINITY, "challenge.chunks.leafIndices");
    chunks.push({ chunkIndex, leafIndices });
  }
  return { storeId, chunks, nonce, deadline };
}

function readResponse(r: Reader): ChallengeResponse {
  const nonce = r.fixed(NONCE_LENGTH);
  const binding = r.fixed(BINDING_LENGTH);
  // Each chunk is at least its index, leaf count, index count and sibling count.
  const count = r.count(16, "proof.chunks");
  const chunks: ChunkProof[] = [];
  for (let i = 0; i < count; i++) {
    const chunkIndex = r.u32();
    const leafCount = r.u32();
    // Each proven index brings its own u32 and its leaf's u32 length.
    const indices = r.increasingU32s(leafCount, "proof.chunks.proof.indices", 8);
    const leaves: Uint8Array[] = [];
    for (let j = 0; j < indices.length; j++) leaves.push(r.fixed(r.u32()));
    const siblingCount = r.count(HASH_LENGTH, "proof.chunks.proof.siblings");
    const siblings: Uint8Array[] = [];
    for (let j = 0; j < siblingCount; j++) siblings.push(r.fixed(HASH_LENGTH));
    chunks.push({ chunkIndex, leaves, proof: { leafCount, indices, siblings } });
  }
  return { nonce, chunks, binding };
}

class Reader {
  private readonly view: DataView;
  private pos = 0;
  private utf8: InstanceType<typeof TextDecoder> | undefined;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number): void {
    if (n > this.buf.length - this.pos) truncated(`field at offset ${this.pos}`);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++] as number;
  }

  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  u64(): number {
    this.need(8);
    const hi = this.view.getUint32(this.pos);
    const lo = this.view.getUint32(this.pos + 4);
    // 2^53 - 1 has 21 bits above the low 32.
    if (hi > 0x1fffff) invalid(`u64 at offset ${this.pos} is not a safe integer`);
    this.pos += 8;
    return hi * 2 ** 32 + lo;
  }

  /** `n` bytes as a subarray of the input (no copy). */
  fixed(n: number): Uint8Array {
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** A u32 element count, checked to fit the remaining bytes at `minElementSize` bytes each. */
  count(minElementSize: number, field: string): number {
    const n = this.u32();
    if (n * minElementSize > this.remaining()) truncated(`${field} (${n} elements)`);
    return n;
  }

  increasingU32s(bound: number, field: string, minElementSize = 4): number[] {
    const n = this.count(minElementSize, field);
    const out: number[] = new Array(n);
    let prev = -1;
    for (let i = 0; i < n; i++) {
      const v = this.view.getUint32(this.pos);
      this.pos += 4;
      if (v <= prev || v >= bound) invalid(`${field} must be strictly increasing and below ${bound}`);
      out[i] = v;
      prev = v;
    }
    return out;
  }

  string(max: number, field: string): string {
    const n = this.u16();
    if (n > max) invalid(`${field} is ${n} bytes, over the limit of ${max}`);
    const bytes = this.fixed(n);
    this.utf8 ??= new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
    try {
      return this.utf8.decode(bytes);
    } catch {
      // Deliberately no cause: a CodecError with a cause means an unexpected exception was wrapped.
      throw new CodecError("invalid-field", `${field} is not valid UTF-8`);
    }
  }

  storeId(): string {
    const s = this.string(MAX_STORE_ID_LENGTH, "storeId");
    if (s.length === 0) invalid("storeId is empty");
    return s;
  }
}

// ---------------------------------------------------------------------------------------------
// Streams

/**
 * Splits a byte stream into envelopes. Feed it chunks as they arrive; it returns the frames
 * completed so far. An oversize length prefix is refused as soon as its four bytes arrive,
 * before any of the body is buffered. After it throws, the stream is unusable: every later
 * `push` throws the same error, and the connection should be closed.
 *
 * A frame that lies inside one pushed chunk is decoded in place (its byte fields alias that
 * chunk); one that spans chunks is copied once into a buffer of exactly its size.
 *
 * @example
 * const decoder = new FrameDecoder();
 * for await (const chunk of stream) for (const envelope of decoder.push(chunk)) handle(envelope);
 * decoder.end();
 */
export class FrameDecoder {
  private readonly opts: DecodeOptions;
  private readonly chunks: Uint8Array[] = [];
  /** Offset into chunks[0] of the first unconsumed byte. */
  private head = 0;
  private buffered = 0;
  /** Payload length of the frame being assembled, once its prefix has arrived. */
  private pending: number | undefined;
  private failure: CodecError | undefined;

  constructor(opts: DecodeOptions = {}) {
    this.opts = { ...opts };
  }

  /** Bytes received but not yet part of a decoded frame. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  push(chunk: Uint8Array): Envelope[] {
    return this.pushFrames(chunk).map((frame) => frame.envelope);
  }

  /** {@link push}, with each envelope's encoded body ({@link DecodedFrame}). */
  pushFrames(chunk: Uint8Array): DecodedFrame[] {
    if (this.failure) throw this.failure;
    try {
      if (!(chunk instanceof Uint8Array)) invalid("chunk is not a Uint8Array");
      if (chunk.length > 0) {
        this.chunks.push(chunk);
        this.buffered += chunk.length;
      }
      const out: DecodedFrame[] = [];
      for (;;) {
        if (this.pending === undefined) {
          if (this.buffered < LENGTH_PREFIX_SIZE) break;
          this.pending = readLengthPrefix(this.take(LENGTH_PREFIX_SIZE), this.opts);
        }
        if (this.buffered < this.pending) break;
        const payload = this.take(this.pending);
        this.pending = undefined;
        out.push(decodePayloadUnguarded(payload));
      }
      return out;
    } catch (error) {
      this.failure =
        error instanceof CodecError
          ? error
          : new CodecError("invalid-field", "cannot decode: malformed input", { cause: error });
      this.chunks.length = 0;
      this.buffered = 0;
      throw this.failure;
    }
  }

  /** Declares the stream finished; throws CodecError "truncated" if a partial frame is buffered. */
  end(): void {
    if (this.failure) throw this.failure;
    if (this.buffered > 0) {
      this.failure = new CodecError(
        "truncated",
        `stream ended inside a frame (${this.buffered} bytes buffered)`,
      );
      throw this.failure;
    }
  }

  /** Removes and returns the next `n` buffered bytes (caller checked they are there). */
  private take(n: number): Uint8Array {
    if (n === 0) return new Uint8Array(0);
    const first = this.chunks[0] as Uint8Array;
    this.buffered -= n;
    if (first.length - this.head >= n) {
      const out = first.subarray(this.head, this.head + n);
      this.head += n;
      if (this.head === first.length) {
        this.chunks.shift();
        this.head = 0;
      }
      return out;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0] as Uint8Array;
      const part = Math.min(c.length - this.head, n - filled);
      out.set(c.subarray(this.head, this.head + part), filled);
      filled += part;
      this.head += part;
      if (this.head === c.length) {
        this.chunks.shift();
        this.head = 0;
      }
    }
    return out;
  }
}
