/**
 * Request authentication for the validator's HTTP client API (the gateway of issue 15), in the
 * Epistula header convention that Bittensor subnet HTTP APIs use, so existing Bittensor clients can
 * talk to it unchanged.
 *
 * The layout follows Epistula version 2 as the Bittensor community's clients write it: the Python
 * `generate_header` / `verify_signature` helpers that subnet repositories carry (Manifold's Targon
 * among them, whose API docs list these headers), read through the code search while writing this:
 *
 *   Epistula-Version:           "2"
 *   Epistula-Timestamp:         Unix milliseconds, decimal (`round(time.time() * 1000)`)
 *   Epistula-Uuid:              a fresh UUID (`str(uuid4())`)
 *   Epistula-Signed-By:         the signer's hotkey, ss58
 *   Epistula-Signed-For:        the recipient's hotkey, ss58 (absent when signed for no one)
 *   Epistula-Request-Signature: "0x" + hex of the sr25519 signature over the UTF-8 bytes of
 *                               `${sha256_hex(body)}.${uuid}.${timestamp}.${signed_for or ""}`
 *
 * Those clients also send `Epistula-Secret-Signature-{0,1,2}` (signatures over a 10 s time interval
 * and the recipient, for endpoints that authenticate without the body). They prove nothing the
 * request signature does not, so we neither send nor read them.
 *
 * What we add on the receiving side, beyond the reference verifiers: the timestamp must be within
 * ±`windowMs` both ways (they only refuse stale ones), the request must be signed for this gateway
 * (STYLE.md: a signed message names its recipient, so a request to another gateway cannot be
 * replayed here), and a (hotkey, uuid) pair is accepted once.
 *
 * The signature covers sha256(body), which a server can only check after the last byte: a gateway
 * must not buffer a body to authenticate it (a 10 GiB put), so the caller hashes while it streams.
 * The future gateway therefore must:
 *   1. on the headers, before reading the body, call {@link EpistulaVerifier.checkHeaders} (parse,
 *      clock, recipient, replay: cheap, no signature) and its own allow-list and quota checks, and
 *      note the arrival time;
 *   2. stream the body into a temporary area (a temp file, pieces not yet in the manifest) through
 *      `createHash("sha256")`, enforcing the declared length and size caps as it goes;
 *   3. call {@link EpistulaVerifier.verify} with the digest and `receivedAt` = the arrival time (so
 *      a long upload is judged by when it started, not when it ended);
 *   4. make the upload visible (rename into place, commit the manifest) only when that returns
 *      `ok`; on any refusal delete the temporary data.
 * So nothing unauthenticated or half-stored ever becomes visible, and a forged request costs the
 * gateway at most one body's worth of temporary space and hashing, bounded by its size caps.
 *
 * No I/O here: headers in, a result out.
 */
import { createHash, randomUUID } from "node:crypto";
import { u8aToHex, u8aWrapBytes } from "@polkadot/util";
import { decodeAddress, encodeAddress, sr25519Verify as sr25519VerifyJs } from "@polkadot/util-crypto";
import { sr25519Verify as sr25519VerifyWasm, isReady as wasmCryptoReady } from "@polkadot/wasm-crypto";
import { bytesEqual } from "../protocol/bytes.js";
import { type HotkeyId, hotkeyPublicKey, type RequestSigner } from "./auth.js";
import { NodeError } from "./errors.js";

/** The Epistula version we speak; a request with another version is refused (400). */
export const EPISTULA_VERSION = "2";

/** The header names, as the convention spells them (HTTP header names are case-insensitive). */
export const EpistulaHeader = {
  version: "Epistula-Version",
  timestamp: "Epistula-Timestamp",
  uuid: "Epistula-Uuid",
  signedBy: "Epistula-Signed-By",
  signedFor: "Epistula-Signed-For",
  signature: "Epistula-Request-Signature",
} as const;

/**
 * How far a request's timestamp may be from the gateway's clock, either way: the same window as
 * the miners' request authentication (neurons/auth.ts DEFAULT_AUTH_WINDOW_MS). The reference
 * verifiers allow 8 s; 30 s tolerates client clocks that drift a little more.
 */
export const DEFAULT_EPISTULA_WINDOW_MS = 30_000;

