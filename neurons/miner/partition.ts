/**
 * How a miner shares its disk among validators.
 *
 * Budget rule. The miner may keep `threshold × (free + used)` bytes, where `free` is what the
 * filesystem lets an unprivileged user write (`statfs`: bavail × bsize) and `used` is the size of
 * the miner's own files (every file in its store folder). Counting `used` means storing a chunk
 * moves bytes from `free` to `used` and leaves the budget where it was: a miner never evicts
 * because it succeeded in storing data. It still shrinks when *other* programs fill the disk.
 *
 * Split rule (`computeBudgets`), in whole chunks of `totalBytes / chunkSize` (rounded down):
 * 1. Every validator gets `floorChunks`, highest stake first (ties: hotkey order). When the total
 *    cannot cover every floor, the highest stakes get theirs in full, the next one what is left,
 *    the rest nothing.
 * 2. What remains is split in proportion to stake by largest remainder (Hamilton), so a budget
 *    is within one chunk of `floor + remaining × stake / totalStake` and the budgets add up to
 *    exactly the total. With zero total stake the remainder is split evenly.
 *
 * Eviction. When a validator's budget falls below what it stores, its least valuable chunks go
 * first (`ChunkStore.leastValuable`: never challenged, then least recently challenged, then the
 * highest index). Each eviction is written to the partition database *before* the chunk is
 * deleted, with a per-validator sequence number, so a crash can at worst announce an eviction
 * that did not happen (the chunk is then evicted again later), never hide one that did. A
 * validator learns them with `evictedSince(hotkey, seq)`.
 *
 * Grace. A validator that was allotted space and is no longer listed (it left the metagraph or lost
 * its permit) keeps its place in the split, at its last known stake, for `validatorGraceMs` from
 * the first rebalance that missed it; only then does its budget drop to 0 and its chunks go. A
 * metagraph glitch thus costs nothing, and the others' budgets are not inflated by space that may
 * be claimed back a minute later. The start of each absence is kept in the partition database, so
 * a restart neither resets nor skips a grace period.
 */

