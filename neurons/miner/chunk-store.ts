/**
 * The seam between a miner and the bytes it keeps for one validator: a `ChunkStore` holds that
 * validator's chunks by index. `SqliteChunkStore` (sqlite-chunk-store.ts) is the real one;
 * `MemoryChunkStore` below is the in-memory stand-in for unit tests. Both pass the same
 * compliance suite (test/chunk-store.test.ts).
 *
 * Contract shared by every implementation:
 * - The API is synchronous: better-sqlite3 is, and a put must not return before it is durable.
 * - `put` overwrites: the validator is the only writer of its store, and it must be able to
 *   re-send a chunk whose acknowledgement it never received. Re-storing identical bytes keeps the
 *   chunk's challenge history; different bytes reset it (it is a new chunk for eviction purposes).
 * - Chunks are 1..chunkSize bytes (the last chunk of a file may be short); a larger one is
 *   refused with `ChunkTooLargeError`, an empty one with `ChunkEmptyError`.
 * - Chunk indices are non-negative safe integers (`InvalidChunkIndexError` otherwise).
 * - Eviction order (`leastValuable`): chunks never challenged first, then the least recently
 *   challenged, ties broken by the highest index first (the newest data, and it keeps a store's
 *   low indices, which validators fill first, contiguous).
 */

import { crc32 } from "node:zlib";
import { bytesEqual } from "../../protocol/bytes.js";
import { NodeError } from "../errors.js";

/** Result of {@link ChunkStore.verifyIntegrity}. */
export interface IntegrityReport {
  /** True when the storage engine reports no problem and every chunk matches its checksum. */
  ok: boolean;
  /** Number of chunks whose bytes were hashed and compared. */
  checked: number;
  /** Indices whose bytes do not match the stored checksum or size, or whose bytes are missing. */
  corrupt: number[];
  /** Problems reported by the storage engine itself (SQLite `integrity_check`); empty when fine. */
  engine: string[];
}

/**
 * The upper levels of a chunk's Merkle tree (protocol/merkle.ts `upperLevels`), kept beside the
 * chunk so that proving a leaf of a chunk whose tree is not in memory reads a few leaves and
 * these nodes instead of rehashing the whole chunk.
 */
export interface StoredTreeLevels {
  /** The lowest level kept (0 = the leaf hashes). */
  fromLevel: number;
  /** That level and every one above it, packed. */
  nodes: Uint8Array;
}

export interface VerifyIntegrityOptions {
  /** Use SQLite's cheaper `quick_check` instead of `integrity_check` (checksums are always verified). */
  quick?: boolean;
}

/**
 * One validator's chunks on a miner.
 *
 * @example
 * const store = new MemoryChunkStore({ chunkSize: CHUNK_SIZE });
 * store.put(0, bytes);
 * store.get(0); // a copy of bytes
 */
export interface ChunkStore {
  /** Largest chunk accepted, in bytes. */
  readonly chunkSize: number;
  /**
   * Stores (or overwrites) a chunk, with its tree's upper levels when given (in the same commit:
   * an overwrite without them drops the old ones); returns once the bytes are durable.
   */
  put(chunkIndex: number, data: Uint8Array, tree?: StoredTreeLevels): void;
  /**
   * Commits a chunk as `put` does but returns before it is durable: it survives the process being
   * killed, not yet a power cut. `sync()` makes it durable; acknowledge it only after that.
   * Readers see it at once.
   */
  putUnsynced(chunkIndex: number, data: Uint8Array, tree?: StoredTreeLevels): void;
  /**
   * Records the tree levels of the chunk stored at `chunkIndex`, in a commit of its own that no
   * `sync()` waits for: it is durable with the next fsync (the next chunk's, or a checkpoint).
   * Losing it to a power cut only makes that chunk's cold proofs rebuild its tree from the whole
   * chunk, as for a chunk stored without levels. No-op when the chunk is not stored. The miner
   * uses it to build a chunk's tree while the chunk's own fsync runs.
   */
  putTreeLevels(chunkIndex: number, tree: StoredTreeLevels): void;
  /**
   * Resolves once every chunk committed before the call is durable. Concurrent calls share one
   * fsync (group commit): chunks that arrived together are made durable together, off the event
   * loop. Rejects when the disk refuses the sync; the store then refuses every later `sync()`.
   */
  sync(): Promise<void>;
  /**
   * The tree levels stored with the chunk and the chunk's length, or undefined when the chunk or
   * its levels are not stored (a chunk put without them, or by an older miner).
   */
  readTreeLevels(chunkIndex: number): (StoredTreeLevels & { size: number }) | undefined;
  get(chunkIndex: number): Uint8Array | undefined;
  /**
   * Some leaves of a chunk, each `leafSize` bytes from `index × leafSize` (the last leaf of a
   * chunk may be short, a leaf past its end is empty), without handing over the whole chunk: what
   * answering a challenge needs when the chunk's tree is cached. Undefined when the chunk is not
   * stored.
   */
  readLeaves(chunkIndex: number, leafIndices: readonly number[], leafSize: number): Uint8Array[] | undefined;
  has(chunkIndex: number): boolean;
  /** Removes a chunk; false when it was not there. */
  delete(chunkIndex: number): boolean;
  /** Removes several chunks at once (one durable commit); returns how many were there. */
  deleteMany(chunkIndices: readonly number[]): number;
  count(): number;
  /** Sum of the stored chunks' lengths (payload bytes, not file size). */
  usedBytes(): number;
  /** Every stored index, ascending. */
  indices(): number[];
  /**
   * Records that a chunk was challenged at `at` (Unix ms); false when the chunk is not stored. A
   * mark only orders evictions, so it need not survive a power cut (SQLite commits it without an fsync).
   */
  markChallenged(chunkIndex: number, at: number): boolean;
  /** Up to `limit` stored indices, least valuable first (see the eviction order above). */
  leastValuable(limit: number): number[];
  /** Checks the storage engine and every chunk's checksum. */
  verifyIntegrity(options?: VerifyIntegrityOptions): IntegrityReport;
  /** Idle-time housekeeping (SQLite: checkpoint the WAL, return freed pages); no-op in memory. */
  maintain(): void;
  close(): void;
}