/**
 * (hotkey, uuid) pairs remembered at most. Each is remembered for two windows (60 s at the
 * default), so this admits ~1,600 requests per second across all clients before the gateway
 * refuses new ones; at ~250 bytes an entry the cache stays under ~25 MB.
 */
export const DEFAULT_EPISTULA_MAX_REMEMBERED = 100_000;

/** SS58 prefix of hotkeys on subtensor. */
const SS58_FORMAT = 42;

const SHA256_LENGTH = 32;
const TIMESTAMP_PATTERN = /^\d{1,16}$/;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SIGNATURE_PATTERN = /^(0x)?[0-9a-f]{128}$/i;

/** Thrown by {@link signEpistula} for input it cannot sign (a bad uuid, recipient or digest). */
export class EpistulaSignError extends NodeError {
  override name = "EpistulaSignError";
}

/** Thrown by {@link createEpistulaVerifier} for a window or cap that is not a positive number. */
export class EpistulaVerifierInitError extends NodeError {
  override name = "EpistulaVerifierInitError";
}

/** The body to sign: its bytes, or its SHA-256 digest when the caller hashed it while streaming. */
export type EpistulaBody = Uint8Array | { sha256: Uint8Array };

/** The headers {@link signEpistula} returns, to merge into a request's headers. */
export type EpistulaHeaders = Record<string, string>;

export interface SignEpistulaOptions {
  /** The recipient's hotkey (the gateway's); omitted, the request is signed for no one. */
  signedFor?: HotkeyId;
  /** Unix ms; default Date.now(). */
  now?: number;
  /** Default a fresh random UUID. */
  uuid?: string;
}

/**
 * The Epistula headers for a request with `body`, signed by `pair` (a KeyringPair, or the faster
 * signer of neurons/auth.ts createRequestSigner).
 *
 * @example
 * const headers = signEpistula(hotkey, body, { signedFor: gatewayHotkey });
 * await fetch(`${gateway}/files`, { method: "POST", headers, body });
 */
export function signEpistula(
  pair: RequestSigner,
  body: EpistulaBody,
  options: SignEpistulaOptions = {},
): EpistulaHeaders {
  const digest = body instanceof Uint8Array ? sha256(body) : body.sha256;
  if (digest.length !== SHA256_LENGTH) {
    throw new EpistulaSignError(`body digest must be ${SHA256_LENGTH} bytes (SHA-256), got ${digest.length}`);
  }
  const uuid = options.uuid ?? randomUUID();
  if (!UUID_PATTERN.test(uuid)) throw new EpistulaSignError("uuid must be a UUID", { details: uuid });
  const timestamp = options.now ?? Date.now();
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new EpistulaSignError("timestamp must be a non-negative integer of Unix ms", {
      details: String(timestamp),
    });
  }
  let signedFor = "";
  if (options.signedFor !== undefined) {
    try {
      signedFor = encodeAddress(hotkeyPublicKey(options.signedFor), SS58_FORMAT);
    } catch (cause) {
      throw new EpistulaSignError("signedFor is not a hotkey", { details: String(options.signedFor), cause });
    }
  }
  const message = epistulaMessage(hex(digest), uuid, String(timestamp), signedFor);
  const headers: EpistulaHeaders = {
    [EpistulaHeader.version]: EPISTULA_VERSION,
    [EpistulaHeader.timestamp]: String(timestamp),
    [EpistulaHeader.uuid]: uuid,
    [EpistulaHeader.signedBy]: encodeAddress(pair.publicKey, SS58_FORMAT),
    [EpistulaHeader.signature]: u8aToHex(pair.sign(message)),
  };
  if (signedFor !== "") headers[EpistulaHeader.signedFor] = signedFor;
  return headers;
}

/**
 * The exact bytes an Epistula signature covers: the UTF-8 of
 * `${sha256_hex(body)}.${uuid}.${timestamp}.${signed_for}`, with `signed_for` empty when the
 * request is signed for no one.
 */
export function epistulaMessage(
  bodySha256Hex: string,
  uuid: string,
  timestamp: string,
  signedFor: string,
): Uint8Array {
  return new TextEncoder().encode(`${bodySha256Hex}.${uuid}.${timestamp}.${signedFor}`);
}

