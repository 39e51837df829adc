/**
 * A validator's chunks in one SQLite file (better-sqlite3).
 *
 * Layout, chosen by measurement (bench/store.bench.ts; figures in the report of the change):
 * - `page_size = 65536`, set before WAL is enabled (a WAL database cannot change it later).
 *   A 1 MiB blob then spans 17 pages instead of 257: fewer WAL frames, fewer syscalls, ~1 %
 *   overhead. 4 KiB pages ingested at about half the speed.
 * - Blobs and metadata live in two tables. SQLite rewrites a whole row on UPDATE, so keeping the
 *   checksum and the "last challenged" time beside a 1 MiB blob would rewrite the blob on every
 *   challenge; split, `markChallenged` touches one small page.
 * - `journal_mode = WAL`, `synchronous = FULL`: a commit returns after the WAL is fsynced, so a
 *   `put` is durable against power loss, not only against a killed process. A WAL commit writes
 *   the bytes once, sequentially, with one fsync.
 * - The WAL is checkpointed into the database when it reaches `walCheckpointBytes` (default
 *   64 MiB) and on `maintain()` (the miner calls it when idle) and on `close()`. Ingest bursts up
 *   to that size therefore pay one write per byte; the copy into the main file happens later.
 * - `journal_size_limit = walCheckpointBytes`: within a burst, after an automatic checkpoint the
 *   WAL file keeps its size and is overwritten from the start (an fsync of overwritten blocks is
 *   cheaper than one that also commits a file-size change); `maintain()` truncates it to zero,
 *   so idle stores keep no WAL on disk.
 * - `auto_vacuum = INCREMENTAL`: `maintain()` returns the pages of evicted chunks to the
 *   filesystem, so the miner's disk use shrinks when its budget does.
 * - `locking_mode` stays NORMAL (EXCLUSIVE measured no better, and it would lock out sqlite3 CLI
 *   inspection); `mmap_size` stays 0: a `get` costs three copies (page reads, blob assembly, the
 *   JS Buffer) and runs at 0.1–0.3 × a raw `readSync`, but still at hundreds of MiB/s, far more
 *   than answering challenges needs, and mmap showed no consistent gain here.
 * - `readLeaves` selects `substr(bytes, offset, length)` of the blob, up to
 *   {@link LEAVES_PER_STATEMENT} leaves per statement, so only the challenged leaves reach
 *   JavaScript. SQLite still walks the blob's overflow pages in C (it keeps the row's blob for the
 *   statement's other columns), so the saving is the 1 MiB JS buffer and its copy per challenged
 *   chunk, not the page reads.
 * - A chunk's tree levels from `StoredTreeLevels.fromLevel` up live in `chunk_tree`, written in
 *   the chunk's own commit by `put`, or by the miner in a commit of their own after the chunk's
 *   (`putTreeLevels`, while the chunk's fsync runs; durable with the next fsync)
 *   (4 KiB per 1 MiB chunk from level 4), so a challenge on a chunk whose
 *   tree is not in memory reads one subtree's leaves and these nodes instead of the whole chunk.
 *   The table was added without a schema version bump: a store made before it opens and gains
 *   an empty table (its chunks are then proven the old way). A row also keeps the chunk's
 *   checksum and is only used while it equals `chunk_meta`'s, so a chunk overwritten by a miner
 *   that does not know the table is never proven with another chunk's levels.
 * - Group commit (`putUnsynced` + `sync`): the miner commits each arriving chunk with
 *   `synchronous = NORMAL` (the WAL frames are written, not fsynced) and then fsyncs the WAL file
 *   itself through the libuv thread pool, once for every chunk committed since the last fsync,
 *   and acknowledges those chunks after it. A WAL commit is durable once its frames are on disk
 *   (recovery replays every frame up to the last valid commit record), so this is the guarantee
 *   `synchronous = FULL` gives, while the event loop keeps reading the next chunks during the
 *   fsync instead of blocking in it for milliseconds per chunk. A checkpoint meanwhile is safe:
 *   SQLite fsyncs the WAL before copying it and the database after. The WAL's directory entry is
 *   fsynced once, before the first sync is trusted, as SQLite does for a WAL it creates.
 */

