/**
 * The data a validator stores on miners: bytes only this validator can regenerate, different for
 * every miner, so the validator keeps 32 bytes per chunk (its Merkle root) instead of the chunk.
 *
 * Chunk `i` of the validator's store on miner `m` is the AES-256-CTR keystream (over zeros, zero
 * IV) under the key
 *
 *   HMAC-SHA256(secret, "storage-subnet/chunk/v1" ‖ u32be(len m) ‖ m ‖ u32be(len s) ‖ s ‖ u64be(i))
 *
 * with `s` the store id (the validator's hotkey). Why this shape:
 * - Per-miner bytes: the miner's hotkey is in the key, so two miners never hold the same bytes. A
 *   miner cannot answer a challenge with leaves fetched from another miner's copy, and Sybil
 *   hotkeys cannot share one copy: each must store its own.
 * - Incompressible and unpredictable: without the secret the keystream is indistinguishable from
 *   random bytes, so a miner cannot regenerate a chunk on demand or store it in less space.
 * - One key per chunk: the zero IV is safe because no key is used twice. Length prefixes keep two
 *   different (miner, store) pairs from hashing the same input.
 * - Fast: AES-CTR runs on AES-NI at GB/s through node:crypto (see bench/validator.bench.ts), far
 *   above what filling miners over the network needs.
 * A shorter `size` gives a prefix of the same chunk.
 */
import { createCipheriv, createHmac, randomBytes } from "node:crypto";
import {
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";
import { LEAF_SIZE, MAX_CHUNK_SIZE } from "../../protocol/constants.js";
import { chunkRoot } from "../../protocol/merkle.js";
import { NodeError } from "../errors.js";

/** Bytes of a validator secret. */
export const VALIDATOR_SECRET_LENGTH = 32;

/** Domain string of the chunk key derivation. */
const CHUNK_KEY_DOMAIN = "storage-subnet/chunk/v1";

/** CTR mode starts from a zero counter block; safe because every chunk has its own key. */
const ZERO_IV = new Uint8Array(16);

/** Bad arguments to a chunk derivation (secret length, index, size). */
export class ChunkDerivationError extends NodeError {
  override name = "ChunkDerivationError";
}

/** The secret file cannot be read, created, or is not a valid secret. */
export class SecretFileError extends NodeError {
  override name = "SecretFileError";
  readonly path: string;
  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super(`${message} (${path})`, options);
    this.path = path;
  }
}

/** Which chunk to derive. */
export interface ChunkSeed {
  /** The validator's secret, {@link VALIDATOR_SECRET_LENGTH} bytes. */
  secret: Uint8Array;
  /** The miner that stores the chunk (hotkey, ss58). */
  minerHotkey: string;
  /** The validator's store on that miner (the validator hotkey, ss58). */
  storeId: string;
  chunkIndex: number;
}

export interface DeriveChunkParams extends ChunkSeed {
  /** Bytes to derive (usually CHUNK_SIZE); at least 1, at most MAX_CHUNK_SIZE. */
  size: number;
}

function lengthPrefixed(text: string): Buffer {
  const bytes = Buffer.from(text, "utf8");
  const out = Buffer.alloc(4 + bytes.length);
  out.writeUInt32BE(bytes.length, 0);
  bytes.copy(out, 4);
  return out;
}

/**
 * The AES-256 key of one chunk: HMAC-SHA256 of the chunk's coordinates under the secret.
 *
 * @example deriveChunkKey({ secret, minerHotkey, storeId, chunkIndex: 0 }) // 32 bytes
 */
export function deriveChunkKey(seed: ChunkSeed): Uint8Array {
  const { secret, minerHotkey, storeId, chunkIndex } = seed;
  if (!(secret instanceof Uint8Array) || secret.length !== VALIDATOR_SECRET_LENGTH) {
    throw new ChunkDerivationError(`secret must be ${VALIDATOR_SECRET_LENGTH} bytes`);
  }
  if (!Number.isSafeInteger(chunkIndex) || chunkIndex < 0) {
    throw new ChunkDerivationError(`chunk index must be a non-negative integer, got ${chunkIndex}`);
  }
  const index = Buffer.alloc(8);
  index.writeBigUInt64BE(BigInt(chunkIndex), 0);
  return new Uint8Array(
    createHmac("sha256", secret)
      .update(CHUNK_KEY_DOMAIN)
      .update(lengthPrefixed(minerHotkey))
      .update(lengthPrefixed(storeId))
      .update(index)
      .digest(),
  );
}