/** Base class of the errors a chunk store throws. */
export class ChunkStoreError extends NodeError {
  override name = "ChunkStoreError";
}

export class ChunkTooLargeError extends ChunkStoreError {
  override name = "ChunkTooLargeError";
  constructor(
    readonly size: number,
    readonly limit: number,
    options?: ErrorOptions,
  ) {
    super(`chunk of ${size} bytes exceeds the chunk size of ${limit} bytes`, options);
  }
}

/** An empty chunk handed to `put` (protocol's EmptyChunkError is the Merkle tree's). */
export class ChunkEmptyError extends ChunkStoreError {
  override name = "ChunkEmptyError";
}

export class InvalidChunkIndexError extends ChunkStoreError {
  override name = "InvalidChunkIndexError";
  constructor(
    readonly chunkIndex: unknown,
    options?: ErrorOptions,
  ) {
    super(`chunk index must be a non-negative safe integer, got ${String(chunkIndex)}`, options);
  }
}

export class StoreClosedError extends ChunkStoreError {
  override name = "StoreClosedError";
}

/** Throws `InvalidChunkIndexError` unless `chunkIndex` is a non-negative safe integer. */
export function assertChunkIndex(chunkIndex: number): void {
  if (!Number.isSafeInteger(chunkIndex) || chunkIndex < 0) throw new InvalidChunkIndexError(chunkIndex);
}

/** A leaf read asked with a leaf size or leaf indices that name no bytes. */
export class InvalidLeafRangeError extends ChunkStoreError {
  override name = "InvalidLeafRangeError";
}

/** Throws `InvalidLeafRangeError` unless the leaf size is positive and every leaf index a safe u32 range. */
export function assertLeafRange(leafIndices: readonly number[], leafSize: number): void {
  if (!Number.isSafeInteger(leafSize) || leafSize < 1) {
    throw new InvalidLeafRangeError(`leaf size must be a positive integer, got ${leafSize}`);
  }
  for (const index of leafIndices) {
    if (!Number.isSafeInteger(index) || index < 0 || !Number.isSafeInteger((index + 1) * leafSize)) {
      throw new InvalidLeafRangeError(`leaf index must be a non-negative integer, got ${index}`);
    }
  }
}

/** Throws the store's named error when a chunk may not be stored. */
export function assertStorableChunk(chunkIndex: number, data: Uint8Array, chunkSize: number): void {
  assertChunkIndex(chunkIndex);
  if (data.byteLength === 0) throw new ChunkEmptyError("a chunk must hold at least one byte");
  if (data.byteLength > chunkSize) throw new ChunkTooLargeError(data.byteLength, chunkSize);
}

/**
 * CRC-32 of a chunk (4 bytes, big-endian), the checksum every store keeps beside it. It guards
 * against disk corruption, not against an adversary (a miner's own bytes are checked by the
 * validator's Merkle roots); CRC-32 costs ~0.2 ms per MiB here against SHA-256's ~0.7 ms, which
 * is a quarter of a durable put (`npm run bench -- store`).
 */
export function chunkChecksum(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, crc32(data));
  return out;
}

/** One chunk as {@link MemoryChunkStore} keeps it; exposed so tests can inject and damage entries. */
export interface MemoryChunkEntry {
  bytes: Uint8Array;
  checksum: Uint8Array;
  challengedAt: number | null;
  tree?: StoredTreeLevels;
}

export interface MemoryChunkStoreInit {
  chunkSize: number;
  /** Backing map; pass one to share or inspect the contents (tests). */
  entries?: Map<number, MemoryChunkEntry>;
}

/** A `ChunkStore` in a Map, for unit tests. Copies bytes in and out so callers cannot alias them. */
export class MemoryChunkStore implements ChunkStore {
  readonly chunkSize: number;
  readonly #entries: Map<number, MemoryChunkEntry>;
  #closed = false;