import { mkdirSync } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { bytesEqual } from "../../protocol/bytes.js";
import { CHUNK_SIZE } from "../../protocol/constants.js";
import {
  assertChunkIndex,
  assertLeafRange,
  assertStorableChunk,
  type ChunkStore,
  ChunkStoreError,
  chunkChecksum,
  type IntegrityReport,
  StoreClosedError,
  type StoredTreeLevels,
  type VerifyIntegrityOptions,
} from "./chunk-store.js";

/** Page size of a new store; see the layout notes above. */
export const STORE_PAGE_SIZE = 64 * 1024;

/** WAL size at which SQLite checkpoints by itself; idle-time `maintain()` usually comes first. */
export const DEFAULT_WAL_CHECKPOINT_BYTES = 64 * 1024 * 1024;

/**
 * SQLite page cache of one store (about the 16,000 KiB better-sqlite3 compiles in; named so it can be
 * lowered). It is per open store, so a miner serving many validators holds up to this much per
 * validator once its stores have been read; the OS page cache holds the same file pages anyway.
 */
export const DEFAULT_STORE_CACHE_BYTES = 16 * 1024 * 1024;

/** Smallest page cache accepted: one page. */
export const MIN_STORE_CACHE_BYTES = STORE_PAGE_SIZE;

/** Leaves one `readLeaves` statement selects; more take several statements. */
export const LEAVES_PER_STATEMENT = 16;

/** Bumped when the schema changes; a store with another version is refused. */
const SCHEMA_VERSION = 2;

export interface SqliteChunkStoreOptions {
  /** The database file; its folder is created when missing. */
  path: string;
  /** Largest chunk accepted (default CHUNK_SIZE). A store keeps the size it was created with. */
  chunkSize?: number;
  /** WAL size that triggers an automatic checkpoint (default 64 MiB). */
  walCheckpointBytes?: number;
  /** SQLite page cache of this store, in bytes (default DEFAULT_STORE_CACHE_BYTES, at least one page). */
  cacheBytes?: number;
  /**
   * Whether commits wait for the disk (default true: a put or a sync survives a power cut). False
   * keeps the survival of a killed process (the WAL's frames are in the OS page cache) but not of
   * a power cut; for the simulator, which runs hundreds of stores on one disk and models neither.
   */
  fsync?: boolean;
}

/** The file exists but was made by another schema version or with another chunk size. */
export class StoreMismatchError extends ChunkStoreError {
  override name = "StoreMismatchError";
}

/** The file could not be opened or read as a chunk store. */
export class StoreOpenError extends ChunkStoreError {
  override name = "StoreOpenError";
  constructor(
    readonly path: string,
    options?: ErrorOptions,
  ) {
    super(`cannot open chunk store ${path}`, options);
  }
}

type Statement = Database.Statement<unknown[], unknown>;

/**
 * @example
 * const store = new SqliteChunkStore({ path: layout.storePath(validatorHotkey) });
 * store.put(7, chunk); // durable when it returns
 * store.close();
 */
