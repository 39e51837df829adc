/**
 * All of a validator's state in one SQLite file (better-sqlite3): the miners it knows, what it
 * stored on each (the allocation and one 32-byte Merkle root per chunk, never the data, which it
 * can regenerate from its secret), the chunks miners reported evicted, every challenge outcome,
 * the scores those outcomes fold into, weight commits waiting for their reveal, and the block it
 * last set weights at. Reopening the file resumes all of it.
 *
 * Layout and durability:
 * - `journal_mode = WAL`, `synchronous = FULL`: a method returns after its transaction is fsynced.
 *   `recordChallenges` records many outcomes in one transaction (one fsync): the validator batches
 *   a round's outcomes that way (./outcome-batch.ts).
 * - Chunk roots live in a `WITHOUT ROWID` table keyed `(miner_id, chunk_index)`: the key is the
 *   B-tree key, so a row costs its two small integers, the 32-byte root and a few bytes of record
 *   and cell header. Measured ~48 bytes of file per chunk with 100 000 roots (4 KiB pages; 64 KiB
 *   pages measured no smaller), against a goal of 100 (bench/validator.bench.ts reports it).
 * - A challenge is recorded by its id (the challenge nonce) under a primary key, and its score
 *   update happens in the same transaction, only when the insert added a row. Recording the same
 *   challenge again — a retry after a crash, a duplicate delivery — changes nothing.
 * - Scores are kept per (miner, policy) as the policy's JSON state, so several policies can score
 *   the same evidence side by side (see ./policy.ts).
 * - Foreign keys: a record about a miner the database does not hold is refused
 *   ({@link UnknownMinerError}).
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import type { PendingReveal } from "../../chain/client.js";
import { HASH_LENGTH } from "../../protocol/constants.js";
import type { ChallengeOutcome } from "../../protocol/scoring.js";
import { NodeError } from "../errors.js";
import type { ScoringPolicyImpl } from "./policy.js";
import { FileIndex, STORAGE_SCHEMA } from "./storage/file-index.js";

/**
 * Bumped when the schema changes. Version 2 added the storage tables (./storage/file-index.ts);
 * a version-1 file is migrated by adding them, any other version is refused.
 */
const SCHEMA_VERSION = 2;

/** Versions this validator opens, migrating them to {@link SCHEMA_VERSION}. */
const MIGRATABLE_VERSIONS = [0, 1, SCHEMA_VERSION];

/** Longest challenge id accepted (a nonce is 32 bytes). */
const MAX_CHALLENGE_ID_LENGTH = 64;

/** Base class of the database's errors. */
export class ValidatorDbError extends NodeError {
  override name = "ValidatorDbError";
}

/** The file could not be opened as a validator database (unreadable, or another schema version). */
export class ValidatorDbOpenError extends ValidatorDbError {
  override name = "ValidatorDbOpenError";
  readonly path: string;
  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super(`${message} (${path})`, options);
    this.path = path;
  }
}

/** A method was called after `close()`. */
export class ValidatorDbClosedError extends ValidatorDbError {
  override name = "ValidatorDbClosedError";
  constructor() {
    super("the validator database is closed");
  }
}

/** A method named a miner id the database does not hold. */
export class UnknownMinerError extends ValidatorDbError {
  override name = "UnknownMinerError";
  readonly minerId: number;
  constructor(minerId: number, options?: { cause?: unknown }) {
    super(`no miner with id ${minerId}`, options);
    this.minerId = minerId;
  }
}

/** A value that cannot be stored (a root of the wrong length, a negative index, …). */
export class InvalidRecordError extends ValidatorDbError {
  override name = "InvalidRecordError";
}