/**
 * Request headers as a server sees them: Node's `IncomingHttpHeaders` (lower-case names, a
 * repeated header as an array) or a fetch `Headers`.
 */
export type EpistulaHeaderSource = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

/** The stable machine codes of a refusal, for the API's one error shape. */
export type EpistulaErrorCode =
  | "missing_header"
  | "malformed_header"
  | "unsupported_version"
  | "stale_timestamp"
  | "wrong_recipient"
  | "replayed_request"
  | "bad_signature"
  | "replay_cache_full";

/**
 * A verification result. 400: a header is missing or malformed. 401: the request does not
 * authenticate (bad signature or body hash, timestamp outside the window, signed for another
 * recipient, uuid already used). 429: the replay cache is full; `retryAfterMs` says when the
 * oldest entry expires.
 */
export type EpistulaResult =
  | { ok: true; hotkey: string }
  | { ok: false; status: 400 | 401; code: EpistulaErrorCode; message: string }
  | { ok: false; status: 429; code: "replay_cache_full"; message: string; retryAfterMs: number };

export interface EpistulaVerifierInit {
  /** The gateway's own hotkey: only requests signed for it are accepted. */
  recipient: HotkeyId;
  /** Default {@link DEFAULT_EPISTULA_WINDOW_MS}. */
  windowMs?: number;
  /** Default {@link DEFAULT_EPISTULA_MAX_REMEMBERED}. */
  maxRemembered?: number;
  /** Clock in Unix ms; default Date.now. */
  now?: () => number;
}

export interface EpistulaCheckOptions {
  /** When the request's headers arrived, Unix ms; default the verifier's clock now. */
  receivedAt?: number;
}

export interface EpistulaVerifier {
  /**
   * The checks that need no body, for before the gateway reads it: headers well-formed, timestamp
   * within the window of `receivedAt`, signed for this gateway, (hotkey, uuid) not already used.
   * The `hotkey` it returns is only claimed (no signature is checked yet): use it to refuse early
   * (allow-list, quota), never to grant anything. Remembers nothing, so two copies of one request
   * in flight both pass it; {@link verify} then accepts only the first to finish.
   */
  checkHeaders(headers: EpistulaHeaderSource, options?: EpistulaCheckOptions): EpistulaResult;
  /**
   * Every check of {@link checkHeaders}, then the signature over the SHA-256 of the body the server
   * received. Remembers the (hotkey, uuid) of an accepted request, so it is accepted once.
   */
  verify(
    headers: EpistulaHeaderSource,
    bodySha256: Uint8Array,
    options?: EpistulaCheckOptions,
  ): EpistulaResult;
  /** (hotkey, uuid) pairs currently remembered. */
  readonly remembered: number;
}

/**
 * The gateway's side. Checks run cheapest first (headers, clock, recipient, replay) so a request
 * that cannot be valid costs no signature check, and only a request whose signature verifies is
 * remembered, so nobody without the hotkey's key can fill the replay cache in its name.
 *
 * Replay: a timestamp is accepted while it is within ±window of the clock, so a request can be
 * valid for up to two windows after it first arrives; its (hotkey, uuid) is remembered for two
 * windows from when it was accepted. Past `maxRemembered` the verifier refuses new requests (429)
 * rather than grow or forget a pair still inside its window: growing lets a flood of validly signed
 * requests exhaust memory, and forgetting early reopens exactly the replay the cache exists to stop.
 *
 * Call neurons/auth.ts `authReady()` first for the sr25519 WebAssembly (~40× faster); without it
 * the JavaScript sr25519 verifies.
 *
 * @example
 * const verifier = createEpistulaVerifier({ recipient: hotkey.publicKey });
 * const receivedAt = Date.now();
 * const early = verifier.checkHeaders(request.headers, { receivedAt });
 * if (!early.ok) return reply(early.status, { code: early.code, message: early.message });
 * // …stream the body to a temporary file through `hash = createHash("sha256")`, then:
 * const result = verifier.verify(request.headers, hash.digest(), { receivedAt });
 * if (!result.ok) return discardAndReply(result.status, { code: result.code, message: result.message });
 */
