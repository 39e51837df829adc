/**
 * The typed client of the validators' storage API (the HTTP API of design 15): store a file
 * through a gateway, read it back verified block by block, list, inspect and remove.
 *
 * A put reads its source twice. Pass 1 hashes exactly the bytes to send (the ciphertext, unless
 * public) and computes their CID locally; pass 2 streams them with the Epistula signature over
 * that hash in the headers (it must be sent before the body). An encrypted put picks the file's
 * salt once so both passes make identical ciphertext. The gateway's CID must equal the local one.
 *
 * A get never trusts the gateway's bytes: it reads the file's blocks one by one from
 * `/ipfs/{cid}?format=raw` and checks each against the CID before yielding (protocol/content-id.ts
 * readFile / readRange), then decrypts (protocol/file-crypto.ts). A range read fetches only the
 * blocks covering the range (and, when encrypted, the 69-byte header in the first leaf).
 */
import { createHash, randomBytes } from "node:crypto";
import type { KeyringPair } from "@polkadot/keyring/types";
import { CID } from "multiformats/cid";
import {
  type BlockFetcher,
  BlockVerificationError,
  DEFAULT_FETCH_AHEAD,
  importFile,
  MAX_BLOCK_BYTES,
  readFile,
  readRange,
  verifyBlock,
} from "../../protocol/content-id.js";
import {
  decryptRange,
  decryptStream,
  encryptedRange,
  encryptedSize,
  encryptStream,
  FILE_HEADER_BYTES,
  FILE_SALT_BYTES,
  plainSize,
} from "../../protocol/file-crypto.js";
import { authReady, createRequestSigner, type RequestSigner } from "../auth.js";
import { signEpistula } from "../epistula.js";
import type { FileInfo, FileStatus } from "../validator/storage/service.js";
import {
  CidMismatchError,
  ClientInputError,
  CorruptBlockError,
  GatewayError,
  GatewayProtocolError,
  MissingUserSecretError,
  SourceChangedError,
} from "./errors.js";
import {
  createGatewayPool,
  DEFAULT_REQUEST_TIMEOUT_MS,
  type Gateway,
  type GatewayInfo,
  type GatewayResolver,
  gatewayErrorOf,
  isFailover,
  normalizeUrl,
  type ResolvedGateway,
  readBody,
  readJson,
  withTimeout,
} from "./gateway-pool.js";
import type { PutSource } from "./source.js";

export type { FileInfo, FileStatus, Gateway, GatewayInfo, GatewayResolver };

/** Bytes of a range: from `offset`, `length` bytes (clamped to the end of the file). */
export interface ByteRange {
  offset: number;
  length: number;
}

/** Where a long operation is: hashing a put, uploading it, or downloading a get. */
export interface Progress {
  phase: "hash" | "upload" | "download";
  /** Bytes done in this phase. */
  bytes: number;
  /** Bytes this phase will take, when known. */
  total: number | undefined;
}

export interface PutOptions {
  /** Store plaintext anyone may read by CID (the IPFS CID of the bytes); default encrypted. */
  public?: boolean;
  /** Seconds the gateway keeps the file; default until removed. */
  ttlSeconds?: number;
  onProgress?: (progress: Progress) => void;
  signal?: AbortSignal;
}