export class SqliteChunkStore implements ChunkStore {
  readonly chunkSize: number;
  readonly path: string;
  readonly #db: Database.Database;
  readonly #putData: Statement;
  readonly #putMeta: Statement;
  readonly #get: Statement;
  readonly #readLeaves: Statement[];
  readonly #putTree: Statement;
  readonly #putTreeOfStored: Statement;
  readonly #deleteTree: Statement;
  readonly #readTree: Statement;
  readonly #has: Statement;
  readonly #deleteData: Statement;
  readonly #deleteMeta: Statement;
  readonly #count: Statement;
  readonly #used: Statement;
  readonly #indices: Statement;
  readonly #markChallenged: Statement;
  readonly #syncNormal: Statement;
  readonly #syncOwnLevel: Statement;
  readonly #leastValuable: Statement;
  readonly #put: (
    chunkIndex: number,
    data: Buffer,
    checksum: Uint8Array,
    tree: StoredTreeLevels | undefined,
  ) => void;
  readonly #deleteMany: (chunkIndices: readonly number[]) => number;
  #closed = false;
  /** Commits by `putUnsynced`, and how many of them the last finished fsync covers. */
  #written = 0;
  #synced = 0;
  #syncing: Promise<void> | undefined;
  #syncFailure: unknown;
  #wal: FileHandle | undefined;
  readonly #fsync: boolean;

  constructor(options: SqliteChunkStoreOptions) {
    this.path = options.path;
    const chunkSize = options.chunkSize ?? CHUNK_SIZE;
    const walBytes = options.walCheckpointBytes ?? DEFAULT_WAL_CHECKPOINT_BYTES;
    const cacheBytes = options.cacheBytes ?? DEFAULT_STORE_CACHE_BYTES;
    this.#fsync = options.fsync ?? true;
    if (!Number.isSafeInteger(cacheBytes) || cacheBytes < MIN_STORE_CACHE_BYTES) {
      throw new RangeError(
        `store cache must be a whole number of bytes ≥ ${MIN_STORE_CACHE_BYTES}, got ${cacheBytes}`,
      );
    }
    mkdirSync(dirname(options.path), { recursive: true });
    let db: Database.Database;
    try {
      db = new Database(options.path);
    } catch (cause) {
      throw new StoreOpenError(options.path, { cause });
    }
    try {
      this.chunkSize = configure(db, chunkSize, walBytes);
      // A negative cache_size is in KiB, whatever the page size.
      db.pragma(`cache_size = -${Math.ceil(cacheBytes / 1024)}`);
      if (!this.#fsync) db.pragma("synchronous = NORMAL");
    } catch (cause) {
      db.close();
      if (cause instanceof ChunkStoreError) throw cause;
      throw new StoreOpenError(options.path, { cause });
    }
    this.#db = db;

    this.#putData = db.prepare(
      `INSERT INTO chunk_data (chunk_index, bytes) VALUES (?, ?)
       ON CONFLICT (chunk_index) DO UPDATE SET bytes = excluded.bytes`,
    );
    // On overwrite the old row's values are on the right of each assignment, so identical bytes
    // keep their challenge history and new bytes start without one.
    this.#putMeta = db.prepare(
      `INSERT INTO chunk_meta (chunk_index, size, checksum, stored_at, challenged_at) VALUES (?, ?, ?, ?, NULL)
       ON CONFLICT (chunk_index) DO UPDATE SET
         challenged_at = CASE WHEN checksum = excluded.checksum THEN challenged_at ELSE NULL END,
         size = excluded.size, checksum = excluded.checksum, stored_at = excluded.stored_at`,
    );
    this.#get = db.prepare("SELECT bytes FROM chunk_data WHERE chunk_index = ?").pluck();
    // One statement per width: every selected column costs a pass over the blob's pages.
    this.#readLeaves = Array.from({ length: LEAVES_PER_STATEMENT }, (_, i) => {
      const columns = Array.from({ length: i + 1 }, () => "substr(bytes, ?, ?)").join(", ");
      return db.prepare(`SELECT ${columns} FROM chunk_data WHERE chunk_index = ?`).raw();
    });
    this.#putTree = db.prepare(
      `INSERT INTO chunk_tree (chunk_index, from_level, checksum, nodes) VALUES (?, ?, ?, ?)
       ON CONFLICT (chunk_index) DO UPDATE SET
         from_level = excluded.from_level, checksum = excluded.checksum, nodes = excluded.nodes`,
    );
    // The levels take the stored chunk's checksum, so they are only used while that chunk stays.
    this.#putTreeOfStored = db.prepare(
      `INSERT INTO chunk_tree (chunk_index, from_level, checksum, nodes)
       SELECT chunk_index, ?, checksum, ? FROM chunk_meta WHERE chunk_index = ?
       ON CONFLICT (chunk_index) DO UPDATE SET
         from_level = excluded.from_level, checksum = excluded.checksum, nodes = excluded.nodes`,
    );
    this.#deleteTree = db.prepare("DELETE FROM chunk_tree WHERE chunk_index = ?");
    this.#readTree = db.prepare(
      `SELECT t.from_level AS fromLevel, t.nodes AS nodes, m.size AS size
       FROM chunk_tree t JOIN chunk_meta m ON m.chunk_index = t.chunk_index
       WHERE t.chunk_index = ? AND t.checksum = m.checksum`,
    );
    this.#has = db.prepare("SELECT 1 FROM chunk_meta WHERE chunk_index = ?").pluck();
    this.#deleteData = db.prepare("DELETE FROM chunk_data WHERE chunk_index = ?");
    this.#deleteMeta = db.prepare("DELETE FROM chunk_meta WHERE chunk_index = ?");
    this.#count = db.prepare("SELECT count(*) FROM chunk_meta").pluck();
    this.#used = db.prepare("SELECT coalesce(sum(size), 0) FROM chunk_meta").pluck();
    this.#indices = db.prepare("SELECT chunk_index FROM chunk_meta ORDER BY chunk_index").pluck();
    this.#markChallenged = db.prepare("UPDATE chunk_meta SET challenged_at = ? WHERE chunk_index = ?");
    this.#syncNormal = db.prepare("PRAGMA synchronous = NORMAL");
    // The store's own level, restored after each commit made at NORMAL.
    this.#syncOwnLevel = db.prepare(`PRAGMA synchronous = ${this.#fsync ? "FULL" : "NORMAL"}`);
    this.#leastValuable = db
      .prepare(
        `SELECT chunk_index FROM chunk_meta
         ORDER BY challenged_at ASC NULLS FIRST, chunk_index DESC LIMIT ?`,
      )
      .pluck();

    this.#put = db.transaction(
      (chunkIndex: number, data: Buffer, checksum: Uint8Array, tree: StoredTreeLevels | undefined) => {
        this.#putData.run(chunkIndex, data);
        this.#putMeta.run(chunkIndex, data.byteLength, checksum, Date.now());
        if (tree === undefined) this.#deleteTree.run(chunkIndex);
        else this.#putTree.run(chunkIndex, tree.fromLevel, checksum, bufferOf(tree.nodes));
      },
    );
    this.#deleteMany = db.transaction((chunkIndices: readonly number[]) => {
      let removed = 0;
      for (const index of chunkIndices) {
        this.#deleteData.run(index);
        this.#deleteTree.run(index);
        removed += this.#deleteMeta.run(index).changes;
      }
      return removed;
    });
  }

  put(chunkIndex: number, data: Uint8Array, tree?: StoredTreeLevels): void {
    this.#open();
    assertStorableChunk(chunkIndex, data, this.chunkSize);
    const checksum = chunkChecksum(data);
    this.#put(chunkIndex, bufferOf(data), checksum, tree);
  }

  putUnsynced(chunkIndex: number, data: Uint8Array, tree?: StoredTreeLevels): void {
    this.#open();
    assertStorableChunk(chunkIndex, data, this.chunkSize);
    const checksum = chunkChecksum(data);
    this.#syncNormal.run();
    try {
      this.#put(chunkIndex, bufferOf(data), checksum, tree);
    } finally {
      this.#syncOwnLevel.run();
    }
    this.#written++;
  }

  putTreeLevels(chunkIndex: number, tree: StoredTreeLevels): void {
    this.#open();
    assertChunkIndex(chunkIndex);
    // Not counted in #written: no sync() waits for this commit (ChunkStore.putTreeLevels), and
    // with synchronous = NORMAL it does not fsync on the event loop either.
    this.#syncNormal.run();
    try {
      this.#putTreeOfStored.run(tree.fromLevel, bufferOf(tree.nodes), chunkIndex);
    } finally {
      this.#syncOwnLevel.run();
    }
  }

  async sync(): Promise<void> {
    this.#open();
    if (!this.#fsync) {
      this.#synced = this.#written;
      return;
    }
    const target = this.#written;
    while (this.#synced < target) {
      if (this.#syncFailure !== undefined) {
        throw new ChunkStoreError(`the store ${this.path} could not be synced to disk`, {
          cause: this.#syncFailure,
        });
      }
      if (this.#syncing === undefined) {
        // One fsync at a time; it covers every commit made before it starts, so the callers
        // waiting behind it share the next one.
        const covers = this.#written;
        this.#syncing = this.#fsyncWal().then(
          () => {
            this.#synced = Math.max(this.#synced, covers);
            this.#syncing = undefined;
          },
          (error: unknown) => {
            // After a failed fsync the kernel may have dropped the dirty pages, so a later
            // success would prove nothing: the store stops promising durability.
            this.#syncFailure = error;
            this.#syncing = undefined;
          },
        );
      }
      await this.#syncing;
    }
  }

  async #fsyncWal(): Promise<void> {
    if (this.#wal === undefined) {
      const wal = await open(`${this.path}-wal`, "r+");
      try {
        const dir = await open(dirname(this.path), "r");
        try {
          await dir.sync();
        } finally {
          await dir.close();
        }
      } catch (error) {
        await wal.close();
        throw error;
      }
      if (this.#closed) {
        await wal.close();
        throw new StoreClosedError("the chunk store is closed");
      }
      this.#wal = wal;
    }
    await this.#wal.sync();
  }

  readTreeLevels(chunkIndex: number): (StoredTreeLevels & { size: number }) | undefined {
    this.#open();
    assertChunkIndex(chunkIndex);
    return this.#readTree.get(chunkIndex) as (StoredTreeLevels & { size: number }) | undefined;
  }

  get(chunkIndex: number): Uint8Array | undefined {
    this.#open();
    assertChunkIndex(chunkIndex);
    return this.#get.get(chunkIndex) as Buffer | undefined;
  }

  readLeaves(chunkIndex: number, leafIndices: readonly number[], leafSize: number): Uint8Array[] | undefined {
    this.#open();
    assertChunkIndex(chunkIndex);
    assertLeafRange(leafIndices, leafSize);
    const out: Uint8Array[] = [];
    for (let start = 0; start < Math.max(1, leafIndices.length); start += LEAVES_PER_STATEMENT) {
      // At least one column, so a call without leaves still says whether the chunk is stored.
      const taken = Math.max(1, Math.min(LEAVES_PER_STATEMENT, leafIndices.length - start));
      const params: number[] = new Array(2 * taken + 1);
      for (let slot = 0; slot < taken; slot++) {
        const index = leafIndices[start + slot];
        // substr counts from 1; an unused slot selects nothing.
        params[2 * slot] = index === undefined ? 1 : index * leafSize + 1;
        params[2 * slot + 1] = index === undefined ? 0 : leafSize;
      }
      params[2 * taken] = chunkIndex;
      const statement = this.#readLeaves[taken - 1] as Statement;
      const row = statement.get(...params) as (Buffer | null)[] | undefined;
      if (row === undefined) return undefined;
      const leaves = Math.min(taken, leafIndices.length - start);
      for (let slot = 0; slot < leaves; slot++) out.push(row[slot] ?? new Uint8Array(0));
    }
    return out;
  }

  has(chunkIndex: number): boolean {
    this.#open();
    assertChunkIndex(chunkIndex);
    return this.#has.get(chunkIndex) !== undefined;
  }

  delete(chunkIndex: number): boolean {
    this.#open();
    assertChunkIndex(chunkIndex);
    return this.#deleteMany([chunkIndex]) > 0;
  }

  deleteMany(chunkIndices: readonly number[]): number {
    this.#open();
    for (const index of chunkIndices) assertChunkIndex(index);
    return chunkIndices.length === 0 ? 0 : this.#deleteMany(chunkIndices);
  }

  /** The page cache SQLite reports for this store, in bytes. */
  cacheBytes(): number {
    this.#open();
    const size = this.#db.pragma("cache_size", { simple: true }) as number;
    return size < 0 ? -size * 1024 : size * STORE_PAGE_SIZE;
  }

  count(): number {
    this.#open();
    return this.#count.get() as number;
  }

  usedBytes(): number {
    this.#open();
    return this.#used.get() as number;
  }

  indices(): number[] {
    this.#open();
    return this.#indices.all() as number[];
  }

  /**
   * Committed without an fsync (`synchronous = NORMAL` for this one statement): a mark only orders
   * evictions, so losing the last few to a power cut costs nothing, while an fsync per challenge
   * blocked the miner's event loop for milliseconds. The next durable commit (a `put`) syncs the
   * WAL with the marks before it.
   */
  markChallenged(chunkIndex: number, at: number): boolean {
    this.#open();
    assertChunkIndex(chunkIndex);
    this.#syncNormal.run();
    try {
      return this.#markChallenged.run(at, chunkIndex).changes > 0;
    } finally {
      this.#syncOwnLevel.run();
    }
  }

  leastValuable(limit: number): number[] {
    this.#open();
    return this.#leastValuable.all(Math.max(0, Math.floor(limit))) as number[];
  }

  verifyIntegrity(options: VerifyIntegrityOptions = {}): IntegrityReport {
    this.#open();
    const pragma = options.quick ? "quick_check" : "integrity_check";
    const engine = (this.#db.pragma(pragma, { simple: false }) as Record<string, string>[])
      .map((row) => Object.values(row)[0] ?? "")
      .filter((message) => message !== "ok");
    const corrupt: number[] = [];
    let checked = 0;
    // Every metadata row must have its bytes and match them; bytes without metadata are orphans.
    const rows = this.#db
      .prepare(
        `SELECT m.chunk_index AS chunkIndex, m.size AS size, m.checksum AS checksum, d.bytes AS bytes
         FROM chunk_meta m LEFT JOIN chunk_data d ON d.chunk_index = m.chunk_index
         UNION ALL
         SELECT d.chunk_index, NULL, NULL, NULL FROM chunk_data d
         WHERE NOT EXISTS (SELECT 1 FROM chunk_meta m WHERE m.chunk_index = d.chunk_index)
         ORDER BY 1`,
      )
      .iterate() as IterableIterator<{
      chunkIndex: number;
      size: number | null;
      checksum: Buffer | null;
      bytes: Buffer | null;
    }>;
    for (const row of rows) {
      checked++;
      const intact =
        row.bytes !== null &&
        row.checksum !== null &&
        row.bytes.byteLength === row.size &&
        bytesEqual(row.checksum, chunkChecksum(row.bytes));
      if (!intact) corrupt.push(row.chunkIndex);
    }
    return { ok: engine.length === 0 && corrupt.length === 0, checked, corrupt, engine };
  }

  /** Returns freed pages to the filesystem, copies the WAL into the database file and empties it. */
  maintain(): void {
    this.#open();
    this.#db.pragma("incremental_vacuum");
    // TRUNCATE also empties the WAL file, so an idle store holds no WAL on disk.
    this.#db.pragma("wal_checkpoint(TRUNCATE)");
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // The last connection to close checkpoints the WAL (fsynced: the connection is back at
    // synchronous = FULL) and removes it.
    this.#db.close();
    // Closing waits for an fsync in flight on it.
    this.#wal?.close().catch(() => undefined);
    this.#wal = undefined;
  }

  #open(): void {
    if (this.#closed) throw new StoreClosedError("the chunk store is closed");
  }
}

