import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type ChunkStore, MemoryChunkStore } from "../neurons/miner/chunk-store.js";
import { SqliteChunkStore } from "../neurons/miner/sqlite-chunk-store.js";
import { readStoredTree, STORED_TREE_FROM_LEVEL, storedLevelsOf } from "../neurons/miner/tree-cache.js";
import { answerChallenge } from "../protocol/challenge.js";
import {
  buildChunkTree,
  leafAt,
  proveLeaves,
  treeFromUpperLevels,
  upperLevels,
  verifyLeaves,
} from "../protocol/merkle.js";

const LEAF = 64;
const CHUNK = 64 * LEAF;

/** Bytes as plain Uint8Arrays, so a Buffer from SQLite and a Uint8Array compare equal. */
function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return Uint8Array.from(value);
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

function spanReader(chunk: Uint8Array, leafSize = LEAF) {
  return (first: number, count: number) => chunk.subarray(first * leafSize, (first + count) * leafSize);
}

describe("treeFromUpperLevels", () => {
  it("proves every leaf exactly as the full tree does, for any shape and stored level", () => {
    for (const length of [1, LEAF, LEAF + 1, 3 * LEAF - 5, 17 * LEAF, 64 * LEAF - 1, 64 * LEAF]) {
      const chunk = randomBytes(length);
      const full = buildChunkTree(chunk, LEAF);
      for (const fromLevel of [0, 1, 2, 4, 30]) {
        const packed = upperLevels(full, fromLevel);
        for (let i = 0; i < full.leafCount; i++) {
          const partial = treeFromUpperLevels(
            full.leafCount,
            fromLevel,
            packed,
            [i],
            spanReader(chunk),
            LEAF,
          );
          expect(partial?.root).toEqual(full.root);
          expect(proveLeaves(partial!, [i])).toEqual(proveLeaves(full, [i]));
        }
      }
    }
  });

  it("proves several leaves in different subtrees at once", () => {
    const chunk = randomBytes(CHUNK - 7);
    const full = buildChunkTree(chunk, LEAF);
    const indices = [0, 5, 17, 40, 63];
    const partial = treeFromUpperLevels(
      full.leafCount,
      3,
      upperLevels(full, 3),
      indices,
      spanReader(chunk),
      LEAF,
    );
    const proof = proveLeaves(partial!, indices);
    expect(proof).toEqual(proveLeaves(full, indices));
    expect(
      verifyLeaves(
        full.root,
        indices.map((i) => leafAt(chunk, i, LEAF)),
        proof,
      ),
    ).toBe(true);
  });

  it("refuses levels that do not match the leaves, the leaf count or the indices", () => {
    const chunk = randomBytes(CHUNK);
    const full = buildChunkTree(chunk, LEAF);
    const packed = upperLevels(full, 4);
    const changed = Uint8Array.from(chunk);
    changed[5] = (changed[5] ?? 0) ^ 1;
    expect(treeFromUpperLevels(64, 4, packed, [0], spanReader(changed), LEAF)).toBeUndefined();
    // Leaves elsewhere in the chunk are not read, so a change there is not this proof's concern.
    expect(treeFromUpperLevels(64, 4, packed, [40], spanReader(changed), LEAF)?.root).toEqual(full.root);
    // 48 leaves have 3 nodes at level 4, not 4.
    expect(treeFromUpperLevels(48, 4, packed, [0], spanReader(chunk), LEAF)).toBeUndefined();
    expect(treeFromUpperLevels(64, 4, packed.subarray(32), [0], spanReader(chunk), LEAF)).toBeUndefined();
    expect(treeFromUpperLevels(64, 4, packed, [64], spanReader(chunk), LEAF)).toBeUndefined();
    expect(treeFromUpperLevels(64, 4, packed, [0], () => undefined, LEAF)).toBeUndefined();
    expect(treeFromUpperLevels(64, 4, packed, [0], () => chunk.subarray(0, 10), LEAF)).toBeUndefined();
  });
});

