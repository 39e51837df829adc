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
 *        7    32  sender public key (the validator's hotkey)
 *       39    32  recipient public key (the hotkey of the miner the request is for)
 *       71     8  timestamp (ms, u64 holding a safe integer)
 *       79    16  nonce
 *       95    64  signature
 *  then   …  body (layout per message type, below), at 159 with the block and at 7 without
 *
 * Version 1 had no recipient (the block was 120 bytes); its frames are refused as "bad-version".
 * Version 2 challenges ended after the challenge; version 3 adds the `evictionsSince` flag and value
 * (protocol/messages.ts), so a version 2 frame is refused the same way.
 * The recipient is the miner's hotkey rather than its libp2p peer id: the validator reads it from
 * the metagraph (a peer id comes from the miner's own commitment, which another miner can copy),
 * it is what the chain scores, and it is a fixed 32 bytes.
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

import { createHash, hash } from "node:crypto";
import { CodecError } from "./codec-errors.js";
import { HASH_LENGTH, MAX_CHUNK_SIZE, MAX_FRAME_SIZE, NONCE_LENGTH, PROTOCOL_VERSION } from "./constants.js";
import {
  bytes,
  type Codec,
  checkFixed,
  checkIncreasing,
  checkSafeUint,
  checkUint,
  enumeration,
  type Field,
  fixedBytes,
  increasingU32s,
  invalid,
  list,
  literal,
  nullable,
  Reader,
  string,
  struct,
  truncated,
  u8,
  u32,
  u64,
  Writer,
} from "./field-codecs.js";
import {
  ENVELOPE_NONCE_LENGTH,
  type Envelope,
  ErrorCode,
  HELLO_NONCE_LENGTH,
  type HelloMessage,
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

/** Bytes of the authentication block: sender, recipient, timestamp, nonce, signature. */
export const AUTH_BLOCK_SIZE =
  PUBLIC_KEY_LENGTH + PUBLIC_KEY_LENGTH + 8 + ENVELOPE_NONCE_LENGTH + SIGNATURE_LENGTH;

/** Bytes of the envelope header of a signed request, in front of the body. */
export const ENVELOPE_HEADER_SIZE = UNSIGNED_HEADER_SIZE + AUTH_BLOCK_SIZE;

/** True when the envelope has no authentication data (all zero), so its frame omits the block. */
export function isUnsignedEnvelope(e: Envelope): boolean {
  return (
    e.timestamp === 0 && allZero(e.sender) && allZero(e.recipient) && allZero(e.nonce) && allZero(e.signature)
  );
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

/** Chunk data at least this long is handed over as its own part by {@link encodeFrameParts}. */
export const SEPARATE_DATA_BYTES = 64 * 1024;

/**
 * {@link encodeFrame} as parts whose concatenation is the frame: a store or retrieve-reply frame
 * whose chunk data is at least {@link SEPARATE_DATA_BYTES} long comes as its front and the
 * caller's data itself (the data is the body's last field), saving the frame's 1 MiB copy; any
 * other frame comes whole.
 *
 * @example for (const part of encodeFrameParts(envelope)) await send(part);
 */
export function encodeFrameParts(envelope: Envelope, opts: EncodeOptions = {}): Uint8Array[] {
  const body = envelope.body;
  if (
    (body.type !== "store" && body.type !== "retrieve-reply") ||
    !(body.data instanceof Uint8Array) ||
    body.data.length < SEPARATE_DATA_BYTES
  ) {
    return [encodeFrame(envelope, opts)];
  }
  const data = body.data;
  const max = opts.maxFrameSize ?? MAX_FRAME_SIZE;
  const front = encodeFrame(
    { ...envelope, body: { ...body, data: new Uint8Array(0) } },
    { maxFrameSize: max },
  );
  const payloadSize = front.length - LENGTH_PREFIX_SIZE + data.length;
  if (payloadSize > max) {
    throw new CodecError("too-large", `frame of ${payloadSize} bytes exceeds the limit of ${max}`);
  }
  // The front ends with the data's u32 length (written as 0); both lengths now count the data.
  const view = new DataView(front.buffer, front.byteOffset, front.byteLength);
  view.setUint32(0, payloadSize);
  view.setUint32(front.length - 4, data.length);
  return [front, data];
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
 * requestId, sender, recipient, timestamp, nonce), then the SHA-256 of the encoded body. Computed from the
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
    const bodyHash = encodedBody ? hash("sha256", encodedBody, "buffer") : hashBody(envelope.body);
    const headerLength = headerSize(envelope) - (isUnsignedEnvelope(envelope) ? 0 : SIGNATURE_LENGTH);
    const w = new Writer(new Uint8Array(tag.length + headerLength + HASH_LENGTH));
    w.bytes(tag);
    writeHeader(w, envelope, false);
    w.bytes(bodyHash);
    return w.finish();
  }, "encode");
}

/** SHA-256 of the body's encoding; a large chunk's data is hashed where it lies, not copied first. */
function hashBody(body: Message): Uint8Array {
  if (
    (body.type !== "store" && body.type !== "retrieve-reply") ||
    !(body.data instanceof Uint8Array) ||
    body.data.length < SEPARATE_DATA_BYTES
  ) {
    return hash("sha256", encodeBody(body), "buffer");
  }
  // The data is the body's last field: its front ends with the data's u32 length.
  const front = encodeBody({ ...body, data: new Uint8Array(0) });
  new DataView(front.buffer, front.byteOffset, front.byteLength).setUint32(
    front.length - 4,
    body.data.length,
  );
  return createHash("sha256").update(front).update(body.data).digest();
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
  checkFixed(e.recipient, PUBLIC_KEY_LENGTH, "recipient");
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
  w.bytes(e.recipient);
  w.u64(e.timestamp);
  w.bytes(e.nonce);
  if (withSignature) w.bytes(e.signature);
}

// ---------------------------------------------------------------------------------------------
// Message bodies: one description each, in wire order (see protocol/field-codecs.ts)

const storeId = string(MAX_STORE_ID_LENGTH, { nonEmpty: true });

/** Every ErrorCode, each its own u16 on the wire. */
const errorCode = enumeration(
  new Map(Object.values(ErrorCode).map((code): [ErrorCode, number] => [code, code])),
  2,
);

/**
 * A challenge names each chunk once, in increasing order (as createChallenge makes them): a chunk
 * named twice would make the miner read and prove it twice for nothing.
 */
const challenge = struct<Challenge>(
  {
    storeId,
    nonce: fixedBytes(NONCE_LENGTH),
    deadline: u64,
    // Each chunk is at least its index and its leaf count.
    chunks: list(struct({ chunkIndex: u32(), leafIndices: increasingU32s }), 8),
  },
  (c, name) =>
    checkIncreasing(
      c.chunks.map((chunk) => chunk.chunkIndex),
      Number.POSITIVE_INFINITY,
      `${name}.chunks.chunkIndex`,
    ),
);

/**
 * One chunk of a proof: chunk index, leaf count, the proven indices (below the leaf count), one
 * u32-length-prefixed leaf per index (no count of its own), then the siblings. The fields of
 * `proof` and the leaves interleave on the wire and depend on each other, so this layout is
 * written out rather than composed.
 */
const chunkProof: Field<ChunkProof> = (name) => {
  const leavesName = `${name}.leaves`;
  const indicesName = `${name}.proof.indices`;
  const siblingsName = `${name}.proof.siblings`;
  const chunkIndex = u32()(`${name}.chunkIndex`);
  const leafCount = u32()(`${name}.proof.leafCount`);
  const sibling = fixedBytes(HASH_LENGTH)(siblingsName);
  return {
    size(c) {
      if (typeof c !== "object" || c === null) invalid(`${name} is not an object`);
      const p = c.proof;
      if (typeof p !== "object" || p === null) invalid(`${name}.proof is not an object`);
      let size = chunkIndex.size(c.chunkIndex) + leafCount.size(p.leafCount);
      checkIncreasing(p.indices, p.leafCount, indicesName);
      if (!Array.isArray(c.leaves)) invalid(`${leavesName} is not an array`);
      if (c.leaves.length !== p.indices.length) invalid(`${leavesName}: one leaf per proven index`);
      if (!Array.isArray(p.siblings)) invalid(`${siblingsName} is not an array`);
      size += 4 + 4 * p.indices.length;
      for (const leaf of c.leaves) {
        if (!(leaf instanceof Uint8Array)) invalid(`${leavesName} is not a Uint8Array`);
        size += 4 + leaf.length;
      }
      for (const s of p.siblings) size += sibling.size(s);
      return size + 4;
    },
    write(w, c) {
      w.u32(c.chunkIndex);
      w.u32(c.proof.leafCount);
      w.u32(c.proof.indices.length);
      for (const index of c.proof.indices) w.u32(index);
      for (const leaf of c.leaves) {
        w.u32(leaf.length);
        w.bytes(leaf);
      }
      w.u32(c.proof.siblings.length);
      for (const s of c.proof.siblings) w.bytes(s);
    },
    read(r) {
      const index = r.u32();
      const count = r.u32();
      // Each proven index brings its own u32 and its leaf's u32 length.
      const indices = r.increasingU32s(count, indicesName, 8);
      const leaves: Uint8Array[] = [];
      for (let j = 0; j < indices.length; j++) leaves.push(r.fixed(r.u32()));
      const siblingCount = r.count(HASH_LENGTH, siblingsName);
      const siblings: Uint8Array[] = [];
      for (let j = 0; j < siblingCount; j++) siblings.push(r.fixed(HASH_LENGTH));
      return { chunkIndex: index, leaves, proof: { leafCount: count, indices, siblings } };
    },
  };
};

const response = struct<ChallengeResponse>({
  nonce: fixedBytes(NONCE_LENGTH),
  binding: fixedBytes(BINDING_LENGTH),
  // Each chunk is at least its index, leaf count, index count and sibling count.
  chunks: list(chunkProof, 16),
});

const chunkData = <T extends "store" | "retrieve-reply">(type: T) =>
  struct<{ type: T; storeId: string; chunkIndex: number; data: Uint8Array }>({
    type: literal(type),
    storeId,
    chunkIndex: u32(),
    data: bytes,
  });

type Body<K extends MessageType> = Extract<Message, { type: K }>;

/** The layout of every message body, by type. */
/** {@link nullable} for an optional key: absent (undefined) travels as the zero flag. */
function optional<T>(inner: Field<T>): Field<T | undefined> {
  return (name) => {
    const codec = nullable(inner)(name);
    return {
      size: (v) => codec.size(v ?? null),
      write: (w, v) => codec.write(w, v ?? null),
      read: (r) => codec.read(r) ?? undefined,
    };
  };
}

const BODY_FIELDS: { [K in MessageType]: Field<Body<K>> } = {
  hello: struct<HelloMessage>(
    {
      type: literal("hello"),
      role: enumeration(new Map(Object.entries(ROLE_CODES) as [NodeRole, number][])),
      protocolVersion: u8(),
      softwareVersion: string(MAX_SOFTWARE_VERSION_LENGTH),
      chunkSize: u32({ min: 1, max: MAX_CHUNK_SIZE }),
      leafSize: u32({ min: 1 }),
      capacity: nullable(struct({ budgetBytes: u64, usedBytes: u64, chunkCount: u32() })),
      nonce: fixedBytes(HELLO_NONCE_LENGTH),
      proof: nullable(
        struct({ hotkey: fixedBytes(PUBLIC_KEY_LENGTH), signature: fixedBytes(SIGNATURE_LENGTH) }),
      ),
    },
    (hello, name) => checkUint(hello.leafSize, hello.chunkSize, `${name}.leafSize`, 1),
  ),
  store: chunkData("store"),
  "store-ack": struct({
    type: literal("store-ack"),
    storeId,
    chunkIndex: u32(),
    root: fixedBytes(HASH_LENGTH),
  }),
  retrieve: struct({ type: literal("retrieve"), storeId, chunkIndex: u32() }),
  "retrieve-reply": chunkData("retrieve-reply"),
  challenge: struct({ type: literal("challenge"), challenge, evictionsSince: optional(u64) }),
  proof: struct({ type: literal("proof"), response }),
  evictions: struct({ type: literal("evictions"), storeId, sinceSeq: u64 }),
  "evictions-reply": struct({
    type: literal("evictions-reply"),
    storeId,
    evicted: increasingU32s,
    nextSeq: u64,
  }),
  error: struct({ type: literal("error"), code: errorCode, message: string(MAX_ERROR_MESSAGE_LENGTH) }),
};

const BODIES = new Map<MessageType, Codec<Message>>(
  (Object.keys(BODY_FIELDS) as MessageType[]).map((type) => [
    type,
    (BODY_FIELDS[type] as Field<Message>)(type),
  ]),
);

/** Body codecs by wire type code. */
const BODIES_BY_CODE = new Map<number, Codec<Message>>(
  [...BODIES].map(([type, codec]) => [MESSAGE_TYPE_CODES[type], codec]),
);

function bodyCodec(m: Message): Codec<Message> {
  if (typeof m !== "object" || m === null) invalid("body is not an object");
  const codec = typeof m.type === "string" ? BODIES.get(m.type) : undefined;
  return codec ?? unknownType(m.type);
}

/** Validates a body and returns its encoded size. */
function measureBody(m: Message): number {
  return bodyCodec(m).size(m);
}

function writeBody(w: Writer, m: Message): void {
  (BODIES.get(m.type) as Codec<Message>).write(w, m);
}

function readBody(r: Reader, typeCode: number): Message {
  const codec = BODIES_BY_CODE.get(typeCode);
  if (codec === undefined) return unknownType(typeCode);
  return codec.read(r);
}

function asciiBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
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
  const recipient = signed ? r.fixed(PUBLIC_KEY_LENGTH) : new Uint8Array(PUBLIC_KEY_LENGTH);
  const timestamp = signed ? r.u64() : 0;
  const nonce = signed ? r.fixed(ENVELOPE_NONCE_LENGTH) : new Uint8Array(ENVELOPE_NONCE_LENGTH);
  const signature = signed ? r.fixed(SIGNATURE_LENGTH) : new Uint8Array(SIGNATURE_LENGTH);
  if (
    signed &&
    timestamp === 0 &&
    allZero(sender) &&
    allZero(recipient) &&
    allZero(nonce) &&
    allZero(signature)
  ) {
    // Canonical form: an all-zero authentication block is written as no block at all.
    throw new CodecError("invalid-field", "empty authentication block");
  }
  const bodyStart = payload.length - r.remaining();
  const body = readBody(r, typeCode);
  if (r.remaining() !== 0) {
    throw new CodecError("trailing-bytes", `${r.remaining()} bytes after the message body`);
  }
  return {
    envelope: { version, requestId, sender, recipient, timestamp, nonce, signature, body },
    body: payload.subarray(bodyStart),
  };
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
    return this.decode(chunk, Number.POSITIVE_INFINITY);
  }

  /**
   * {@link pushFrames}, stopping at the first whole frame: the bytes after it stay undecoded (see
   * {@link takeBuffered}), so a stream carrying several requests is read one frame at a time and
   * each frame gets the checks of the read that takes it.
   */
  pushFrame(chunk: Uint8Array): DecodedFrame | undefined {
    return this.decode(chunk, 1)[0];
  }

  /**
   * Removes and returns the bytes received but not part of a decoded frame (those after the frame
   * {@link pushFrame} returned), to start the next frame's decoder with. Throws CodecError
   * "truncated" while a frame's length prefix has been read but not its payload.
   */
  takeBuffered(): Uint8Array[] {
    if (this.failure) throw this.failure;
    if (this.pending !== undefined) {
      throw new CodecError("truncated", "a frame is half read; its bytes cannot be carried over");
    }
    const out = this.chunks.map((chunk, i) => (i === 0 ? chunk.subarray(this.head) : chunk));
    this.chunks.length = 0;
    this.head = 0;
    this.buffered = 0;
    return out.filter((chunk) => chunk.length > 0);
  }

  private decode(chunk: Uint8Array, maxFrames: number): DecodedFrame[] {
    if (this.failure) throw this.failure;
    try {
      if (!(chunk instanceof Uint8Array)) invalid("chunk is not a Uint8Array");
      if (chunk.length > 0) {
        this.chunks.push(chunk);
        this.buffered += chunk.length;
      }
      const out: DecodedFrame[] = [];
      while (out.length < maxFrames) {
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
