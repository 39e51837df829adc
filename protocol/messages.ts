/**
 * The wire messages miners and validators exchange, and the envelope every frame carries.
 * Shapes only; the byte layout lives in protocol/codec.ts.
 */

import { PROTOCOL_VERSION } from "./constants.js";
import type { Challenge, ChallengeResponse } from "./types.js";

/**
 * Domain tag prefixed to the bytes a validator signs, so a request signature is never valid
 * elsewhere. v2: the signed header names the recipient (protocol version 2).
 */
export const SIGNING_DOMAIN = "storage-subnet/req/v2";

/** Length of an sr25519 public key. */
export const PUBLIC_KEY_LENGTH = 32;

/** Length of an sr25519 signature. */
export const SIGNATURE_LENGTH = 64;

/** Length of the per-request replay nonce in the envelope (128 bits: collisions are not a concern). */
export const ENVELOPE_NONCE_LENGTH = 16;

/** Longest store id in UTF-8 bytes. A store id is an ss58 hotkey (48 characters); room to spare. */
export const MAX_STORE_ID_LENGTH = 64;

/** Longest software version string in UTF-8 bytes. */
export const MAX_SOFTWARE_VERSION_LENGTH = 64;

/**
 * Evicted chunk indices in one `evictions-reply` at most: a miner pages a longer list (the
 * validator asks again from `nextSeq`), and a validator refuses a longer reply as a protocol
 * violation. 10,000 indices are a 40 KB frame.
 */
export const MAX_EVICTIONS_PER_REPLY = 10_000;

/** Longest error message in UTF-8 bytes: a reply says what went wrong, not a stack trace. */
export const MAX_ERROR_MESSAGE_LENGTH = 256;

/**
 * Numeric error codes carried by `error` replies. Numeric because they travel on the wire;
 * values are fixed forever, new codes take new numbers.
 */