export function createEpistulaVerifier(init: EpistulaVerifierInit): EpistulaVerifier {
  const windowMs = init.windowMs ?? DEFAULT_EPISTULA_WINDOW_MS;
  const maxRemembered = init.maxRemembered ?? DEFAULT_EPISTULA_MAX_REMEMBERED;
  if (!(windowMs > 0))
    throw new EpistulaVerifierInitError("windowMs must be positive", { details: String(windowMs) });
  if (!(Number.isSafeInteger(maxRemembered) && maxRemembered > 0)) {
    throw new EpistulaVerifierInitError("maxRemembered must be a positive integer", {
      details: String(maxRemembered),
    });
  }
  const now = init.now ?? Date.now;
  const recipient = hotkeyPublicKey(init.recipient);
  const recipientAddress = encodeAddress(recipient, SS58_FORMAT);
  // Insertion order is acceptance order and every entry lives two windows, so expiry times
  // increase along the map and pruning stops at the first live entry.
  const seen = new Map<string, number>();

  const prune = (at: number): void => {
    for (const [key, expiry] of seen) {
      if (expiry > at) break;
      seen.delete(key);
    }
  };

  const replayKey = (parsed: ParsedHeaders): string => `${hex(parsed.signedBy)}/${parsed.uuid.toLowerCase()}`;

  const check = (headers: EpistulaHeaderSource, at: number, receivedAt: number): ParsedHeaders | Refusal => {
    prune(at);
    const parsed = parseHeaders(headers);
    if (!parsed.ok) return parsed;
    if (parsed.version !== EPISTULA_VERSION) {
      return refuse(
        400,
        "unsupported_version",
        `Epistula-Version ${parsed.version} is not supported; use ${EPISTULA_VERSION}`,
      );
    }
    if (Math.abs(parsed.timestamp - receivedAt) > windowMs) {
      return refuse(
        401,
        "stale_timestamp",
        `Epistula-Timestamp is ${Math.round((receivedAt - parsed.timestamp) / 1000)} s off this gateway's clock (window ±${windowMs / 1000} s)`,
      );
    }
    if (parsed.signedFor === undefined) {
      return refuse(401, "wrong_recipient", `request is signed for no one; sign it for ${recipientAddress}`);
    }
    if (!bytesEqual(parsed.signedFor.publicKey, recipient)) {
      return refuse(
        401,
        "wrong_recipient",
        `request is signed for ${parsed.signedFor.text}, not ${recipientAddress}`,
      );
    }
    if (seen.has(replayKey(parsed))) {
      return refuse(401, "replayed_request", "Epistula-Uuid was already used by this hotkey");
    }
    return parsed;
  };

  return {
    get remembered() {
      return seen.size;
    },
    checkHeaders(headers, options = {}) {
      const at = now();
      const parsed = check(headers, at, options.receivedAt ?? at);
      if (!parsed.ok) return parsed;
      return { ok: true, hotkey: encodeAddress(parsed.signedBy, SS58_FORMAT) };
    },
    verify(headers, bodySha256, options = {}) {
      const at = now();
      const parsed = check(headers, at, options.receivedAt ?? at);
      if (!parsed.ok) return parsed;
      if (bodySha256.length !== SHA256_LENGTH) {
        return refuse(401, "bad_signature", "body hash is not a SHA-256 digest");
      }
      const message = epistulaMessage(
        hex(bodySha256),
        parsed.uuid,
        parsed.timestampText,
        parsed.signedFor?.text ?? "",
      );
      if (!verifySr25519(message, parsed.signature, parsed.signedBy)) {
        return refuse(
          401,
          "bad_signature",
          "Epistula-Request-Signature does not verify for this body and these headers",
        );
      }
      if (seen.size >= maxRemembered) {
        const oldest = seen.values().next().value as number;
        return {
          ok: false,
          status: 429,
          code: "replay_cache_full",
          message: `too many requests in the replay window (${maxRemembered} remembered); retry later`,
          retryAfterMs: Math.max(0, oldest - at),
        };
      }
      seen.set(replayKey(parsed), at + 2 * windowMs);
      return { ok: true, hotkey: encodeAddress(parsed.signedBy, SS58_FORMAT) };
    },
  };
}