import { mkdirSync, readdirSync, statfsSync, statSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { CHUNK_SIZE } from "../../protocol/constants.js";
import { defaultsOf, minerConfigSchema } from "../config.js";
import { NodeError } from "../errors.js";
import type { ChunkStore, StoredTreeLevels } from "./chunk-store.js";
import { SqliteChunkStore } from "./sqlite-chunk-store.js";
import type { StoreLayout } from "./store-layout.js";

/** Share of the disk a miner offers by default: 0.01 % of (free + own) bytes. */
export const DEFAULT_THRESHOLD = 0.0001;

/** Chunks every validator gets before stake counts, where the total allows. */
export const DEFAULT_FLOOR_CHUNKS = 1;

/** How long an unlisted validator keeps its chunks: `--neuron.validator_grace` (minutes) by default. */
export const DEFAULT_VALIDATOR_GRACE_MS = defaultsOf(minerConfigSchema)["neuron.validator_grace"] * 60_000;

/** Fractional stakes (given as numbers) are kept to 9 decimals, the precision of TAO in RAO. */
const STAKE_SCALE = 1_000_000_000;

export interface ValidatorStake {
  hotkey: string;
  /** Any unit, as long as all validators use the same one; numbers may be fractional. */
  stake: bigint | number;
}

export interface BudgetInput {
  totalBytes: number;
  chunkSize: number;
  validators: readonly ValidatorStake[];
  floorChunks: number;
}

export interface ValidatorBudget {
  hotkey: string;
  stake: bigint | number;
  chunks: number;
  /** chunks × chunkSize. */
  bytes: number;
}

/** The budget inputs are inconsistent (negative stake, duplicate hotkey, …). */
export class InvalidBudgetInputError extends NodeError {
  override name = "InvalidBudgetInputError";
}

/** A put would take a validator past its budget. */
export class BudgetExceededError extends NodeError {
  override name = "BudgetExceededError";
  constructor(
    readonly validatorHotkey: string,
    readonly budgetChunks: number,
    options?: ErrorOptions,
  ) {
    super(`validator ${validatorHotkey} already uses its budget of ${budgetChunks} chunks`, options);
  }
}

/**
 * Splits a byte budget into whole-chunk budgets per validator (see the split rule above).
 * Results come in input order.
 *
 * @example
 * computeBudgets({ totalBytes: 10 * MiB, chunkSize: MiB, floorChunks: 1,
 *   validators: [{ hotkey: "a", stake: 3n }, { hotkey: "b", stake: 1n }] });
 * // a: 1 + 6 = 7 chunks, b: 1 + 2 = 3 chunks
 */
export function computeBudgets(input: BudgetInput): ValidatorBudget[] {
  const { totalBytes, chunkSize, validators, floorChunks } = input;
  if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) {
    throw new InvalidBudgetInputError(`chunk size must be a positive integer, got ${chunkSize}`);
  }
  if (!Number.isFinite(totalBytes) || totalBytes < 0) {
    throw new InvalidBudgetInputError(`total bytes must be a non-negative number, got ${totalBytes}`);
  }
  if (!Number.isSafeInteger(floorChunks) || floorChunks < 0) {
    throw new InvalidBudgetInputError(`floor must be a non-negative integer, got ${floorChunks}`);
  }
  const seen = new Set<string>();
  const weights = validators.map((validator) => {
    if (seen.has(validator.hotkey)) throw new InvalidBudgetInputError(`duplicate hotkey ${validator.hotkey}`);
    seen.add(validator.hotkey);
    return stakeUnits(validator);
  });

  const totalChunks = Math.floor(totalBytes / chunkSize);
  const chunks = validators.map(() => 0);
  // Highest stake first, then hotkey, so the outcome never depends on input order.
  const byStake = validators
    .map((_, i) => i)
    .sort(
      (a, b) =>
        compareBig(weights[b]!, weights[a]!) || compareText(validators[a]!.hotkey, validators[b]!.hotkey),
    );

  if (floorChunks * validators.length >= totalChunks) {
    let left = totalChunks;
    for (const i of byStake) {
      const grant = Math.min(floorChunks, left);
      chunks[i] = grant;
      left -= grant;
    }
  } else {
    const remaining = BigInt(totalChunks - floorChunks * validators.length);
    const stakeSum = weights.reduce((sum, w) => sum + w, 0n);
    const shares = stakeSum === 0n ? weights.map(() => 1n) : weights;
    const shareSum = stakeSum === 0n ? BigInt(validators.length) : stakeSum;
    const remainders: bigint[] = [];
    let given = 0n;
    shares.forEach((share, i) => {
      const exact = remaining * share;
      const whole = exact / shareSum;
      chunks[i] = floorChunks + Number(whole);
      remainders[i] = exact % shareSum;
      given += whole;
    });
    const order = byStake.slice().sort((a, b) => compareBig(remainders[b]!, remainders[a]!));
    for (let k = 0; k < Number(remaining - given); k++) {
      const i = order[k]!;
      chunks[i] = chunks[i]! + 1;
    }
  }

  return validators.map((validator, i) => ({
    hotkey: validator.hotkey,
    stake: validator.stake,
    chunks: chunks[i]!,
    bytes: chunks[i]! * chunkSize,
  }));
}

function stakeUnits(validator: ValidatorStake): bigint {
  const { stake } = validator;
  if (typeof stake === "bigint") {
    if (stake < 0n) throw new InvalidBudgetInputError(`negative stake for ${validator.hotkey}`);
    return stake * BigInt(STAKE_SCALE);
  }
  if (!Number.isFinite(stake) || stake < 0) {
    throw new InvalidBudgetInputError(`stake of ${validator.hotkey} must be a non-negative number`);
  }
  return Number.isSafeInteger(stake)
    ? BigInt(stake) * BigInt(STAKE_SCALE)
    : BigInt(Math.round(stake * STAKE_SCALE));
}