export const ErrorCode = {
  BadRequest: 1,
  Unauthorized: 2,
  BadSignature: 3,
  Replay: 4,
  StaleTimestamp: 5,
  OverBudget: 6,
  NotFound: 7,
  RateLimited: 8,
  FrameTooLarge: 9,
  UnsupportedVersion: 10,
  Internal: 11,
  /** The request is signed for another miner (its recipient is not this miner's hotkey). */
  WrongRecipient: 12,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export type NodeRole = "miner" | "validator";

/** What a miner offers the validator that asked: its share of the miner's storage. */
export interface Capacity {
  /** Bytes this validator may store on the miner (its stake-weighted share). */
  budgetBytes: number;
  /** Bytes this validator currently stores there. */
  usedBytes: number;
  /** Chunks this validator currently stores there. */
  chunkCount: number;
}

/** Length of a hello's nonce: fresh bytes from the validator that the miner's proof signs. */
export const HELLO_NONCE_LENGTH = 32;

/**
 * A miner's proof that it holds the hotkey it is registered under: its sr25519 public key and
 * its signature over `helloProofPayload` (protocol/hello.ts) of the validator's nonce and both
 * hotkeys.
 */
export interface HelloProof {
  /** The miner's hotkey public key, PUBLIC_KEY_LENGTH bytes. */
  hotkey: Uint8Array;
  /** SIGNATURE_LENGTH bytes. */
  signature: Uint8Array;
}

/**
 * Opens a conversation; a miner answers a validator's hello with its own, capacity filled in and
 * the validator's nonce signed with its hotkey.
 */
export interface HelloMessage {
  type: "hello";
  role: NodeRole;
  protocolVersion: number;
  softwareVersion: string;
  chunkSize: number;
  leafSize: number;
  /** The requesting validator's capacity on the miner; null in a validator's hello. */
  capacity: Capacity | null;
  /** HELLO_NONCE_LENGTH bytes: fresh in a validator's hello, echoed in the miner's answer. */
  nonce: Uint8Array;
  /** The miner's proof of its hotkey over `nonce`; null in a validator's hello. */
  proof: HelloProof | null;
}

export interface StoreMessage {
  type: "store";
  storeId: string;
  chunkIndex: number;
  data: Uint8Array;
}

export interface StoreAckMessage {
  type: "store-ack";
  storeId: string;
  chunkIndex: number;
  /** Merkle root of the stored chunk, HASH_LENGTH bytes. */
  root: Uint8Array;
}

export interface RetrieveMessage {
  type: "retrieve";
  storeId: string;
  chunkIndex: number;
}

export interface RetrieveReplyMessage {
  type: "retrieve-reply";
  storeId: string;
  chunkIndex: number;
  data: Uint8Array;
}

export interface ChallengeMessage {
  type: "challenge";
  challenge: Challenge;
  /**
   * When set, the challenge also asks for the validator's evictions since this sequence number
   * (what an `evictions` request asks): a miner that evicted none of the validator's chunks since
   * answers with its proof as usual, and one that did answers with an `evictions-reply` instead
   * of the proof, so the validator learns them before it challenges again. A steady round is then
   * one request per miner rather than two. Absent (encoded as a zero flag): a plain challenge.
   */
  evictionsSince?: number | undefined;
}

export interface ProofMessage {
  type: "proof";
  response: ChallengeResponse;
}

/** Asks which of the validator's chunks the miner evicted since an eviction sequence number. */
export interface EvictionsMessage {
  type: "evictions";
  storeId: string;
  sinceSeq: number;
}

export interface EvictionsReplyMessage {
  type: "evictions-reply";
  storeId: string;
  /** Evicted chunk indices, strictly increasing. */
  evicted: number[];
  /** The sequence number to ask from next time. */
  nextSeq: number;
}

export interface ErrorMessage {
  type: "error";
  code: ErrorCode;
  /** Short human-readable detail, at most MAX_ERROR_MESSAGE_LENGTH UTF-8 bytes. */
  message: string;
}

export type Message =
  | HelloMessage
  | StoreMessage
  | StoreAckMessage
  | RetrieveMessage
  | RetrieveReplyMessage
  | ChallengeMessage
  | ProofMessage
  | EvictionsMessage
  | EvictionsReplyMessage
  | ErrorMessage;

export type MessageType = Message["type"];

/**
 * What every frame carries. Validator requests are signed over {@link signingPayload}
 * (protocol/codec.ts); responses leave `sender` and `signature` all-zero.
 */
export interface Envelope<M extends Message = Message> {
  /** Wire protocol version (PROTOCOL_VERSION). */
  version: number;
  /** u32 chosen by the requester; the response echoes it. */
  requestId: number;
  /** sr25519 public key of the signer, PUBLIC_KEY_LENGTH bytes; all-zero when unsigned. */
  sender: Uint8Array;
  /**
   * Public key of the miner hotkey the request is for, PUBLIC_KEY_LENGTH bytes; all-zero when
   * unsigned. Signed with the rest, so a miner refuses a request replayed to it from another.
   */
  recipient: Uint8Array;
  /** Unix time in milliseconds (a safe integer). */
  timestamp: number;
  /** ENVELOPE_NONCE_LENGTH random bytes, so two identical requests never share a signature. */
  nonce: Uint8Array;
  /** SIGNATURE_LENGTH bytes; all-zero when unsigned. */
  signature: Uint8Array;
  body: M;
}

/**
 * Wraps a message in an unsigned envelope (zero sender, recipient, nonce and signature), ready to be
 * filled in and signed by a requester or sent as-is as a response.
 *
 * @example
 * const reply = createEnvelope({ type: "error", code: ErrorCode.NotFound, message: "no such chunk" }, { requestId });
 */
export function createEnvelope<M extends Message>(
  body: M,
  fields: Partial<Omit<Envelope<M>, "body">> = {},
): Envelope<M> {
  return {
    version: fields.version ?? PROTOCOL_VERSION,
    requestId: fields.requestId ?? 0,
    sender: fields.sender ?? new Uint8Array(PUBLIC_KEY_LENGTH),
    recipient: fields.recipient ?? new Uint8Array(PUBLIC_KEY_LENGTH),
    timestamp: fields.timestamp ?? 0,
    nonce: fields.nonce ?? new Uint8Array(ENVELOPE_NONCE_LENGTH),
    signature: fields.signature ?? new Uint8Array(SIGNATURE_LENGTH),
    body,
  };
}
