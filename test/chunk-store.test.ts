import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { expandHome } from "../chain/expand-home.js";
import {
  ChunkEmptyError,
  type ChunkStore,
  ChunkTooLargeError,
  InvalidChunkIndexError,
  InvalidLeafRangeError,
  type MemoryChunkEntry,
  MemoryChunkStore,
  StoreClosedError,
} from "../neurons/miner/chunk-store.js";
import {
  DEFAULT_STORE_CACHE_BYTES,
  MIN_STORE_CACHE_BYTES,
  SqliteChunkStore,
  StoreMismatchError,
} from "../neurons/miner/sqlite-chunk-store.js";
import {
  InvalidPathSegmentError,
  PARTITION_DB_FILE,
  resolveStoreLayout,
} from "../neurons/miner/store-layout.js";

/** Small chunks keep the suite fast; the size rules are the same at 1 MiB. */
const CHUNK = 4096;

/** Deterministic chunk content, so a test can regenerate what it stored. */
function chunkBytes(index: number, size = CHUNK): Uint8Array {
  const bytes = new Uint8Array(size);
  let x = (index + 1) * 2654435761;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
}

interface Harness {
  /** A fresh, empty store. */
  create(): ChunkStore;
  /** Damages the stored checksum of one chunk behind the store's back. */
  corruptChecksum(store: ChunkStore, chunkIndex: number): void;
  cleanup(): void;
}