/**
 * Derives one chunk's bytes. Deterministic: the same parameters always give the same bytes, so
 * the validator can regenerate a chunk to re-store it or to check a retrieved copy.
 *
 * @example
 * const chunk = deriveChunk({ secret, minerHotkey, storeId: validatorHotkey, chunkIndex: 7, size: CHUNK_SIZE });
 */
export function deriveChunk(params: DeriveChunkParams): Uint8Array {
  const { size } = params;
  if (!Number.isSafeInteger(size) || size < 1 || size > MAX_CHUNK_SIZE) {
    throw new ChunkDerivationError(`size must be an integer in [1, ${MAX_CHUNK_SIZE}], got ${size}`);
  }
  const cipher = createCipheriv("aes-256-ctr", deriveChunkKey(params), ZERO_IV);
  // The keystream is the encryption of zeros. CTR has no padding, so `final()` adds nothing.
  const keystream = cipher.update(new Uint8Array(size));
  // A plain Uint8Array view (no copy), so callers never see Buffer-only behaviour.
  return new Uint8Array(keystream.buffer, keystream.byteOffset, keystream.byteLength);
}

/**
 * The sealed Merkle root of a derived chunk: what the validator keeps for it.
 *
 * @example deriveChunkRoot({ secret, minerHotkey, storeId, chunkIndex: 7, size: CHUNK_SIZE })
 */
export function deriveChunkRoot(params: DeriveChunkParams, leafSize: number = LEAF_SIZE): Uint8Array {
  return chunkRoot(deriveChunk(params), leafSize);
}

function readSecret(path: string): Uint8Array {
  let secret: Buffer;
  try {
    secret = readFileSync(path);
  } catch (cause) {
    throw new SecretFileError(path, "cannot read the validator secret", { cause });
  }
  if (secret.length !== VALIDATOR_SECRET_LENGTH) {
    throw new SecretFileError(
      path,
      `the validator secret file holds ${secret.length} bytes, expected ${VALIDATOR_SECRET_LENGTH}`,
    );
  }
  if (process.platform !== "win32" && (statSync(path).mode & 0o077) !== 0) {
    throw new SecretFileError(path, "the validator secret is readable by others; run chmod 600 on it");
  }
  return new Uint8Array(secret);
}

/**
 * Reads the validator secret, creating it (32 random bytes, mode 0600) on first use. Losing the
 * file loses the ability to regenerate the data stored on miners, so back it up with the wallet.
 *
 * Creation is crash-safe and never overwrites: the bytes go to a temporary file, are fsynced, and
 * are linked to `path` only if `path` does not exist yet; a concurrent creator's secret wins.
 * Throws {@link SecretFileError} for an unreadable file, a file of the wrong length, or one that
 * others may read.
 *
 * @example const secret = loadOrCreateSecret(join(dbRoot, "validator.secret"));
 */
export function loadOrCreateSecret(path: string): Uint8Array {
  try {
    statSync(path);
    return readSecret(path);
  } catch (error) {
    if (error instanceof SecretFileError) throw error;
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new SecretFileError(path, "cannot read the validator secret", { cause: error });
    }
  }
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const fd = openSync(temporary, "wx", 0o600);
    try {
      writeSync(fd, randomBytes(VALIDATOR_SECRET_LENGTH));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(temporary, path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    syncDirectory(dirname(path));
  } catch (cause) {
    throw new SecretFileError(path, "cannot create the validator secret", { cause });
  } finally {
    try {
      unlinkSync(temporary);
    } catch {
      // Never created, or already gone.
    }
  }
  return readSecret(path);
}

/** Makes a new directory entry durable (POSIX); a no-op where directories cannot be opened. */
function syncDirectory(directory: string): void {
  let fd: number;
  try {
    fd = openSync(directory, "r");
  } catch {
    return;
  }
  try {
    fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on a directory; the link is still made.
  } finally {
    closeSync(fd);
  }
}