/** A miner as the validator knows it. `id` is the database's own key; uids get reassigned. */
export interface MinerRecord {
  id: number;
  /** The miner's hotkey (ss58): its identity. */
  hotkey: string;
  /** Its uid on the subnet, or null once another hotkey holds that uid. */
  uid: number | null;
  /** Where to dial it (libp2p multiaddr), when known. */
  multiaddr: string | null;
  /** Unix milliseconds. */
  firstSeen: number;
  lastSeen: number;
  /** The eviction sequence number to ask the miner from next (`evictions.sinceSeq`). */
  evictionSeq: number;
}

export interface MinerSighting {
  hotkey: string;
  uid: number | null;
  multiaddr: string | null;
  /** Unix milliseconds. */
  seenAt: number;
}

/** What the validator has placed on a miner. */
export interface Allocation {
  /** Chunks the miner accepted (indices 0..chunkCount-1). */
  chunkCount: number;
  /** The store commitment over those chunks' roots, when computed. */
  commitment: Uint8Array | null;
  /** Unix milliseconds. */
  updatedAt: number;
}

export interface ChunkRootEntry {
  chunkIndex: number;
  root: Uint8Array;
}

/** One challenge's outcome, as it is recorded. */
export interface ChallengeRecord {
  /** The challenge's id: its nonce. Recording the same id twice counts once. */
  id: Uint8Array;
  minerId: number;
  outcome: ChallengeOutcome;
  /** Unix milliseconds when the outcome was decided. */
  at: number;
  /** Why it failed (a `VerifyFailureReason` or a transport error name), for the logs. */
  reason?: string;
}

export interface ChallengeCounts {
  pass: number;
  fail: number;
  timeout: number;
}

interface MinerRow {
  id: number;
  hotkey: string;
  uid: number | null;
  multiaddr: string | null;
  first_seen: number;
  last_seen: number;
  eviction_seq: number;
}

interface ChallengeRow {
  id: Buffer;
  miner_id: number;
  outcome: "pass" | "fail" | "timeout";
  latency_ms: number | null;
  at: number;
  reason: string | null;
}