/** The behaviour every ChunkStore must have. */
function describeChunkStoreCompliance(name: string, makeHarness: () => Harness): void {
  describe(`${name} (compliance)`, () => {
    let harness: Harness;
    let store: ChunkStore;
    beforeEach(() => {
      harness = makeHarness();
      store = harness.create();
    });
    afterEach(() => {
      store.close();
      harness.cleanup();
    });

    it("round-trips put, get, has and delete", () => {
      const data = chunkBytes(3);
      expect(store.get(3)).toBeUndefined();
      expect(store.has(3)).toBe(false);
      store.put(3, data);
      expect(store.has(3)).toBe(true);
      expect(Buffer.from(store.get(3)!).equals(Buffer.from(data))).toBe(true);
      expect(store.delete(3)).toBe(true);
      expect(store.delete(3)).toBe(false);
      expect(store.get(3)).toBeUndefined();
      expect(store.count()).toBe(0);
    });

    it("reads single leaves without the rest of the chunk, short or empty past its end", () => {
      const data = chunkBytes(4, CHUNK - 100);
      const leafSize = 256;
      expect(store.readLeaves(4, [0], leafSize)).toBeUndefined();
      store.put(4, data);
      const indices = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? i / 2 : 15 - (((i - 1) / 2) % 16)));
      const leaves = store.readLeaves(4, indices, leafSize) as Uint8Array[];
      expect(leaves).toHaveLength(indices.length);
      indices.forEach((index, i) => {
        const want = data.subarray(index * leafSize, (index + 1) * leafSize);
        expect(Buffer.from(leaves[i] as Uint8Array).equals(Buffer.from(want))).toBe(true);
      });
      // The last leaf is short (CHUNK - 100 is not a multiple of the leaf size); past the end, empty.
      expect(store.readLeaves(4, [15], leafSize)?.[0]?.length).toBe(256 - 100);
      expect(store.readLeaves(4, [16, 1000], leafSize)?.map((leaf) => leaf.length)).toEqual([0, 0]);
      expect(store.readLeaves(4, [], leafSize)).toEqual([]);
      expect(() => store.readLeaves(4, [-1], leafSize)).toThrow(InvalidLeafRangeError);
      expect(() => store.readLeaves(4, [0], 0)).toThrow(InvalidLeafRangeError);
    });

    it("counts chunks and payload bytes and lists indices in order", () => {
      store.put(9, chunkBytes(9));
      store.put(2, chunkBytes(2, 100));
      store.put(5, chunkBytes(5));
      expect(store.count()).toBe(3);
      expect(store.usedBytes()).toBe(2 * CHUNK + 100);
      expect(store.indices()).toEqual([2, 5, 9]);
      expect(store.deleteMany([2, 9, 42])).toBe(2);
      expect(store.indices()).toEqual([5]);
    });

    it("does not let the caller's buffer alias the stored bytes", () => {
      const data = chunkBytes(1);
      store.put(1, data);
      data.fill(0);
      expect(Buffer.from(store.get(1)!).equals(Buffer.from(chunkBytes(1)))).toBe(true);
    });

    it("accepts a chunk of exactly chunkSize and refuses a larger or empty one", () => {
      store.put(0, chunkBytes(0, CHUNK));
      expect(() => store.put(1, new Uint8Array(CHUNK + 1))).toThrow(ChunkTooLargeError);
      expect(() => store.put(1, new Uint8Array(0))).toThrow(ChunkEmptyError);
      expect(store.has(1)).toBe(false);
      try {
        store.put(1, new Uint8Array(CHUNK + 1));
      } catch (error) {
        expect(error).toBeInstanceOf(ChunkTooLargeError);
        expect((error as ChunkTooLargeError).name).toBe("ChunkTooLargeError");
        expect((error as ChunkTooLargeError).limit).toBe(CHUNK);
      }
    });

    it("refuses invalid chunk indices", () => {
      for (const bad of [-1, 1.5, Number.NaN, 2 ** 53]) {
        expect(() => store.put(bad, chunkBytes(0))).toThrow(InvalidChunkIndexError);
        expect(() => store.get(bad)).toThrow(InvalidChunkIndexError);
      }
    });

    it("overwrites; identical bytes keep the challenge history, new bytes reset it", () => {
      store.put(1, chunkBytes(1));
      store.put(2, chunkBytes(2));
      store.markChallenged(1, 1000);
      store.markChallenged(2, 1000);
      store.put(1, chunkBytes(1));
      store.put(2, chunkBytes(77));
      expect(Buffer.from(store.get(2)!).equals(Buffer.from(chunkBytes(77)))).toBe(true);
      // 2 lost its history, so it is now the least valuable.
      expect(store.leastValuable(2)).toEqual([2, 1]);
      expect(store.count()).toBe(2);
    });

    it("orders eviction: never challenged (highest index first), then least recently challenged", () => {
      for (const i of [0, 1, 2, 3, 4, 5]) store.put(i, chunkBytes(i));
      expect(store.markChallenged(0, 300)).toBe(true);
      store.markChallenged(4, 100);
      store.markChallenged(2, 200);
      store.markChallenged(5, 200);
      expect(store.markChallenged(99, 1)).toBe(false);
      expect(store.leastValuable(10)).toEqual([3, 1, 4, 5, 2, 0]);
      expect(store.leastValuable(2)).toEqual([3, 1]);
      expect(store.leastValuable(0)).toEqual([]);
    });

    it("passes the integrity check and detects a corrupted checksum", () => {
      for (const i of [0, 1, 2]) store.put(i, chunkBytes(i));
      const clean = store.verifyIntegrity();
      expect(clean).toEqual({ ok: true, checked: 3, corrupt: [], engine: [] });
      harness.corruptChecksum(store, 1);
      const damaged = store.verifyIntegrity({ quick: true });
      expect(damaged.ok).toBe(false);
      expect(damaged.corrupt).toEqual([1]);
      expect(damaged.checked).toBe(3);
    });

    it("refuses use after close", async () => {
      store.close();
      expect(() => store.get(0)).toThrow(StoreClosedError);
      expect(() => store.put(0, chunkBytes(0))).toThrow(StoreClosedError);
      expect(() => store.putUnsynced(0, chunkBytes(0))).toThrow(StoreClosedError);
      await expect(store.sync()).rejects.toThrow(StoreClosedError);
    });

    it("shows an unsynced put at once and makes concurrent writes durable with sync", async () => {
      await store.sync();
      for (let i = 0; i < 6; i++) store.putUnsynced(i, chunkBytes(i));
      expect(store.count()).toBe(6);
      expect(Buffer.from(store.get(2)!).equals(Buffer.from(chunkBytes(2)))).toBe(true);
      // Callers waiting together share the syncs; a write between two syncs is covered by the second.
      const first = store.sync();
      store.putUnsynced(6, chunkBytes(6));
      await Promise.all([first, store.sync(), store.sync()]);
      expect(() => store.putUnsynced(7, new Uint8Array(CHUNK + 1))).toThrow(ChunkTooLargeError);
      expect(store.verifyIntegrity()).toEqual({ ok: true, checked: 7, corrupt: [], engine: [] });
    });
  });
}