/** A stake as the allocation table keeps it ("1000" exactly as a bigint, "1.5" as a number). */
function parseStake(text: string): bigint | number {
  return /^\d+$/.test(text) ? BigInt(text) : Number(text);
}

function compareBig(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Bytes an unprivileged process may still write on the filesystem holding `path`. */
export function filesystemFreeBytes(path: string): number {
  const stats = statfsSync(path);
  return stats.bavail * stats.bsize;
}

/** Total size of the regular files directly inside `dir` (0 when it does not exist). */
export function folderUsedBytes(dir: string): number {
  let total = 0;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    try {
      const stats = statSync(join(dir, name));
      if (stats.isFile()) total += stats.size;
    } catch {
      // Removed between listing and stat (a WAL file at checkpoint): it no longer counts.
    }
  }
  return total;
}

/** One row of the partition database's allocation table. */
export interface AllocationRecord {
  validatorHotkey: string;
  /** Stake as seen at the last rebalance, as a decimal string (exact for bigints). */
  stake: string;
  budgetChunks: number;
  budgetBytes: number;
  updatedAt: number;
}

export interface EvictionPage {
  /** Evicted chunk indices in sequence order (an index may repeat if it was stored again). */
  indices: number[];
  /** Pass this as `sinceSeq` next time to get only newer evictions. */
  nextSeq: number;
}

/**
 * The partition database: the current allocation per validator and the log of evictions.
 *
 * @example
 * const db = new PartitionDb(layout.partitionPath);
 * const { indices, nextSeq } = db.evictedSince(validatorHotkey, 0);
 */
export class PartitionDb {
  readonly #db: Database.Database;