export interface GetOptions {
  range?: ByteRange;
  /** Decrypt the bytes; default: a private file is decrypted, a public one is not. */
  decrypt?: boolean;
  onProgress?: (progress: Progress) => void;
  signal?: AbortSignal;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface StorageClientInit {
  /** A gateway's URL, or a resolver yielding gateways in order of preference (discovery.ts). */
  gateway: string | URL | Gateway | GatewayResolver;
  /** The hotkey requests are signed with and files are owned by. */
  hotkey: KeyringPair;
  /** The 32-byte secret files are encrypted under (user-secret.ts); needed for private files. */
  userSecret?: Uint8Array;
  /** Default globalThis.fetch. */
  fetch?: typeof globalThis.fetch;
  /** Default {@link DEFAULT_REQUEST_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** Blocks a read fetches ahead of the one it yields; default DEFAULT_FETCH_AHEAD. */
  fetchAhead?: number;
  /** Times a request waits out a 429 before failing; default DEFAULT_RATE_LIMIT_RETRIES. */
  rateLimitRetries?: number;
}

export interface StorageClient {
  /** Stores the source's bytes (encrypted unless `public`); resolves when the file is visible. */
  put(source: PutSource, options?: PutOptions): Promise<FileInfo>;
  /** The file's plaintext (or the range of it), every block verified before it is yielded. */
  get(cid: string, options?: GetOptions): AsyncIterable<Uint8Array>;
  /** The hotkey's files, newest first. */
  list(options?: CallOptions): Promise<FileInfo[]>;
  /** Where a file's pieces are and how many more miners may be lost. */
  status(cid: string, options?: CallOptions): Promise<FileStatus>;
  /** Deletes one of the hotkey's files. */
  remove(cid: string, options?: CallOptions): Promise<{ cid: string; removed: true }>;
  /** The info of the gateway requests go to, and its URL. */
  info(options?: CallOptions): Promise<GatewayInfo & { url: string }>;
}

const EMPTY_SHA256 = createHash("sha256").digest();

/** The empty file's CID (the raw block of no bytes): gateways store no block for it. */
const EMPTY_FILE_CID = CID.parse("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku");

/**
 * A client of one gateway, or of the first that answers of those `gateway` yields.
 *
 * @example
 * const client = createStorageClient({ gateway: "http://127.0.0.1:8080", hotkey, userSecret });
 * const { cid } = await client.put(fileSource("notes.txt"));
 * for await (const bytes of client.get(cid)) process.stdout.write(bytes);
 */
export function createStorageClient(init: StorageClientInit): StorageClient {
  const fetchImpl = init.fetch ?? globalThis.fetch;
  const timeoutMs = init.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  if (!(timeoutMs > 0))
    throw new ClientInputError("timeoutMs must be positive", { details: String(timeoutMs) });
  const pool = createGatewayPool({
    gateways: resolverOf(init.gateway),
    fetch: fetchImpl,
    timeoutMs,
    ...(init.rateLimitRetries !== undefined ? { rateLimitRetries: init.rateLimitRetries } : {}),
  });
  let signer: RequestSigner | undefined;
  const sign = async (): Promise<RequestSigner> => {
    if (signer === undefined) {
      await authReady();
      signer = createRequestSigner(init.hotkey);
    }
    return signer;
  };

  /** A signed request to `gateway` with a body of digest `digest` (default: empty). */
  const send = async (
    gateway: ResolvedGateway,
    method: string,
    path: string,
    options: {
      signal?: AbortSignal | undefined;
      headers?: Record<string, string>;
      body?: ReadableStream<Uint8Array>;
      digest?: Uint8Array;
    },
  ): Promise<Response> => {
    const digest = options.digest ?? EMPTY_SHA256;
    const headers: Record<string, string> = {
      ...signEpistula(await sign(), { sha256: digest }, { signedFor: gateway.info.hotkey }),
      ...options.headers,
    };
    if (options.body !== undefined)
      headers["content-digest"] = `sha-256=:${Buffer.from(digest).toString("base64")}:`;
    const requestInit: RequestInit & { duplex?: "half" } = { method, headers };
    if (options.signal !== undefined) requestInit.signal = options.signal;
    if (options.body !== undefined) {
      requestInit.body = options.body;
      requestInit.duplex = "half";
    }
    return pool.fetch(gateway, path, requestInit);
  };

  /**
   * A signed JSON request with no body, with fallback. A file lives with the gateway that stored
   * it, so a request about one file (`aboutFile`) also moves on when a gateway does not know it.
   */
  const call = (method: string, path: string, options: CallOptions, aboutFile = false): Promise<unknown> =>
    pool.run(
      async (gateway) => {
        const response = await send(gateway, method, path, {
          signal: withTimeout(options.signal, timeoutMs),
          headers: { accept: "application/json" },
        });
        return readJson(gateway.url, response);
      },
      {
        signal: options.signal,
        retry: (error) =>
          isFailover(error) || (aboutFile && error instanceof GatewayError && error.status === 404),
      },
    );

  const status = async (cid: string, options: CallOptions = {}): Promise<FileStatus> => {
    parseCid(cid);
    return fileInfoOf(await call("GET", `/v1/files/${cid}/status`, options, true)) as FileStatus;
  };

  const fetchBlock = (signal: AbortSignal | undefined): BlockFetcher => {
    return async (cid) => {
      if (cid.equals(EMPTY_FILE_CID)) return new Uint8Array(0);
      const corrupt: string[] = [];
      try {
        return await pool.run(
          async (gateway) => {
            const response = await send(gateway, "GET", `/ipfs/${cid}?format=raw`, {
              signal: withTimeout(signal, timeoutMs),
              headers: { accept: "application/vnd.ipld.raw" },
            });
            if (!response.ok) throw await gatewayErrorOf(gateway.url, response);
            const bytes = await readBody(gateway.url, response, MAX_BLOCK_BYTES);
            try {
              verifyBlock(cid, bytes);
            } catch (error) {
              if (!(error instanceof BlockVerificationError)) throw error;
              corrupt.push(gateway.url);
              throw error;
            }
            return bytes;
          },
          // Another gateway may hold the block (or hold it intact): any failure moves on.
          { signal, retry: () => true },
        );
      } catch (error) {
        if (corrupt.length > 0 && !(signal?.aborted ?? false)) {
          throw new CorruptBlockError(
            `block ${cid} did not match its CID from ${corrupt.join(", ")}, and no gateway sent it intact`,
            { cause: error },
          );
        }
        throw error;
      }
    };
  };

  const readOptions = (signal: AbortSignal | undefined) => ({
    fetchAhead: init.fetchAhead ?? DEFAULT_FETCH_AHEAD,
    ...(signal !== undefined ? { signal } : {}),
  });

  async function* get(cid: string, options: GetOptions = {}): AsyncGenerator<Uint8Array> {
    const root = parseCid(cid);
    const { signal } = options;
    const file = await status(cid, { ...(signal !== undefined ? { signal } : {}) });
    const decrypt = options.decrypt ?? !file.public;
    let userSecret: Uint8Array | undefined;
    if (decrypt) userSecret = requireSecret(init.userSecret, "read a private file");
    const size = decrypt ? plainSize(file.size) : file.size;
    const range = options.range === undefined ? undefined : clampRange(options.range, size);
    const fetcher = fetchBlock(signal);
    let source: AsyncIterable<Uint8Array>;
    if (userSecret === undefined) {
      source =
        range === undefined
          ? readFile(root, fetcher, readOptions(signal))
          : readRange(root, range.offset, range.length, fetcher, readOptions(signal));
    } else if (range === undefined) {
      source = decryptStream(readFile(root, fetcher, readOptions(signal)), userSecret);
    } else {
      // The header's read fetches the root and the first leaf; the range's read reuses them.
      const seen = new Map<string, Uint8Array>();
      const remembering: BlockFetcher = async (blockCid, fetchOptions) => {
        const bytes = seen.get(blockCid.toString()) ?? (await fetcher(blockCid, fetchOptions));
        if (seen.size < 16) seen.set(blockCid.toString(), bytes);
        return bytes;
      };
      const header = await collect(readRange(root, 0, FILE_HEADER_BYTES, remembering, readOptions(signal)));
      const sealed = encryptedRange(size, range.offset, range.length);
      source = decryptRange(
        header,
        readRange(root, sealed.sealedOffset, sealed.sealedLength, remembering, readOptions(signal)),
        sealed,
        userSecret,
      );
    }
    const total = range?.length ?? size;
    let done = 0;
    options.onProgress?.({ phase: "download", bytes: 0, total });
    for await (const bytes of source) {
      done += bytes.length;
      options.onProgress?.({ phase: "download", bytes: done, total });
      yield bytes;
    }
  }

  const put = async (source: PutSource, options: PutOptions = {}): Promise<FileInfo> => {
    const isPublic = options.public === true;
    const ttl = options.ttlSeconds;
    if (ttl !== undefined && !(Number.isSafeInteger(ttl) && ttl > 0)) {
      throw new ClientInputError("ttlSeconds must be a positive integer", { details: String(ttl) });
    }
    const userSecret = isPublic ? undefined : requireSecret(init.userSecret, "store a private file");
    const salt = randomBytes(FILE_SALT_BYTES);
    const open = (): AsyncIterable<Uint8Array> =>
      userSecret === undefined ? source.open() : encryptStream(source.open(), userSecret, { salt });
    const sourceSize = await source.size();
    const expected =
      sourceSize === undefined
        ? undefined
        : userSecret === undefined
          ? sourceSize
          : encryptedSize(sourceSize);
    const { signal, onProgress } = options;

    // Pass 1: the digest the signature covers and the CID the gateway must name.
    const hash = createHash("sha256");
    let size = 0;
    onProgress?.({ phase: "hash", bytes: 0, total: expected });
    const cid = await importFile(
      tap(open(), (chunk) => {
        signal?.throwIfAborted();
        hash.update(chunk);
        size += chunk.length;
        onProgress?.({ phase: "hash", bytes: size, total: expected });
      }),
      { onBlock: () => undefined },
    );
    const digest = hash.digest();

    const headers: Record<string, string> = {
      "content-length": String(size),
      "content-type": "application/octet-stream",
      accept: "application/json",
      "x-storage-public": String(isPublic),
    };
    if (ttl !== undefined) headers["x-storage-ttl"] = String(ttl);

    // Pass 2, once per gateway tried: the same bytes, checked again as they go.
    const info = await pool.run(
      async (gateway) => {
        let changed: SourceChangedError | undefined;
        // One chunk is held back until the whole source has been checked again, so a changed
        // source stops the request before its declared length is sent: the gateway sees a cut
        // body, never a complete wrong one.
        const checked = (async function* () {
          const again = createHash("sha256");
          let read = 0;
          let sent = 0;
          let held: Uint8Array | undefined;
          for await (const chunk of open()) {
            read += chunk.length;
            if (read > size) {
              changed = new SourceChangedError("the source grew while it was being stored");
              throw changed;
            }
            again.update(chunk);
            if (held !== undefined) {
              yield held;
              sent += held.length;
              onProgress?.({ phase: "upload", bytes: sent, total: size });
            }
            held = chunk;
          }
          if (read !== size || !again.digest().equals(digest)) {
            changed = new SourceChangedError("the source changed while it was being stored");
            throw changed;
          }
          if (held !== undefined) {
            yield held;
            onProgress?.({ phase: "upload", bytes: size, total: size });
          }
        })();
        onProgress?.({ phase: "upload", bytes: 0, total: size });
        let response: Response;
        try {
          response = await send(gateway, "POST", "/v1/files", {
            ...(signal !== undefined ? { signal } : {}),
            headers,
            body: ReadableStream.from(checked) as ReadableStream<Uint8Array>,
            digest,
          });
        } catch (error) {
          if (changed !== undefined) throw changed;
          throw error;
        }
        return fileInfoOf(await readJson(gateway.url, response));
      },
      { ...(signal !== undefined ? { signal } : {}), retry: (error) => isFailover(error) },
    );
    if (info.cid !== cid.toString()) {
      throw new CidMismatchError(
        `the gateway stored the file as ${info.cid}, but its bytes are ${cid}: the gateway is faulty`,
      );
    }
    return info;
  };

  return {
    put,
    get,
    status,
    async list(options = {}) {
      const body = (await call("GET", "/v1/files", options)) as { files?: unknown };
      if (!Array.isArray(body?.files)) throw new GatewayProtocolError("a file listing has no files array");
      return body.files.map(fileInfoOf);
    },
    async remove(cid, options = {}) {
      parseCid(cid);
      const body = (await call("DELETE", `/v1/files/${cid}`, options, true)) as {
        cid?: unknown;
        removed?: unknown;
      };
      if (body?.removed !== true)
        throw new GatewayProtocolError(`the gateway did not confirm removing ${cid}`);
      return { cid, removed: true };
    },
    info(options = {}) {
      return pool.run(async (gateway) => ({ ...gateway.info, url: gateway.url }), options);
    },
  };
}

function resolverOf(gateway: StorageClientInit["gateway"]): GatewayResolver {
  if (typeof gateway === "function") return gateway;
  const one: Gateway =
    typeof gateway === "string" || gateway instanceof URL
      ? { url: normalizeUrl(gateway.toString()) }
      : { ...gateway, url: normalizeUrl(gateway.url) };
  return async function* () {
    yield one;
  };
}

/** A CID the client can verify blocks against, or ClientInputError. */
export function parseCid(cid: string): CID {
  let parsed: CID;
  try {
    parsed = CID.parse(cid);
  } catch (cause) {
    throw new ClientInputError(`${JSON.stringify(cid)} is not a CID`, { cause });
  }
  if (parsed.version !== 1) throw new ClientInputError(`${cid} is not a CIDv1`);
  return parsed;
}

function requireSecret(userSecret: Uint8Array | undefined, what: string): Uint8Array {
  if (userSecret === undefined) {
    throw new MissingUserSecretError(
      `a user secret is needed to ${what}; pass userSecret or use public files`,
    );
  }
  return userSecret;
}

/** The part of `range` inside a file of `size` bytes; a start past the end is refused. */
function clampRange(range: ByteRange, size: number): ByteRange {
  const { offset, length } = range;
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new ClientInputError("a range needs a non-negative integer offset and length", {
      details: `${offset}+${length}`,
    });
  }
  if (offset > size || (offset === size && length > 0 && size > 0)) {
    throw new ClientInputError(`the range starts at ${offset}, past the end of the file (${size} bytes)`);
  }
  return { offset, length: Math.min(length, size - offset) };
}

/** A gateway's FileInfo (or FileStatus), checked for the fields the client relies on. */
function fileInfoOf(value: unknown): FileInfo {
  const info = value as Partial<FileInfo> | null;
  if (
    typeof info !== "object" ||
    info === null ||
    typeof info.cid !== "string" ||
    !Number.isSafeInteger(info.size) ||
    (info.size as number) < 0 ||
    typeof info.public !== "boolean"
  ) {
    throw new GatewayProtocolError("the gateway's answer is not a FileInfo");
  }
  return info as FileInfo;
}

/** Calls `see` on each chunk as it passes (it may throw to stop the stream). */
async function* tap(
  source: AsyncIterable<Uint8Array>,
  see: (chunk: Uint8Array) => void,
): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    see(chunk);
    yield chunk;
  }
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of source) chunks.push(chunk);
  return Buffer.concat(chunks);
}
