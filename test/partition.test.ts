import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type ChunkStore, MemoryChunkStore } from "../neurons/miner/chunk-store.js";
import {
  BudgetExceededError,
  computeBudgets,
  folderUsedBytes,
  InvalidBudgetInputError,
  PartitionDb,
  StoreManager,
  type ValidatorStake,
} from "../neurons/miner/partition.js";
import { SqliteChunkStore } from "../neurons/miner/sqlite-chunk-store.js";
import { resolveStoreLayout } from "../neurons/miner/store-layout.js";

const MiB = 1 << 20;
const CHUNK = 1024;

const validatorsArb = fc.uniqueArray(
  fc.record({
    hotkey: fc.stringMatching(/^[a-z][a-z0-9]{0,7}$/),
    stake: fc.oneof(fc.bigInt({ min: 0n, max: 10n ** 24n }), fc.nat({ max: 1_000_000 })),
  }),
  { selector: (v) => v.hotkey, maxLength: 24 },
);

function stakeOf(v: ValidatorStake): number {
  return Number(v.stake);
}

describe("computeBudgets", () => {
  it("splits by stake above the floor", () => {
    const budgets = computeBudgets({
      totalBytes: 10 * MiB + 5,
      chunkSize: MiB,
      floorChunks: 1,
      validators: [
        { hotkey: "a", stake: 3n },
        { hotkey: "b", stake: 1n },
      ],
    });
    expect(budgets).toEqual([
      { hotkey: "a", stake: 3n, chunks: 7, bytes: 7 * MiB },
      { hotkey: "b", stake: 1n, chunks: 3, bytes: 3 * MiB },
    ]);
  });

  it("gives floors to the highest stakes first when the total cannot cover them all", () => {
    const budgets = computeBudgets({
      totalBytes: 5 * CHUNK,
      chunkSize: CHUNK,
      floorChunks: 2,
      validators: [
        { hotkey: "low", stake: 1 },
        { hotkey: "high", stake: 100 },
        { hotkey: "mid", stake: 10 },
      ],
    });
    expect(budgets.map((b) => [b.hotkey, b.chunks])).toEqual([
      ["low", 1],
      ["high", 2],
      ["mid", 2],
    ]);
  });

  it("splits evenly when nobody has stake, and refuses bad input", () => {
    const even = computeBudgets({
      totalBytes: 9 * CHUNK,
      chunkSize: CHUNK,
      floorChunks: 0,
      validators: [
        { hotkey: "a", stake: 0 },
        { hotkey: "b", stake: 0n },
        { hotkey: "c", stake: 0 },
      ],
    });
    expect(even.map((b) => b.chunks)).toEqual([3, 3, 3]);
    const base = { totalBytes: 10, chunkSize: 1, floorChunks: 0 };
    expect(() => computeBudgets({ ...base, validators: [{ hotkey: "a", stake: -1 }] })).toThrow(
      InvalidBudgetInputError,
    );
    expect(() =>
      computeBudgets({
        ...base,
        validators: [
          { hotkey: "a", stake: 1 },
          { hotkey: "a", stake: 2 },
        ],
      }),
    ).toThrow(InvalidBudgetInputError);
    expect(() => computeBudgets({ ...base, chunkSize: 0, validators: [] })).toThrow(InvalidBudgetInputError);
  });

  it("never exceeds the total, respects the floor, and is proportional to stake (property)", () => {
    fc.assert(
      fc.property(
        validatorsArb,
        fc.nat({ max: 5000 }),
        fc.nat({ max: 20 }),
        (validators, totalChunks, floorChunks) => {
          const budgets = computeBudgets({
            totalBytes: totalChunks * CHUNK,
            chunkSize: CHUNK,
            validators,
            floorChunks,
          });
          const sum = budgets.reduce((s, b) => s + b.chunks, 0);
          expect(budgets.map((b) => b.hotkey)).toEqual(validators.map((v) => v.hotkey));
          if (validators.length === 0) return;
          // Every chunk is handed out, never more.
          expect(sum).toBe(totalChunks);
          for (const b of budgets) expect(b.bytes).toBe(b.chunks * CHUNK);
          if (floorChunks * validators.length <= totalChunks) {
            const remaining = totalChunks - floorChunks * validators.length;
            const stakeSum = validators.reduce((s, v) => s + stakeOf(v), 0);
            budgets.forEach((b, i) => {
              expect(b.chunks).toBeGreaterThanOrEqual(floorChunks);
              const share =
                stakeSum === 0
                  ? remaining / validators.length
                  : (remaining * stakeOf(validators[i]!)) / stakeSum;
              // Within one chunk of the exact share (a little slack for float rounding of huge stakes).
              expect(Math.abs(b.chunks - floorChunks - share)).toBeLessThan(1 + 1e-6);
            });
          } else {
            // Floors go to the highest stakes: nobody gets more than the floor, and a validator
            // with strictly more stake never gets less.
            for (const b of budgets) expect(b.chunks).toBeLessThanOrEqual(floorChunks);
          }
          // Monotonic in stake.
          budgets.forEach((a, i) => {
            budgets.forEach((b, j) => {
              if (stakeOf(validators[i]!) > stakeOf(validators[j]!)) {
                expect(a.chunks).toBeGreaterThanOrEqual(b.chunks);
              }
            });
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("PartitionDb", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "partition-"));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("returns each eviction once, with increasing sequence numbers, per validator", () => {
    const db = new PartitionDb(join(dir, "p.sqlite"));
    expect(db.evictedSince("v1", 0)).toEqual({ indices: [], nextSeq: 1 });
    expect(db.recordEvictions("v1", [5, 3], 10)).toBe(2);
    expect(db.recordEvictions("v2", [8], 10)).toBe(1);
    const first = db.evictedSince("v1", 0);
    expect(first).toEqual({ indices: [5, 3], nextSeq: 3 });
    expect(db.evictedSince("v1", first.nextSeq)).toEqual({ indices: [], nextSeq: 3 });
    expect(db.recordEvictions("v1", [9], 11)).toBe(3);
    expect(db.evictedSince("v1", first.nextSeq)).toEqual({ indices: [9], nextSeq: 4 });
    expect(db.evictedSince("v1", 0, 1)).toEqual({ indices: [5], nextSeq: 2 });
    expect(db.evictedSince("v2", 0)).toEqual({ indices: [8], nextSeq: 2 });
    db.close();
    // Durable across reopening, and numbering continues.
    const again = new PartitionDb(join(dir, "p.sqlite"));
    expect(again.recordEvictions("v1", [1], 12)).toBe(4);
    expect(again.evictedSince("v1", 4)).toEqual({ indices: [1], nextSeq: 5 });
    again.close();
  });
});

describe("StoreManager", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "partition-"));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /** Manager tests use 64 KiB chunks so the partition database's own size is under one chunk. */
  const BIG = 64 * 1024;

  function manager(
    freeBytes: () => number,
    stores?: Map<string, ChunkStore>,
    { validatorGraceMs = 0, now = () => 1_000 }: { validatorGraceMs?: number; now?: () => number } = {},
  ): StoreManager {
    const layout = resolveStoreLayout({ dbRoot: dir, netuid: 3, minerHotkey: "miner" });
    return new StoreManager({
      layout,
      chunkSize: BIG,
      threshold: 0.5,
      floorChunks: 1,
      freeBytes,
      now,
      validatorGraceMs,
      ...(stores
        ? {
            openStore: (path: string, chunkSize: number) => {
              const store = new MemoryChunkStore({ chunkSize });
              stores.set(path, store);
              return store;
            },
          }
        : {}),
    });
  }

  it("enforces budgets on put and evicts the least valuable chunks when a share shrinks", () => {
    let free = 40 * BIG;
    const m = manager(() => free, new Map());
    const validators = [
      { hotkey: "big", stake: 3n },
      { hotkey: "small", stake: 1n },
    ];
    // 0.5 × (40 chunks free + the partition database, well under a chunk) → 20 chunks.
    const first = m.rebalance(validators);
    expect(first.totalBytes).toBeGreaterThanOrEqual(20 * BIG);
    const bigBudget = m.budget("big");
    expect(bigBudget + m.budget("small")).toBe(20);
    expect(bigBudget).toBe(1 + Math.round(18 * 0.75));
    for (let i = 0; i < bigBudget; i++) m.put("big", i, new Uint8Array(BIG).fill(i));
    expect(() => m.put("big", bigBudget, new Uint8Array(BIG))).toThrow(BudgetExceededError);
    m.put("big", 0, new Uint8Array(BIG).fill(9)); // an overwrite always fits
    expect(() => m.put("stranger", 0, new Uint8Array(BIG))).toThrow(BudgetExceededError);

    const store = m.store("big");
    store.markChallenged(0, 50);
    store.markChallenged(1, 10);
    store.markChallenged(2, 30);
    // Someone else filled the disk: 0.5 × 8 chunks → 4 chunks, "big" keeps 1 + 2.
    free = 8 * BIG;
    const second = m.rebalance(validators);
    expect(m.budget("big")).toBe(3);
    const evicted = second.evicted.get("big")!;
    // Never challenged first, highest index first; then least recently challenged (1), and 2 and
    // 0 stay, with the other of the budget.
    const neverChallenged = Array.from({ length: bigBudget - 3 }, (_, k) => bigBudget - 1 - k);
    expect(evicted).toEqual(neverChallenged);
    expect(store.indices()).toEqual([0, 1, 2]);
    free = 6 * BIG;
    const third = m.rebalance(validators);
    expect(m.budget("big")).toBe(2);
    expect(third.evicted.get("big")).toEqual([1]);
    expect(store.indices()).toEqual([0, 2]);

    // The log hands each eviction out once, in order.
    const log = m.evictedSince("big", 0);
    expect(log).toEqual({ indices: [...neverChallenged, 1], nextSeq: bigBudget - 1 });
    expect(m.evictedSince("big", log.nextSeq)).toEqual({ indices: [], nextSeq: log.nextSeq });
    m.close();
  });

  it("counts its own files as usable, so storing data does not shrink the budget", () => {
    const disk = 32 * MiB;
    const layout = resolveStoreLayout({ dbRoot: dir, netuid: 3, minerHotkey: "miner" });
    const m = new StoreManager({
      layout,
      chunkSize: BIG,
      threshold: 0.125,
      floorChunks: 0,
      // A disk whose free space is whatever our own files do not take.
      freeBytes: () => disk - folderUsedBytes(layout.dir),
    });
    const validators = [{ hotkey: "v", stake: 1 }];
    const before = m.rebalance(validators);
    expect(m.budget("v")).toBe(64);
    for (let i = 0; i < m.budget("v"); i++) m.put("v", i, new Uint8Array(BIG).fill(1));
    const after = m.rebalance(validators);
    expect(after.usedBytes).toBeGreaterThan(64 * BIG);
    expect(after.totalBytes).toBe(before.totalBytes);
    expect(after.evicted.size).toBe(0);
    expect(m.store("v").count()).toBe(64);
    m.close();
  });

  it("opens each validator's SQLite store with the page cache it was given", () => {
    const layout = resolveStoreLayout({ dbRoot: dir, netuid: 3, minerHotkey: "miner" });
    const m = new StoreManager({
      layout,
      chunkSize: BIG,
      storeCacheBytes: 512 * 1024,
      threshold: 0.5,
      freeBytes: () => 64 * MiB,
    });
    m.rebalance([{ hotkey: "v", stake: 1 }]);
    m.put("v", 0, new Uint8Array(BIG).fill(3));
    const store = m.store("v");
    expect(store).toBeInstanceOf(SqliteChunkStore);
    expect((store as SqliteChunkStore).cacheBytes()).toBe(512 * 1024);
    m.close();
  });

  it("evicts everything of a validator that is no longer listed, and remembers budgets across restarts", () => {
    const stores = new Map<string, ChunkStore>();
    const m = manager(() => 20 * BIG, stores);
    m.rebalance([
      { hotkey: "a", stake: 1 },
      { hotkey: "gone", stake: 1 },
    ]);
    for (let i = 0; i < 3; i++) m.put("gone", i, new Uint8Array(BIG));
    const report = m.rebalance([{ hotkey: "a", stake: 1 }]);
    expect(report.budgets.find((b) => b.hotkey === "gone")?.chunks).toBe(0);
    expect(report.evicted.get("gone")).toEqual([2, 1, 0]);
    expect(m.budget("gone")).toBe(0);
    expect(m.budget("a")).toBe(10);
    m.close();

    const restarted = manager(() => 20 * BIG, stores);
    expect(restarted.budget("a")).toBe(10);
    restarted.close();
  });

  it("keeps an unlisted validator's chunks and share for the grace period, then evicts them (real SQLite)", () => {
    const MINUTE = 60_000;
    let clock = 1_000_000;
    // A disk of 40 chunks whose free space is what our own files leave: 20 chunks to share.
    const layoutDir = resolveStoreLayout({ dbRoot: dir, netuid: 3, minerHotkey: "miner" }).dir;
    const freeBytes = () => 40 * BIG - folderUsedBytes(layoutDir);
    const open = () => manager(freeBytes, undefined, { validatorGraceMs: 30 * MINUTE, now: () => clock });
    let m = open();
    const both = [
      { hotkey: "stays", stake: 1n },
      { hotkey: "flaky", stake: 1n },
    ];
    m.rebalance(both);
    expect([m.budget("stays"), m.budget("flaky")]).toEqual([10, 10]);
    for (let i = 0; i < 5; i++) {
      m.put("flaky", i, new Uint8Array(BIG).fill(i + 1));
      m.put("stays", i, new Uint8Array(BIG).fill(i + 1));
    }

    // A glitch: the metagraph misses "flaky" for 29 minutes, over several reads and a restart.
    const glitch = m.rebalance([{ hotkey: "stays", stake: 1n }]);
    expect(glitch.evicted.size).toBe(0);
    expect(glitch.inGrace).toEqual(new Map([["flaky", clock]]));
    // "stays" is not handed the missing validator's share while it may come back.
    expect([m.budget("stays"), m.budget("flaky")]).toEqual([10, 10]);
    clock += 15 * MINUTE;
    m.close();
    m = open();
    expect(m.rebalance([{ hotkey: "stays", stake: 1n }]).evicted.size).toBe(0);
    clock += 14 * MINUTE;
    expect(m.rebalance([{ hotkey: "stays", stake: 1n }]).evicted.size).toBe(0);
    expect(m.store("flaky").count()).toBe(5);

    // It is back: nothing was lost, and a later absence starts a fresh grace period.
    const back = m.rebalance(both);
    expect(back.evicted.size).toBe(0);
    expect(back.inGrace.size).toBe(0);
    expect(Buffer.from(m.store("flaky").get(4)!).equals(Buffer.from(new Uint8Array(BIG).fill(5)))).toBe(true);
    clock += 60 * MINUTE;
    expect(m.rebalance([{ hotkey: "stays", stake: 1n }]).evicted.size).toBe(0);

    // Gone for longer than the grace period: its chunks go and "stays" gets the space.
    clock += 30 * MINUTE;
    const gone = m.rebalance([{ hotkey: "stays", stake: 1n }]);
    expect(gone.evicted.get("flaky")?.sort()).toEqual([0, 1, 2, 3, 4]);
    expect(gone.inGrace.size).toBe(0);
    expect([m.budget("stays"), m.budget("flaky")]).toEqual([20, 0]);
    expect(m.store("flaky").count()).toBe(0);
    expect(m.evictedSince("flaky", 0).indices).toHaveLength(5);
    // Later reads neither evict again nor start another grace period.
    clock += MINUTE;
    const later = m.rebalance([{ hotkey: "stays", stake: 1n }]);
    expect(later.evicted.size).toBe(0);
    expect(later.inGrace.size).toBe(0);
    m.close();
  });

  it("opens real SQLite stores lazily at the layout's paths", () => {
    const m = manager(() => 10 * BIG);
    m.rebalance([{ hotkey: "v1", stake: 1 }]);
    m.put("v1", 0, new Uint8Array(BIG).fill(7));
    m.close();
    const path = resolveStoreLayout({ dbRoot: dir, netuid: 3, minerHotkey: "miner" }).storePath("v1");
    const store = new SqliteChunkStore({ path, chunkSize: BIG });
    expect(store.get(0)?.[0]).toBe(7);
    store.close();
  });
});