describeChunkStoreCompliance("MemoryChunkStore", () => {
  const maps = new WeakMap<ChunkStore, Map<number, MemoryChunkEntry>>();
  return {
    create() {
      const entries = new Map<number, MemoryChunkEntry>();
      const store = new MemoryChunkStore({ chunkSize: CHUNK, entries });
      maps.set(store, entries);
      return store;
    },
    corruptChecksum(store, chunkIndex) {
      const entry = maps.get(store)!.get(chunkIndex)!;
      entry.checksum = new Uint8Array(4);
    },
    cleanup() {},
  };
});

describeChunkStoreCompliance("SqliteChunkStore", () => {
  const dir = mkdtempSync(join(tmpdir(), "chunk-store-"));
  const paths = new WeakMap<ChunkStore, string>();
  return {
    create() {
      const path = join(dir, "validator.sqlite");
      const store = new SqliteChunkStore({ path, chunkSize: CHUNK });
      paths.set(store, path);
      return store;
    },
    corruptChecksum(store, chunkIndex) {
      // A second connection, as another process would be; WAL lets it write beside the store.
      const db = new Database(paths.get(store)!);
      db.prepare("UPDATE chunk_meta SET checksum = zeroblob(4) WHERE chunk_index = ?").run(chunkIndex);
      db.close();
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe("SqliteChunkStore on disk", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "chunk-store-"));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("keeps data and challenge history across reopening", () => {
    const path = join(dir, "nested", "v.sqlite");
    const first = new SqliteChunkStore({ path, chunkSize: CHUNK });
    for (let i = 0; i < 20; i++) first.put(i, chunkBytes(i));
    first.markChallenged(7, 5);
    first.delete(3);
    first.close();

    const second = new SqliteChunkStore({ path, chunkSize: CHUNK });
    expect(second.count()).toBe(19);
    for (const i of second.indices()) {
      expect(Buffer.from(second.get(i)!).equals(Buffer.from(chunkBytes(i)))).toBe(true);
    }
    expect(second.has(3)).toBe(false);
    expect(second.leastValuable(19).at(-1)).toBe(7);
    expect(second.verifyIntegrity().ok).toBe(true);
    second.close();
  });

  it("keeps synced unsynced-puts across reopening, and put stays synchronous FULL after them", async () => {
    const path = join(dir, "v.sqlite");
    const first = new SqliteChunkStore({ path, chunkSize: CHUNK });
    const pending = [];
    for (let i = 0; i < 12; i++) {
      first.putUnsynced(i, chunkBytes(i));
      if (i % 4 === 3) pending.push(first.sync());
    }
    await Promise.all(pending);
    first.put(12, chunkBytes(12));
    first.close();
    const second = new SqliteChunkStore({ path, chunkSize: CHUNK });
    expect(second.count()).toBe(13);
    for (let i = 0; i < 13; i++) {
      expect(Buffer.from(second.get(i)!).equals(Buffer.from(chunkBytes(i)))).toBe(true);
    }
    second.close();
  });

  it("uses 64 KiB pages, WAL and synchronous FULL", () => {
    const path = join(dir, "v.sqlite");
    const store = new SqliteChunkStore({ path, chunkSize: CHUNK });
    store.put(0, chunkBytes(0));
    const db = new Database(path, { readonly: true });
    expect(db.pragma("page_size", { simple: true })).toBe(65536);
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    db.close();
    store.close();
  });

  it("sizes its page cache: 16 MiB by default, the option's size otherwise, never under one page", () => {
    const byDefault = new SqliteChunkStore({ path: join(dir, "a.sqlite"), chunkSize: CHUNK });
    expect(byDefault.cacheBytes()).toBe(DEFAULT_STORE_CACHE_BYTES);
    byDefault.close();
    const small = new SqliteChunkStore({
      path: join(dir, "b.sqlite"),
      chunkSize: CHUNK,
      cacheBytes: 256 * 1024,
    });
    expect(small.cacheBytes()).toBe(256 * 1024);
    for (let i = 0; i < 8; i++) small.put(i, chunkBytes(i));
    expect(Buffer.from(small.get(5)!).equals(Buffer.from(chunkBytes(5)))).toBe(true);
    small.close();
    for (const cacheBytes of [0, MIN_STORE_CACHE_BYTES - 1, MIN_STORE_CACHE_BYTES + 0.5, Number.NaN]) {
      expect(
        () => new SqliteChunkStore({ path: join(dir, "c.sqlite"), cacheBytes }),
        String(cacheBytes),
      ).toThrow(RangeError);
    }
  });

  it("stores 1 MiB chunks by default and refuses 1 MiB + 1", () => {
    const store = new SqliteChunkStore({ path: join(dir, "v.sqlite") });
    const data = randomBytes(1 << 20);
    store.put(0, data);
    expect(Buffer.from(store.get(0)!).equals(data)).toBe(true);
    expect(() => store.put(1, new Uint8Array((1 << 20) + 1))).toThrow(ChunkTooLargeError);
    store.close();
  });

  it("refuses to reopen a store with another chunk size", () => {
    const path = join(dir, "v.sqlite");
    new SqliteChunkStore({ path, chunkSize: CHUNK }).close();
    expect(() => new SqliteChunkStore({ path, chunkSize: CHUNK * 2 })).toThrow(StoreMismatchError);
  });

  it("detects chunk bytes that no longer match their checksum, and orphaned bytes", () => {
    const path = join(dir, "v.sqlite");
    const store = new SqliteChunkStore({ path, chunkSize: CHUNK });
    for (let i = 0; i < 4; i++) store.put(i, chunkBytes(i));
    const db = new Database(path);
    db.prepare("UPDATE chunk_data SET bytes = ? WHERE chunk_index = 2").run(Buffer.from(chunkBytes(99)));
    db.prepare("DELETE FROM chunk_meta WHERE chunk_index = 3").run();
    db.close();
    const report = store.verifyIntegrity();
    expect(report.ok).toBe(false);
    expect(report.corrupt).toEqual([2, 3]);
    expect(report.engine).toEqual([]);
    store.close();
  });

  it("returns the space of deleted chunks on maintain", () => {
    const path = join(dir, "v.sqlite");
    const store = new SqliteChunkStore({ path, chunkSize: 1 << 20 });
    for (let i = 0; i < 8; i++) store.put(i, randomBytes(1 << 20));
    store.maintain();
    const db = new Database(path, { readonly: true });
    const pagesFull = db.pragma("page_count", { simple: true }) as number;
    store.deleteMany([0, 1, 2, 3, 4, 5]);
    store.maintain();
    const pagesAfter = db.pragma("page_count", { simple: true }) as number;
    db.close();
    expect(pagesAfter).toBeLessThan(pagesFull / 2);
    expect(store.count()).toBe(2);
    store.close();
  });
});

describe("store layout", () => {
  it("puts one file per validator under root/netuid/miner and expands ~", () => {
    const layout = resolveStoreLayout({ netuid: 21, minerHotkey: "5Miner", home: "/home/ana" });
    expect(layout.dir).toBe("/home/ana/bittensor-db/21/5Miner");
    expect(layout.storePath("5Validator")).toBe("/home/ana/bittensor-db/21/5Miner/5Validator.sqlite");
    expect(layout.partitionPath).toBe(`/home/ana/bittensor-db/21/5Miner/${PARTITION_DB_FILE}`);
    expect(layout.validatorOfFile("5Validator.sqlite")).toBe("5Validator");
    expect(layout.validatorOfFile(PARTITION_DB_FILE)).toBeUndefined();
    expect(layout.validatorOfFile("5Validator.sqlite-wal")).toBeUndefined();
  });

  it("expands only a leading ~", () => {
    expect(expandHome("~", "/h")).toBe("/h");
    expect(expandHome("~/x/y", "/h")).toBe("/h/x/y");
    expect(expandHome("/abs/~/x", "/h")).toBe("/abs/~/x");
  });

  it("refuses hotkeys that are not safe file names", () => {
    const layout = resolveStoreLayout({ dbRoot: "/db", netuid: 1, minerHotkey: "m" });
    for (const bad of ["../x", "a/b", "", "_partition", ".hidden"]) {
      expect(() => layout.storePath(bad)).toThrow(InvalidPathSegmentError);
    }
    expect(() => resolveStoreLayout({ dbRoot: "/db", netuid: -1, minerHotkey: "m" })).toThrow(
      InvalidPathSegmentError,
    );
  });
});