interface PendingRow {
  commit_hash: string;
  netuid: number;
  uids: string;
  vals: string;
  salt: string;
  version_key: string;
  commit_block: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS miners (
  id INTEGER PRIMARY KEY,
  hotkey TEXT NOT NULL UNIQUE,
  uid INTEGER UNIQUE,
  multiaddr TEXT,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  eviction_seq INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS allocations (
  miner_id INTEGER PRIMARY KEY REFERENCES miners(id) ON DELETE CASCADE,
  chunk_count INTEGER NOT NULL,
  commitment BLOB,
  updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS chunk_roots (
  miner_id INTEGER NOT NULL REFERENCES miners(id) ON DELETE CASCADE,
  chunk_index INTEGER NOT NULL,
  root BLOB NOT NULL,
  PRIMARY KEY (miner_id, chunk_index)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS evicted_chunks (
  miner_id INTEGER NOT NULL REFERENCES miners(id) ON DELETE CASCADE,
  chunk_index INTEGER NOT NULL,
  PRIMARY KEY (miner_id, chunk_index)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS challenges (
  id BLOB PRIMARY KEY,
  miner_id INTEGER NOT NULL REFERENCES miners(id) ON DELETE CASCADE,
  outcome TEXT NOT NULL CHECK (outcome IN ('pass', 'fail', 'timeout')),
  latency_ms REAL,
  at INTEGER NOT NULL,
  reason TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS challenges_by_miner ON challenges (miner_id, at);
CREATE TABLE IF NOT EXISTS scores (
  miner_id INTEGER NOT NULL REFERENCES miners(id) ON DELETE CASCADE,
  policy TEXT NOT NULL,
  state TEXT NOT NULL,
  PRIMARY KEY (miner_id, policy)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pending_reveals (
  commit_hash TEXT PRIMARY KEY,
  netuid INTEGER NOT NULL,
  uids TEXT NOT NULL,
  vals TEXT NOT NULL,
  salt TEXT NOT NULL,
  version_key TEXT NOT NULL,
  commit_block INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
`;

function toMiner(row: MinerRow): MinerRecord {
  return {
    id: row.id,
    hotkey: row.hotkey,
    uid: row.uid,
    multiaddr: row.multiaddr,
    firstSeen: row.first_seen,
    lastSeen: row.last_seen,
    evictionSeq: row.eviction_seq,
  };
}

function toChallenge(row: ChallengeRow): ChallengeRecord {
  const outcome: ChallengeOutcome =
    row.outcome === "pass" ? { kind: "pass", latencyMs: row.latency_ms ?? 0 } : { kind: row.outcome };
  return {
    id: new Uint8Array(row.id),
    minerId: row.miner_id,
    outcome,
    at: row.at,
    ...(row.reason === null ? {} : { reason: row.reason }),
  };
}

function assertIndex(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InvalidRecordError(`${what} must be a non-negative integer, got ${value}`);
  }
}

function assertSighting({ hotkey, uid, seenAt }: MinerSighting): void {
  if (typeof hotkey !== "string" || hotkey.length === 0)
    throw new InvalidRecordError("hotkey must be a string");
  if (uid !== null) assertIndex(uid, "uid");
  assertTime(seenAt, "seenAt");
}

function assertChallenge({ id, outcome, at }: ChallengeRecord): void {
  if (!(id instanceof Uint8Array) || id.length === 0 || id.length > MAX_CHALLENGE_ID_LENGTH) {
    throw new InvalidRecordError(`a challenge id is 1 to ${MAX_CHALLENGE_ID_LENGTH} bytes`);
  }
  if (outcome.kind !== "pass" && outcome.kind !== "fail" && outcome.kind !== "timeout") {
    throw new InvalidRecordError("unknown challenge outcome");
  }
  if (outcome.kind === "pass" && !(Number.isFinite(outcome.latencyMs) && outcome.latencyMs >= 0)) {
    throw new InvalidRecordError("a pass needs a non-negative latency");
  }
  assertTime(at, "at");
}

function assertTime(value: number, what: string): void {
  if (!Number.isFinite(value)) throw new InvalidRecordError(`${what} must be a time in milliseconds`);
}

function isForeignKeyError(error: unknown): boolean {
  return error instanceof Database.SqliteError && error.code === "SQLITE_CONSTRAINT_FOREIGNKEY";
}

type Statement = Database.Statement<unknown[], unknown>;

function prepareStatements(db: Database.Database) {
  const prepare = (sql: string): Statement => db.prepare(sql);
  return {
    minerByHotkey: prepare("SELECT * FROM miners WHERE hotkey = ?"),
    minerById: prepare("SELECT * FROM miners WHERE id = ?"),
    miners: prepare("SELECT * FROM miners ORDER BY id"),
    releaseUid: prepare("UPDATE miners SET uid = NULL WHERE uid = ? AND hotkey <> ?"),
    insertMiner: prepare(
      "INSERT INTO miners (hotkey, uid, multiaddr, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)",
    ),
    updateMiner: prepare(
      "UPDATE miners SET uid = ?, multiaddr = COALESCE(?, multiaddr), last_seen = MAX(last_seen, ?) WHERE id = ?",
    ),
    setAllocation: prepare(
      `INSERT INTO allocations (miner_id, chunk_count, commitment, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (miner_id) DO UPDATE SET chunk_count = excluded.chunk_count,
         commitment = excluded.commitment, updated_at = excluded.updated_at`,
    ),
    allocation: prepare("SELECT chunk_count, commitment, updated_at FROM allocations WHERE miner_id = ?"),
    putRoot: prepare("INSERT OR REPLACE INTO chunk_roots (miner_id, chunk_index, root) VALUES (?, ?, ?)"),
    rootOf: prepare("SELECT root FROM chunk_roots WHERE miner_id = ? AND chunk_index = ?").pluck(),
    roots: prepare("SELECT chunk_index, root FROM chunk_roots WHERE miner_id = ? ORDER BY chunk_index"),
    rootCount: prepare("SELECT COUNT(*) FROM chunk_roots WHERE miner_id = ?").pluck(),
    // Only a chunk this validator placed can be evicted: the mark is made from its root's row.
    markEvicted: prepare(
      `INSERT OR IGNORE INTO evicted_chunks (miner_id, chunk_index)
       SELECT miner_id, chunk_index FROM chunk_roots WHERE miner_id = ? AND chunk_index = ?`,
    ),
    evictedCount: prepare("SELECT COUNT(*) FROM evicted_chunks WHERE miner_id = ?").pluck(),
    evictedBelow: prepare(
      "SELECT chunk_index FROM evicted_chunks WHERE miner_id = ? AND chunk_index < ? ORDER BY chunk_index LIMIT ?",
    ).pluck(),
    liveChunkAt: prepare(
      `SELECT chunk_index FROM chunk_roots r WHERE miner_id = ? AND NOT EXISTS
         (SELECT 1 FROM evicted_chunks e WHERE e.miner_id = r.miner_id AND e.chunk_index = r.chunk_index)
       ORDER BY chunk_index LIMIT 1 OFFSET ?`,
    ).pluck(),
    clearEvicted: prepare("DELETE FROM evicted_chunks WHERE miner_id = ? AND chunk_index = ?"),
    evicted: prepare(
      "SELECT chunk_index FROM evicted_chunks WHERE miner_id = ? ORDER BY chunk_index",
    ).pluck(),
    advanceEvictionSeq: prepare("UPDATE miners SET eviction_seq = MAX(eviction_seq, ?) WHERE id = ?"),
    insertChallenge: prepare(
      "INSERT OR IGNORE INTO challenges (id, miner_id, outcome, latency_ms, at, reason) VALUES (?, ?, ?, ?, ?, ?)",
    ),
    challengeById: prepare("SELECT * FROM challenges WHERE id = ?"),
    history: prepare("SELECT * FROM challenges WHERE miner_id = ? AND at >= ? ORDER BY at, id LIMIT ?"),
    counts: prepare("SELECT outcome, COUNT(*) AS n FROM challenges WHERE miner_id = ? GROUP BY outcome"),
    prune: prepare("DELETE FROM challenges WHERE at < ?"),
    score: prepare("SELECT state FROM scores WHERE miner_id = ? AND policy = ?").pluck(),
    putScore: prepare("INSERT OR REPLACE INTO scores (miner_id, policy, state) VALUES (?, ?, ?)"),
    putPending: prepare(
      `INSERT OR REPLACE INTO pending_reveals (commit_hash, netuid, uids, vals, salt, version_key, commit_block)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    pending: prepare("SELECT * FROM pending_reveals ORDER BY commit_block, commit_hash"),
    deletePending: prepare("DELETE FROM pending_reveals WHERE commit_hash = ?"),
    getSetting: prepare("SELECT value FROM settings WHERE key = ?").pluck(),
    putSetting: prepare("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)"),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

/**
 * The validator's database. Every write is one durable transaction.
 *
 * @example
 * const db = ValidatorDb.open(join(root, "validator.sqlite"));
 * const miner = db.upsertMiner({ hotkey, uid: 3, multiaddr, seenAt: Date.now() });
 * db.putChunkRoots(miner.id, [{ chunkIndex: 0, root }]);
 * db.recordChallenge({ id: challenge.nonce, minerId: miner.id, outcome, at: Date.now() }, [policy]);
 * db.close();
 */
export class ValidatorDb {
  readonly path: string;
  readonly #db: Database.Database;
  readonly #s: Statements;
  #closed = false;
  /** User files, their leaves, DAG nodes and pieces, and the slots pieces hold (the gateway's index). */
  readonly files: FileIndex;

  private constructor(path: string, db: Database.Database) {
    this.path = path;
    this.#db = db;
    this.#s = prepareStatements(db);
    this.files = new FileIndex(
      db,
      (fn) => this.#write(undefined, fn),
      () => {
        if (this.#closed) throw new ValidatorDbClosedError();
      },
    );
  }

  /**
   * Opens (creating when missing) the database at `path`; its folder is created too.
   * Throws {@link ValidatorDbOpenError} for a file that is not a validator database of this version.
   */
  static open(path: string): ValidatorDb {
    let db: Database.Database;
    try {
      mkdirSync(dirname(path), { recursive: true });
      db = new Database(path);
    } catch (cause) {
      throw new ValidatorDbOpenError(path, "cannot open the validator database", { cause });
    }
    try {
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = FULL");
      db.pragma("foreign_keys = ON");
      const version = db.pragma("user_version", { simple: true }) as number;
      if (!MIGRATABLE_VERSIONS.includes(version)) {
        throw new ValidatorDbOpenError(
          path,
          `the validator database has schema version ${version}; this validator reads version ${SCHEMA_VERSION}`,
        );
      }
      db.transaction(() => {
        db.exec(SCHEMA);
        db.exec(STORAGE_SCHEMA);
        db.pragma(`user_version = ${SCHEMA_VERSION}`);
        // Eviction marks of chunks never placed: a file from before marks were checked against
        // the roots may hold millions (a miner listed indices it never got), and every count reads them.
        db.exec(`DELETE FROM evicted_chunks WHERE NOT EXISTS (SELECT 1 FROM chunk_roots r
                   WHERE r.miner_id = evicted_chunks.miner_id AND r.chunk_index = evicted_chunks.chunk_index)`);
      })();
      return new ValidatorDb(path, db);
    } catch (error) {
      db.close();
      if (error instanceof ValidatorDbOpenError) throw error;
      throw new ValidatorDbOpenError(path, "cannot open the validator database", { cause: error });
    }
  }

  /** The prepared statements, or {@link ValidatorDbClosedError} after `close()`. */
  get #q(): Statements {
    if (this.#closed) throw new ValidatorDbClosedError();
    return this.#s;
  }

  #write<T>(minerId: number | undefined, fn: () => T): T {
    if (this.#closed) throw new ValidatorDbClosedError();
    try {
      return this.#db.transaction(fn).immediate();
    } catch (error) {
      if (minerId !== undefined && isForeignKeyError(error))
        throw new UnknownMinerError(minerId, { cause: error });
      throw error;
    }
  }

  // Miners

  /**
   * Records that a miner was seen with this uid and address, creating it on first sight. A uid
   * moves to the newest hotkey that holds it; a null `multiaddr` keeps the known one.
   */
  upsertMiner(sighting: MinerSighting): MinerRecord {
    assertSighting(sighting);
    return this.#write(undefined, () => this.#upsert(sighting));
  }

  /**
   * {@link upsertMiner} for a whole metagraph in one transaction (one fsync instead of one per
   * miner), in order: a later sighting of a uid takes it from an earlier one.
   */
  upsertMiners(sightings: readonly MinerSighting[]): MinerRecord[] {
    for (const s of sightings) assertSighting(s);
    return this.#write(undefined, () => sightings.map((s) => this.#upsert(s)));
  }

  #upsert({ hotkey, uid, multiaddr, seenAt }: MinerSighting): MinerRecord {
    if (uid !== null) this.#q.releaseUid.run(uid, hotkey);
    const existing = this.#q.minerByHotkey.get(hotkey) as MinerRow | undefined;
    if (existing === undefined) {
      this.#q.insertMiner.run(hotkey, uid, multiaddr, seenAt, seenAt);
    } else {
      this.#q.updateMiner.run(uid, multiaddr, seenAt, existing.id);
    }
    return toMiner(this.#q.minerByHotkey.get(hotkey) as MinerRow);
  }

  minerByHotkey(hotkey: string): MinerRecord | undefined {
    const row = this.#q.minerByHotkey.get(hotkey) as MinerRow | undefined;
    return row === undefined ? undefined : toMiner(row);
  }

  minerById(minerId: number): MinerRecord | undefined {
    const row = this.#q.minerById.get(minerId) as MinerRow | undefined;
    return row === undefined ? undefined : toMiner(row);
  }

  /** Every known miner, by id. */
  miners(): MinerRecord[] {
    return (this.#q.miners.all() as MinerRow[]).map(toMiner);
  }

  // Allocation and chunk roots

  setAllocation(minerId: number, allocation: Omit<Allocation, "updatedAt">, at: number): void {
    assertIndex(allocation.chunkCount, "chunkCount");
    assertTime(at, "at");
    const { commitment } = allocation;
    if (commitment !== null && commitment.length !== HASH_LENGTH) {
      throw new InvalidRecordError(`a commitment is ${HASH_LENGTH} bytes`);
    }
    this.#write(minerId, () =>
      this.#q.setAllocation.run(
        minerId,
        allocation.chunkCount,
        commitment === null ? null : Buffer.from(commitment),
        at,
      ),
    );
  }

  allocation(minerId: number): Allocation | undefined {
    const row = this.#q.allocation.get(minerId) as
      | { chunk_count: number; commitment: Buffer | null; updated_at: number }
      | undefined;
    if (row === undefined) return undefined;
    return {
      chunkCount: row.chunk_count,
      commitment: row.commitment === null ? null : new Uint8Array(row.commitment),
      updatedAt: row.updated_at,
    };
  }

  /**
   * Stores the roots of chunks the miner acknowledged (replacing earlier roots at the same
   * indices) and clears their eviction marks: a re-stored chunk is held again.
   */
  putChunkRoots(minerId: number, entries: readonly ChunkRootEntry[]): void {
    for (const { chunkIndex, root } of entries) {
      assertIndex(chunkIndex, "chunkIndex");
      if (!(root instanceof Uint8Array) || root.length !== HASH_LENGTH) {
        throw new InvalidRecordError(`the root of chunk ${chunkIndex} is not ${HASH_LENGTH} bytes`);
      }
    }
    const put = this.#q.putRoot;
    const clear = this.#q.clearEvicted;
    this.#write(minerId, () => {
      for (const { chunkIndex, root } of entries) {
        put.run(minerId, chunkIndex, Buffer.from(root.buffer, root.byteOffset, root.byteLength));
        clear.run(minerId, chunkIndex);
      }
    });
  }

  /** The root kept for a chunk, or undefined when none was stored. Evicted chunks keep theirs. */
  rootOf(minerId: number, chunkIndex: number): Uint8Array | undefined {
    const root = this.#q.rootOf.get(minerId, chunkIndex) as Buffer | undefined;
    return root === undefined ? undefined : new Uint8Array(root);
  }

  /** Every root kept for a miner, by chunk index (to compute the store commitment). */
  chunkRoots(minerId: number): ChunkRootEntry[] {
    return (this.#q.roots.all(minerId) as { chunk_index: number; root: Buffer }[]).map((row) => ({
      chunkIndex: row.chunk_index,
      root: new Uint8Array(row.root),
    }));
  }

  /** How many roots are kept for a miner. */
  chunkRootCount(minerId: number): number {
    return this.#q.rootCount.get(minerId) as number;
  }

  // Evictions

  /**
   * Applies a miner's `evictions-reply`: marks the chunks evicted and moves the miner's eviction
   * sequence number to `nextSeq` (never backwards), in one transaction. Only chunks this
   * validator placed on the miner (those with a root) are marked; other indices are ignored, so
   * a miner's claims add at most one row per chunk placed. Returns how many marks were added.
   */
  recordEvictions(minerId: number, chunkIndices: readonly number[], nextSeq: number): number {
    for (const index of chunkIndices) assertIndex(index, "chunk index");
    assertIndex(nextSeq, "nextSeq");
    const mark = this.#q.markEvicted;
    return this.#write(minerId, () => {
      const changed = this.#q.advanceEvictionSeq.run(nextSeq, minerId).changes;
      if (changed === 0) throw new UnknownMinerError(minerId);
      let added = 0;
      for (const index of chunkIndices) added += mark.run(minerId, index).changes;
      return added;
    });
  }

  /** Chunk indices the miner reported evicted and that were not stored again since. */
  evictedChunks(minerId: number): number[] {
    return this.#q.evicted.all(minerId) as number[];
  }

  /** How many of the miner's chunks are marked evicted (counted in SQL, nothing loaded). */
  evictedCount(minerId: number): number {
    return this.#q.evictedCount.get(minerId) as number;
  }

  /** Up to `limit` evicted chunk indices below `bound`, ascending: the slots to refill first. */
  evictedChunksBelow(minerId: number, bound: number, limit: number): number[] {
    return this.#q.evictedBelow.all(minerId, bound, limit) as number[];
  }

  /** Chunks placed on the miner and not evicted. */
  liveChunkCount(minerId: number): number {
    return this.chunkRootCount(minerId) - this.evictedCount(minerId);
  }

  /**
   * The `position`-th live chunk index (0-based, ascending), or undefined past the end: a
   * challenge's pick among the live chunks without loading the list.
   */
  liveChunkAt(minerId: number, position: number): number | undefined {
    return this.#q.liveChunkAt.get(minerId, position) as number | undefined;
  }

  // Challenges and scores

  /**
   * Records a challenge outcome and folds it into the miner's state under each policy, all in one
   * transaction. Returns false, changing nothing, when a challenge with this id was already
   * recorded, so a retry after a crash cannot count an outcome twice.
   *
   * @example
   * const counted = db.recordChallenge({ id: challenge.nonce, minerId, outcome: { kind: "timeout" }, at: now }, [policy]);
   */
  recordChallenge(record: ChallengeRecord, policies: readonly ScoringPolicyImpl[]): boolean {
    assertChallenge(record);
    return this.#write(record.minerId, () => this.#insertChallenge(record, policies));
  }

  /**
   * Records several challenge outcomes, in order, in one transaction (one fsync for all of them),
   * each as {@link recordChallenge} would: an id already recorded changes nothing. Either all are
   * recorded or, when one is invalid or names an unknown miner, none. Returns how many were counted.
   *
   * @example
   * const counted = db.recordChallenges(roundOutcomes, [policy]);
   */
  recordChallenges(records: readonly ChallengeRecord[], policies: readonly ScoringPolicyImpl[]): number {
    for (const record of records) assertChallenge(record);
    if (records.length === 0) return 0;
    try {
      return this.#write(undefined, () => {
        let counted = 0;
        for (const record of records) if (this.#insertChallenge(record, policies)) counted++;
        return counted;
      });
    } catch (error) {
      const unknown = isForeignKeyError(error)
        ? records.find((r) => this.#q.minerById.get(r.minerId) === undefined)
        : undefined;
      if (unknown !== undefined) throw new UnknownMinerError(unknown.minerId, { cause: error });
      throw error;
    }
  }

  #insertChallenge(record: ChallengeRecord, policies: readonly ScoringPolicyImpl[]): boolean {
    const { id, minerId, outcome, at, reason } = record;
    const inserted = this.#q.insertChallenge.run(
      Buffer.from(id),
      minerId,
      outcome.kind,
      outcome.kind === "pass" ? outcome.latencyMs : null,
      at,
      reason ?? null,
    );
    if (inserted.changes === 0) return false;
    for (const policy of policies) {
      const state = policy.apply(this.#scoreState(minerId, policy), outcome);
      this.#q.putScore.run(minerId, policy.name, JSON.stringify(state));
    }
    return true;
  }

  #scoreState<S>(minerId: number, policy: ScoringPolicyImpl<S>): S {
    const stored = this.#q.score.get(minerId, policy.name) as string | undefined;
    return stored === undefined ? policy.initial() : policy.decode(JSON.parse(stored));
  }

  /** The challenge recorded under `id`, if any. */
  challenge(id: Uint8Array): ChallengeRecord | undefined {
    const row = this.#q.challengeById.get(Buffer.from(id)) as ChallengeRow | undefined;
    return row === undefined ? undefined : toChallenge(row);
  }

  /** A miner's recorded outcomes from `since` (Unix ms) on, oldest first: evidence to replay. */
  challengeHistory(minerId: number, options: { since?: number; limit?: number } = {}): ChallengeRecord[] {
    const { since = Number.MIN_SAFE_INTEGER, limit = -1 } = options;
    return (this.#q.history.all(minerId, since, limit) as ChallengeRow[]).map(toChallenge);
  }

  challengeCounts(minerId: number): ChallengeCounts {
    const counts: ChallengeCounts = { pass: 0, fail: 0, timeout: 0 };
    for (const row of this.#q.counts.all(minerId) as {
      outcome: keyof ChallengeCounts;
      n: number;
    }[]) {
      counts[row.outcome] = row.n;
    }
    return counts;
  }

  /**
   * Deletes challenge history older than `before` (Unix ms); scores keep what it contributed.
   * Only prune what no retry can still deliver: a pruned id would count again.
   * Returns how many records went.
   */
  pruneChallenges(before: number): number {
    assertTime(before, "before");
    return this.#write(undefined, () => this.#q.prune.run(before).changes);
  }

  /** A miner's state under `policy` (the policy's initial state when nothing was recorded). */
  scoreState<S>(minerId: number, policy: ScoringPolicyImpl<S>): S {
    return this.#scoreState(minerId, policy);
  }

  // Weights

  /** Keeps a weight commit until it is revealed (see chain/weights.ts `submitWeights`). */
  savePendingReveal(pending: PendingReveal): void {
    assertIndex(pending.commitBlock, "commitBlock");
    this.#write(undefined, () =>
      this.#q.putPending.run(
        pending.commitHash,
        pending.netuid,
        JSON.stringify(pending.uids),
        JSON.stringify(pending.values),
        JSON.stringify(pending.salt),
        pending.versionKey.toString(),
        pending.commitBlock,
      ),
    );
  }

  /** Commits waiting for their reveal, oldest first. */
  pendingReveals(): PendingReveal[] {
    return (this.#q.pending.all() as PendingRow[]).map((row) => ({
      netuid: row.netuid,
      uids: JSON.parse(row.uids) as number[],
      values: JSON.parse(row.vals) as number[],
      salt: JSON.parse(row.salt) as number[],
      versionKey: BigInt(row.version_key),
      commitHash: row.commit_hash,
      commitBlock: row.commit_block,
    }));
  }

  /** Drops a commit once revealed (or expired). Returns whether it was there. */
  deletePendingReveal(commitHash: string): boolean {
    return this.#write(undefined, () => this.#q.deletePending.run(commitHash).changes > 0);
  }

  /** The block the validator last set (or committed) weights at, if ever. */
  lastWeightsBlock(): number | undefined {
    const value = this.#q.getSetting.get("last_weights_block") as string | undefined;
    return value === undefined ? undefined : Number(value);
  }

  setLastWeightsBlock(block: number): void {
    assertIndex(block, "block");
    this.#write(undefined, () => this.#q.putSetting.run("last_weights_block", String(block)));
  }

  // Lifecycle

  /** Copies the WAL into the database file and truncates it (idle time, or before measuring size). */
  checkpoint(): void {
    if (this.#closed) throw new ValidatorDbClosedError();
    this.#db.pragma("wal_checkpoint(TRUNCATE)");
  }

  /** Closes the file (checkpointing the WAL). Calling it twice is harmless. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }
}