function describeStoredLevels(name: string, open: () => { store: ChunkStore; cleanup: () => void }): void {
  describe(`${name}: tree levels beside a chunk`, () => {
    let store: ChunkStore;
    let cleanup: () => void;
    beforeEach(() => {
      ({ store, cleanup } = open());
    });
    afterEach(() => {
      store.close();
      cleanup();
    });

    it("keeps the levels with the chunk and answers a challenge from them alone", () => {
      const chunk = randomBytes(CHUNK - 3);
      const full = buildChunkTree(chunk, LEAF);
      store.put(2, chunk, storedLevelsOf(full));
      const stored = store.readTreeLevels(2);
      expect(stored?.fromLevel).toBe(STORED_TREE_FROM_LEVEL);
      expect(stored?.size).toBe(chunk.length);
      const challenge = {
        storeId: "s",
        chunks: [{ chunkIndex: 2, leafIndices: [9, 63] }],
        nonce: randomBytes(32),
        deadline: 1,
      };
      const cold = answerChallenge(
        challenge,
        () => {
          throw new Error("the whole chunk was read");
        },
        {
          leafSize: LEAF,
          knownTree: (i) => readStoredTree(store, i, [9, 63], LEAF)?.tree,
          readLeaves: (i) => readStoredTree(store, i, [9, 63], LEAF)?.leaves,
        },
      );
      const warm = answerChallenge(challenge, () => chunk, { leafSize: LEAF });
      expect(plain(cold)).toEqual(plain(warm));
    });

    it("drops the levels when the chunk is overwritten without them or deleted", () => {
      const chunk = randomBytes(CHUNK);
      store.put(1, chunk, storedLevelsOf(buildChunkTree(chunk, LEAF)));
      store.put(1, randomBytes(CHUNK));
      expect(store.readTreeLevels(1)).toBeUndefined();
      expect(readStoredTree(store, 1, [0], LEAF)).toBeUndefined();
      store.put(1, chunk, storedLevelsOf(buildChunkTree(chunk, LEAF)));
      expect(store.delete(1)).toBe(true);
      expect(store.readTreeLevels(1)).toBeUndefined();
      store.put(1, chunk, storedLevelsOf(buildChunkTree(chunk, LEAF)));
      expect(store.deleteMany([1])).toBe(1);
      expect(store.readTreeLevels(1)).toBeUndefined();
    });

    it("adds levels to a chunk already stored, and only to a stored chunk", async () => {
      const chunk = randomBytes(CHUNK - 5);
      const levels = storedLevelsOf(buildChunkTree(chunk, LEAF));
      store.putTreeLevels(4, levels);
      expect(store.readTreeLevels(4)).toBeUndefined();
      store.putUnsynced(4, chunk);
      expect(store.readTreeLevels(4)).toBeUndefined();
      store.putTreeLevels(4, levels);
      await store.sync();
      expect(plain(store.readTreeLevels(4))).toEqual(plain({ ...levels, size: chunk.length }));
      expect(readStoredTree(store, 4, [3], LEAF)?.leaves).toBeDefined();
      // An overwrite without levels drops them again; the levels never outlive their bytes.
      store.putUnsynced(4, randomBytes(CHUNK));
      expect(store.readTreeLevels(4)).toBeUndefined();
    });
  });
}

describeStoredLevels("MemoryChunkStore", () => ({
  store: new MemoryChunkStore({ chunkSize: CHUNK }),
  cleanup: () => {},
}));

describeStoredLevels("SqliteChunkStore", () => {
  const dir = mkdtempSync(join(tmpdir(), "stored-tree-"));
  return {
    store: new SqliteChunkStore({ path: join(dir, "v.sqlite"), chunkSize: CHUNK }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
});

describe("SqliteChunkStore tree levels on disk", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "stored-tree-"));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("opens a store made before the levels table, keeps its chunks and adds the table", () => {
    const path = join(dir, "old.sqlite");
    const chunk = randomBytes(CHUNK);
    const first = new SqliteChunkStore({ path, chunkSize: CHUNK });
    first.put(0, chunk);
    first.close();
    const db = new Database(path);
    db.exec("DROP TABLE chunk_tree");
    db.close();

    const second = new SqliteChunkStore({ path, chunkSize: CHUNK });
    expect(Buffer.from(second.get(0)!).equals(chunk)).toBe(true);
    expect(second.readTreeLevels(0)).toBeUndefined();
    second.put(1, chunk, storedLevelsOf(buildChunkTree(chunk, LEAF)));
    expect(second.readTreeLevels(1)?.size).toBe(CHUNK);
    expect(second.verifyIntegrity().ok).toBe(true);
    second.close();
  });

  it("ignores levels whose chunk was overwritten by a miner that does not know them", () => {
    const path = join(dir, "v.sqlite");
    const chunk = randomBytes(CHUNK);
    const store = new SqliteChunkStore({ path, chunkSize: CHUNK });
    store.put(0, chunk, storedLevelsOf(buildChunkTree(chunk, LEAF)));
    // What an older miner's put does: chunk_data and chunk_meta only.
    const db = new Database(path);
    db.prepare("UPDATE chunk_data SET bytes = ? WHERE chunk_index = 0").run(randomBytes(CHUNK));
    db.prepare("UPDATE chunk_meta SET checksum = zeroblob(4) WHERE chunk_index = 0").run();
    db.close();
    expect(store.readTreeLevels(0)).toBeUndefined();
    store.close();
  });
});