  constructor(init: MemoryChunkStoreInit) {
    this.chunkSize = init.chunkSize;
    this.#entries = init.entries ?? new Map();
  }

  put(chunkIndex: number, data: Uint8Array, tree?: StoredTreeLevels): void {
    this.#open();
    assertStorableChunk(chunkIndex, data, this.chunkSize);
    const checksum = chunkChecksum(data);
    const previous = this.#entries.get(chunkIndex);
    const same = previous !== undefined && bytesEqual(previous.checksum, checksum);
    const entry: MemoryChunkEntry = {
      bytes: Uint8Array.from(data),
      checksum,
      challengedAt: same ? previous.challengedAt : null,
    };
    if (tree !== undefined) entry.tree = { fromLevel: tree.fromLevel, nodes: Uint8Array.from(tree.nodes) };
    this.#entries.set(chunkIndex, entry);
  }

  putUnsynced(chunkIndex: number, data: Uint8Array, tree?: StoredTreeLevels): void {
    this.put(chunkIndex, data, tree);
  }

  putTreeLevels(chunkIndex: number, tree: StoredTreeLevels): void {
    this.#open();
    assertChunkIndex(chunkIndex);
    const entry = this.#entries.get(chunkIndex);
    if (entry !== undefined) entry.tree = { fromLevel: tree.fromLevel, nodes: Uint8Array.from(tree.nodes) };
  }

  async sync(): Promise<void> {
    this.#open();
  }

  readTreeLevels(chunkIndex: number): (StoredTreeLevels & { size: number }) | undefined {
    this.#open();
    assertChunkIndex(chunkIndex);
    const entry = this.#entries.get(chunkIndex);
    if (entry?.tree === undefined) return undefined;
    return {
      fromLevel: entry.tree.fromLevel,
      nodes: Uint8Array.from(entry.tree.nodes),
      size: entry.bytes.length,
    };
  }

  get(chunkIndex: number): Uint8Array | undefined {
    this.#open();
    assertChunkIndex(chunkIndex);
    const entry = this.#entries.get(chunkIndex);
    return entry === undefined ? undefined : Uint8Array.from(entry.bytes);
  }

  readLeaves(chunkIndex: number, leafIndices: readonly number[], leafSize: number): Uint8Array[] | undefined {
    this.#open();
    assertChunkIndex(chunkIndex);
    assertLeafRange(leafIndices, leafSize);
    const entry = this.#entries.get(chunkIndex);
    if (entry === undefined) return undefined;
    return leafIndices.map((index) => entry.bytes.slice(index * leafSize, (index + 1) * leafSize));
  }

  has(chunkIndex: number): boolean {
    this.#open();
    assertChunkIndex(chunkIndex);
    return this.#entries.has(chunkIndex);
  }

  delete(chunkIndex: number): boolean {
    this.#open();
    assertChunkIndex(chunkIndex);
    return this.#entries.delete(chunkIndex);
  }

  deleteMany(chunkIndices: readonly number[]): number {
    this.#open();
    for (const index of chunkIndices) assertChunkIndex(index);
    let removed = 0;
    for (const index of chunkIndices) if (this.#entries.delete(index)) removed++;
    return removed;
  }

  count(): number {
    this.#open();
    return this.#entries.size;
  }

  usedBytes(): number {
    this.#open();
    let total = 0;
    for (const entry of this.#entries.values()) total += entry.bytes.byteLength;
    return total;
  }

  indices(): number[] {
    this.#open();
    return [...this.#entries.keys()].sort((a, b) => a - b);
  }

  markChallenged(chunkIndex: number, at: number): boolean {
    this.#open();
    assertChunkIndex(chunkIndex);
    const entry = this.#entries.get(chunkIndex);
    if (entry === undefined) return false;
    entry.challengedAt = at;
    return true;
  }

  leastValuable(limit: number): number[] {
    this.#open();
    const rows = [...this.#entries].map(([index, entry]) => ({ index, at: entry.challengedAt }));
    rows.sort((a, b) => {
      if (a.at !== b.at) {
        if (a.at === null) return -1;
        if (b.at === null) return 1;
        return a.at - b.at;
      }
      return b.index - a.index;
    });
    return rows.slice(0, Math.max(0, limit)).map((row) => row.index);
  }

  verifyIntegrity(_options?: VerifyIntegrityOptions): IntegrityReport {
    this.#open();
    const corrupt: number[] = [];
    for (const [index, entry] of this.#entries) {
      if (!bytesEqual(chunkChecksum(entry.bytes), entry.checksum)) corrupt.push(index);
    }
    corrupt.sort((a, b) => a - b);
    return { ok: corrupt.length === 0, checked: this.#entries.size, corrupt, engine: [] };
  }

  maintain(): void {
    this.#open();
  }

  close(): void {
    this.#closed = true;
  }

  #open(): void {
    if (this.#closed) throw new StoreClosedError("the chunk store is closed");
  }
}