/** Applies the layout to a new or existing file and returns the store's chunk size. */
function configure(db: Database.Database, chunkSize: number, walBytes: number): number {
  // page_size and auto_vacuum only take effect on a file without tables, before WAL is enabled.
  db.pragma(`page_size = ${STORE_PAGE_SIZE}`);
  db.pragma("auto_vacuum = INCREMENTAL");
  const mode = db.pragma("journal_mode = WAL", { simple: true });
  if (mode !== "wal") throw new StoreMismatchError(`cannot enable WAL (journal_mode is ${String(mode)})`);
  db.pragma("synchronous = FULL");
  const pageSize = db.pragma("page_size", { simple: true }) as number;
  db.pragma(`wal_autocheckpoint = ${Math.max(1, Math.ceil(walBytes / pageSize))}`);
  db.pragma(`journal_size_limit = ${walBytes}`);

  const version = db.pragma("user_version", { simple: true }) as number;
  const treeTable = `
    CREATE TABLE IF NOT EXISTS chunk_tree (
      chunk_index INTEGER PRIMARY KEY,
      from_level  INTEGER NOT NULL,
      checksum    BLOB    NOT NULL,
      nodes       BLOB    NOT NULL
    );`;
  if (version === 0) {
    db.transaction(() => {
      db.exec(`
        CREATE TABLE chunk_meta (
          chunk_index   INTEGER PRIMARY KEY,
          size          INTEGER NOT NULL,
          checksum        BLOB    NOT NULL,
          stored_at     INTEGER NOT NULL,
          challenged_at INTEGER
        );
        CREATE INDEX chunk_meta_eviction ON chunk_meta (challenged_at, chunk_index DESC);
        CREATE TABLE chunk_data (
          chunk_index INTEGER PRIMARY KEY,
          bytes       BLOB NOT NULL
        );
        CREATE TABLE store_info (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
        ${treeTable}
      `);
      db.prepare("INSERT INTO store_info (key, value) VALUES ('chunk_size', ?)").run(chunkSize);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
    })();
    return chunkSize;
  }
  if (version !== SCHEMA_VERSION) {
    throw new StoreMismatchError(`store schema version ${version}, expected ${SCHEMA_VERSION}`);
  }
  const stored = db.prepare("SELECT value FROM store_info WHERE key = 'chunk_size'").pluck().get();
  if (stored !== chunkSize) {
    throw new StoreMismatchError(`store was created with chunk size ${String(stored)}, not ${chunkSize}`);
  }
  // Added to version-2 stores in place; see the layout notes.
  db.exec(treeTable);
  return chunkSize;
}

/** A Buffer view over the caller's bytes: bound as a blob without an extra copy in JS. */
function bufferOf(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