  constructor(path: string) {
    this.#db = new Database(path);
    this.#db.pragma("journal_mode = WAL");
    this.#db.pragma("synchronous = FULL");
    this.#db.exec(`
      CREATE TABLE IF NOT EXISTS allocation (
        validator_hotkey TEXT PRIMARY KEY,
        stake            TEXT    NOT NULL,
        budget_chunks    INTEGER NOT NULL,
        budget_bytes     INTEGER NOT NULL,
        updated_at       INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS eviction (
        validator_hotkey TEXT    NOT NULL,
        seq              INTEGER NOT NULL,
        chunk_index      INTEGER NOT NULL,
        evicted_at       INTEGER NOT NULL,
        PRIMARY KEY (validator_hotkey, seq)
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS absence (
        validator_hotkey TEXT    PRIMARY KEY,
        since            INTEGER NOT NULL
      ) WITHOUT ROWID;
    `);
  }

  /**
   * When each listed hotkey was first missed (Unix ms), recording `at` for those missed now for the
   * first time; every other absence (the validator is back, or its grace ended) is forgotten.
   */
  trackAbsences(missing: readonly string[], at: number): Map<string, number> {
    const select = this.#db.prepare("SELECT validator_hotkey AS hotkey, since FROM absence");
    const insert = this.#db.prepare("INSERT INTO absence (validator_hotkey, since) VALUES (?, ?)");
    const remove = this.#db.prepare("DELETE FROM absence WHERE validator_hotkey = ?");
    return this.#db.transaction(() => {
      const known = new Map(
        (select.all() as { hotkey: string; since: number }[]).map((row) => [row.hotkey, row.since]),
      );
      const out = new Map<string, number>();
      for (const hotkey of missing) {
        const since = known.get(hotkey);
        if (since === undefined) insert.run(hotkey, at);
        out.set(hotkey, since ?? at);
        known.delete(hotkey);
      }
      for (const hotkey of known.keys()) remove.run(hotkey);
      return out;
    })();
  }

  /** Replaces the allocation table with these budgets. */
  recordAllocations(budgets: readonly ValidatorBudget[], at: number): void {
    const insert = this.#db.prepare(
      "INSERT INTO allocation (validator_hotkey, stake, budget_chunks, budget_bytes, updated_at) VALUES (?, ?, ?, ?, ?)",
    );
    this.#db.transaction(() => {
      this.#db.exec("DELETE FROM allocation");
      for (const b of budgets) insert.run(b.hotkey, String(b.stake), b.chunks, b.bytes, at);
    })();
  }

  allocations(): AllocationRecord[] {
    return this.#db
      .prepare(
        `SELECT validator_hotkey AS validatorHotkey, stake, budget_chunks AS budgetChunks,
                budget_bytes AS budgetBytes, updated_at AS updatedAt
         FROM allocation ORDER BY validator_hotkey`,
      )
      .all() as AllocationRecord[];
  }

  /** Appends evictions (durably) and returns the sequence number of the last one (0 when none). */
  recordEvictions(validatorHotkey: string, chunkIndices: readonly number[], at: number): number {
    const last = this.#db
      .prepare("SELECT coalesce(max(seq), 0) FROM eviction WHERE validator_hotkey = ?")
      .pluck();
    const insert = this.#db.prepare(
      "INSERT INTO eviction (validator_hotkey, seq, chunk_index, evicted_at) VALUES (?, ?, ?, ?)",
    );
    return this.#db.transaction(() => {
      let seq = last.get(validatorHotkey) as number;
      for (const index of chunkIndices) insert.run(validatorHotkey, ++seq, index, at);
      return seq;
    })();
  }

  /** Evictions of one validator with sequence number ≥ `sinceSeq` (sequence numbers start at 1). */
  evictedSince(validatorHotkey: string, sinceSeq: number, limit = 10_000): EvictionPage {
    const rows = this.#db
      .prepare(
        `SELECT seq, chunk_index AS chunkIndex FROM eviction
         WHERE validator_hotkey = ? AND seq >= ? ORDER BY seq LIMIT ?`,
      )
      .all(validatorHotkey, sinceSeq, limit) as { seq: number; chunkIndex: number }[];
    const lastSeq = rows.at(-1)?.seq;
    return {
      indices: rows.map((row) => row.chunkIndex),
      nextSeq: lastSeq === undefined ? Math.max(sinceSeq, 1) : lastSeq + 1,
    };
  }

  close(): void {
    this.#db.close();
  }
}

export interface StoreManagerInit {
  layout: StoreLayout;
  /** Default CHUNK_SIZE. */
  chunkSize?: number;
  /** Share of (free + used) bytes the miner offers (default DEFAULT_THRESHOLD). */
  threshold?: number;
  /** Default DEFAULT_FLOOR_CHUNKS. */
  floorChunks?: number;
  /**
   * How long a validator that is no longer listed keeps its budget and chunks (default
   * DEFAULT_VALIDATOR_GRACE_MS; 0 evicts at the first rebalance that misses it).
   */
  validatorGraceMs?: number;
  /** Free bytes on the filesystem of a folder (default {@link filesystemFreeBytes}). */
  freeBytes?: (dir: string) => number;
  /** SQLite page cache of each validator's store (default DEFAULT_STORE_CACHE_BYTES); only for the default openStore. */
  storeCacheBytes?: number;
  /** Whether the default openStore's commits wait for the disk (default true; see SqliteChunkStoreOptions.fsync). */
  storeFsync?: boolean;
  /** Opens a validator's store (default: a SqliteChunkStore at `layout.storePath`). */
  openStore?: (path: string, chunkSize: number) => ChunkStore;
  /** Clock in Unix ms (default Date.now). */
  now?: () => number;
}

export interface RebalanceReport {
  freeBytes: number;
  usedBytes: number;
  /** threshold × (free + used), rounded down. */
  totalBytes: number;
  /** Every validator listed or holding a store; unlisted ones get 0. */
  budgets: ValidatorBudget[];
  /** Indices evicted in this rebalance, per validator, in eviction order. */
  evicted: Map<string, number[]>;
  /**
   * Unlisted validators still in their grace period: when they were first missed (Unix ms). They
   * keep their last stake in `budgets` until `since + validatorGraceMs`.
   */
  inGrace: Map<string, number>;
}

/**
 * Opens validators' stores lazily, keeps them within their budgets, and logs evictions.
 * Call `rebalance` at start (with the metagraph's validators) and then periodically.
 *
 * @example
 * const manager = new StoreManager({ layout });
 * manager.rebalance([{ hotkey: "5G...", stake: 1_000n }]);
 * manager.put("5G...", 0, chunk);
 */
export class StoreManager {
  readonly #layout: StoreLayout;
  readonly #chunkSize: number;
  readonly #threshold: number;
  readonly #floorChunks: number;
  readonly #graceMs: number;
  readonly #freeBytes: (dir: string) => number;
  readonly #openStore: (path: string, chunkSize: number) => ChunkStore;
  readonly #now: () => number;
  readonly #partition: PartitionDb;
  readonly #stores = new Map<string, ChunkStore>();
  readonly #budgets = new Map<string, number>();

  constructor(init: StoreManagerInit) {
    this.#layout = init.layout;
    this.#chunkSize = init.chunkSize ?? CHUNK_SIZE;
    this.#threshold = init.threshold ?? DEFAULT_THRESHOLD;
    this.#floorChunks = init.floorChunks ?? DEFAULT_FLOOR_CHUNKS;
    this.#graceMs = init.validatorGraceMs ?? DEFAULT_VALIDATOR_GRACE_MS;
    this.#freeBytes = init.freeBytes ?? filesystemFreeBytes;
    const cacheBytes = init.storeCacheBytes;
    const fsync = init.storeFsync;
    this.#openStore =
      init.openStore ??
      ((path, chunkSize) =>
        new SqliteChunkStore({
          path,
          chunkSize,
          ...(cacheBytes !== undefined ? { cacheBytes } : {}),
          ...(fsync !== undefined ? { fsync } : {}),
        }));
    this.#now = init.now ?? Date.now;
    mkdirSync(this.#layout.dir, { recursive: true });
    this.#partition = new PartitionDb(this.#layout.partitionPath);
    // Until the first rebalance, the budgets of the previous run apply.
    for (const row of this.#partition.allocations()) this.#budgets.set(row.validatorHotkey, row.budgetChunks);
  }

  /** The validator's store, opened (and created) on first use. */
  store(validatorHotkey: string): ChunkStore {
    let store = this.#stores.get(validatorHotkey);
    if (store === undefined) {
      store = this.#openStore(this.#layout.storePath(validatorHotkey), this.#chunkSize);
      this.#stores.set(validatorHotkey, store);
    }
    return store;
  }

  /** The validator's budget in chunks (0 for a validator the last rebalance did not list). */
  budget(validatorHotkey: string): number {
    return this.#budgets.get(validatorHotkey) ?? 0;
  }

  /** Stores a chunk unless it would take the validator past its budget (overwrites always fit). */
  put(validatorHotkey: string, chunkIndex: number, data: Uint8Array, tree?: StoredTreeLevels): void {
    this.#storeWithRoom(validatorHotkey, chunkIndex).put(chunkIndex, data, tree);
  }

  /**
   * {@link put}, committed but not yet durable (ChunkStore.putUnsynced): acknowledge it only
   * after {@link sync}.
   */
  putUnsynced(validatorHotkey: string, chunkIndex: number, data: Uint8Array, tree?: StoredTreeLevels): void {
    this.#storeWithRoom(validatorHotkey, chunkIndex).putUnsynced(chunkIndex, data, tree);
  }

  /** ChunkStore.putTreeLevels on the validator's store; a no-op for a validator without one. */
  putTreeLevels(validatorHotkey: string, chunkIndex: number, tree: StoredTreeLevels): void {
    this.#stores.get(validatorHotkey)?.putTreeLevels(chunkIndex, tree);
  }

  /** Resolves once every chunk committed so far, in every open store, is durable. */
  async sync(): Promise<void> {
    await Promise.all([...this.#stores.values()].map((store) => store.sync()));
  }

  #storeWithRoom(validatorHotkey: string, chunkIndex: number): ChunkStore {
    const budget = this.budget(validatorHotkey);
    // No file is created for a validator without a budget.
    if (budget === 0) throw new BudgetExceededError(validatorHotkey, budget);
    const store = this.store(validatorHotkey);
    if (!store.has(chunkIndex) && store.count() >= budget) {
      throw new BudgetExceededError(validatorHotkey, budget);
    }
    return store;
  }

  /**
   * Recomputes every budget from the filesystem and stakes, records it, and evicts the excess.
   * Validators allotted space before and missing from `validators` keep their last stake in the
   * split while their grace period lasts (see the module comment).
   */
  rebalance(validators: readonly ValidatorStake[]): RebalanceReport {
    const at = this.#now();
    const freeBytes = this.#freeBytes(this.#layout.dir);
    const usedBytes = folderUsedBytes(this.#layout.dir);
    const totalBytes = Math.floor(this.#threshold * (freeBytes + usedBytes));
    const listed = new Set(validators.map((v) => v.hotkey));
    const missing = this.#partition
      .allocations()
      .filter((row) => row.budgetChunks > 0 && !listed.has(row.validatorHotkey));
    const absentSince = this.#partition.trackAbsences(
      missing.map((row) => row.validatorHotkey),
      at,
    );
    const inGrace = new Map<string, number>();
    const kept: ValidatorStake[] = [];
    for (const row of missing) {
      const since = absentSince.get(row.validatorHotkey) ?? at;
      if (at - since >= this.#graceMs) continue;
      inGrace.set(row.validatorHotkey, since);
      kept.push({ hotkey: row.validatorHotkey, stake: parseStake(row.stake) });
    }
    const budgets = computeBudgets({
      totalBytes,
      chunkSize: this.#chunkSize,
      validators: [...validators, ...kept],
      floorChunks: this.#floorChunks,
    });
    for (const hotkey of this.#knownStores()) {
      if (!listed.has(hotkey) && !inGrace.has(hotkey))
        budgets.push({ hotkey, stake: 0n, chunks: 0, bytes: 0 });
    }
    this.#partition.recordAllocations(budgets, at);
    this.#budgets.clear();
    for (const b of budgets) this.#budgets.set(b.hotkey, b.chunks);

    const evicted = new Map<string, number[]>();
    const existing = this.#knownStores();
    for (const b of budgets) {
      if (!existing.has(b.hotkey)) continue;
      const store = this.store(b.hotkey);
      const excess = store.count() - b.chunks;
      if (excess <= 0) continue;
      const victims = store.leastValuable(excess);
      this.#partition.recordEvictions(b.hotkey, victims, at);
      store.deleteMany(victims);
      store.maintain();
      evicted.set(b.hotkey, victims);
    }
    return { freeBytes, usedBytes, totalBytes, budgets, evicted, inGrace };
  }

  /** Evictions of a validator's chunks from `sinceSeq` on (see PartitionDb.evictedSince). */
  evictedSince(validatorHotkey: string, sinceSeq: number, limit?: number): EvictionPage {
    return this.#partition.evictedSince(validatorHotkey, sinceSeq, limit);
  }

  /** Idle-time housekeeping of every open store. */
  maintain(): void {
    for (const store of this.#stores.values()) store.maintain();
  }

  close(): void {
    for (const store of this.#stores.values()) store.close();
    this.#stores.clear();
    this.#partition.close();
  }

  /** Validators with an open store or a store file on disk. */
  #knownStores(): Set<string> {
    const hotkeys = new Set(this.#stores.keys());
    for (const name of readdirSync(this.#layout.dir)) {
      const hotkey = this.#layout.validatorOfFile(name);
      if (hotkey !== undefined) hotkeys.add(hotkey);
    }
    return hotkeys;
  }
}