interface ParsedHeaders {
  ok: true;
  version: string;
  timestamp: number;
  /** The timestamp exactly as sent: the signature covers this text. */
  timestampText: string;
  uuid: string;
  signedBy: Uint8Array;
  /** Undefined when the header is absent or empty (signed for no one). */
  signedFor: { text: string; publicKey: Uint8Array } | undefined;
  signature: Uint8Array;
}

type Refusal = Extract<EpistulaResult, { ok: false; status: 400 | 401 }>;

function refuse(status: 400 | 401, code: EpistulaErrorCode, message: string): Refusal {
  return { ok: false, status, code, message };
}

/** Reads one header; a repeated header is malformed, since which copy was signed is ambiguous. */
function readHeader(headers: EpistulaHeaderSource, name: string): string | undefined | Refusal {
  if (headers instanceof Headers) {
    // fetch's Headers joins repeats with ", ", which no valid Epistula value contains.
    return headers.get(name) ?? undefined;
  }
  const value = headers[name.toLowerCase()] ?? headers[name];
  if (value === undefined || typeof value === "string") return value;
  return refuse(400, "malformed_header", `${name} is repeated`);
}

function parseHeaders(headers: EpistulaHeaderSource): ParsedHeaders | Refusal {
  const values: Partial<Record<keyof typeof EpistulaHeader, string>> = {};
  for (const [field, name] of Object.entries(EpistulaHeader) as [keyof typeof EpistulaHeader, string][]) {
    const value = readHeader(headers, name);
    if (typeof value === "object") return value;
    if (value === undefined && field !== "signedFor")
      return refuse(400, "missing_header", `${name} is missing`);
    if (value !== undefined) values[field] = value.trim();
  }
  const { version, timestamp, uuid, signedBy, signedFor, signature } = values as Required<typeof values>;
  if (!TIMESTAMP_PATTERN.test(timestamp)) {
    return refuse(400, "malformed_header", "Epistula-Timestamp must be Unix milliseconds in decimal");
  }
  if (!UUID_PATTERN.test(uuid)) return refuse(400, "malformed_header", "Epistula-Uuid must be a UUID");
  if (!SIGNATURE_PATTERN.test(signature)) {
    return refuse(400, "malformed_header", "Epistula-Request-Signature must be 0x and 64 bytes of hex");
  }
  const signedByKey = decodeHotkey(signedBy);
  if (signedByKey === undefined)
    return refuse(400, "malformed_header", "Epistula-Signed-By is not an ss58 hotkey");
  let signedForParsed: ParsedHeaders["signedFor"];
  if (signedFor !== undefined && signedFor !== "") {
    const publicKey = decodeHotkey(signedFor);
    if (publicKey === undefined)
      return refuse(400, "malformed_header", "Epistula-Signed-For is not an ss58 hotkey");
    signedForParsed = { text: signedFor, publicKey };
  }
  return {
    ok: true,
    version,
    timestamp: Number(timestamp),
    timestampText: timestamp,
    uuid,
    signedBy: signedByKey,
    signedFor: signedForParsed,
    signature: Buffer.from(signature.replace(/^0x/i, ""), "hex"),
  };
}

function decodeHotkey(address: string): Uint8Array | undefined {
  try {
    const publicKey = decodeAddress(address);
    return publicKey.length === 32 ? publicKey : undefined;
  } catch {
    return undefined;
  }
}

/**
 * sr25519 verification of the raw message, or of it wrapped in `<Bytes>…</Bytes>`: browser
 * wallets (the polkadot-js extension's signRaw) sign the wrapped form, and the reference Python
 * verifier (substrate-interface `Keypair.verify`) accepts both, so we do too.
 */
function verifySr25519(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean {
  const verifyOne = (bytes: Uint8Array): boolean => {
    try {
      return wasmCryptoReady()
        ? sr25519VerifyWasm(signature, bytes, publicKey)
        : sr25519VerifyJs(bytes, signature, publicKey);
    } catch {
      return false;
    }
  };
  return verifyOne(message) || verifyOne(u8aWrapBytes(message));
}

function sha256(bytes: Uint8Array): Uint8Array {
  return createHash("sha256").update(bytes).digest();
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}
