/**
 * Ingest and read speed of the miner's SQLite chunk store against raw files on the same disk.
 *
 * Baselines, measured in the same run and interleaved chunk by chunk with the store (so both see
 * the same disk and CPU contention): for ingest, appending the same 1 MiB to a plain file in the
 * same folder with an fsync after each chunk — the same durability a `put` gives; for reads,
 * `readSync` of 1 MiB at its offset in that file. Goal: ingest ≥ 0.6 × raw.
 *
 * Figures:
 * - `store.ingest`: puts into a fresh store (the WAL starts empty, as after an idle `maintain()`);
 *   the copy of the WAL into the main file happens later, when idle.
 * - `store.ingest_with_checkpoint`: the same puts plus the checkpoint that follows, i.e. every
 *   byte the store eventually writes twice.
 * - `store.ingest_group`: the miner's group commit (`putUnsynced` × 4, one `sync`) against 4 raw
 *   appends and one fsync: the same durability per group.
 * - `store.ingest_page4k`: the same with SQLite's default 4 KiB pages and 1000-page WAL (the
 *   layout this store replaced), for comparison.
 * - `store.read`: `get` of every chunk (page cache warm) against raw reads.
 * - `store.put_tree_overlap`: the miner's store path from a verified request to a durable chunk,
 *   as it runs now (`putUnsynced`, the fsync started, the Merkle tree built meanwhile, its levels
 *   by `putTreeLevels`) against the order it replaced (tree, then `putUnsynced` with the levels,
 *   then `sync`), interleaved chunk by chunk. Lower is better; the ratio is new / old time.
 */

import { closeSync, fsyncSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { chunkChecksum } from "../neurons/miner/chunk-store.js";
import { SqliteChunkStore } from "../neurons/miner/sqlite-chunk-store.js";
import { storedLevelsOf } from "../neurons/miner/tree-cache.js";
import { CHUNK_SIZE, LEAF_SIZE } from "../protocol/constants.js";
import { buildChunkTree } from "../protocol/merkle.js";
import { type BenchGroup, measured } from "./harness.js";

const CHUNKS = 96;
/** Chunks per group commit in `store.ingest_group`: the miner bench's stores in flight. */
const GROUP = 4;
const MiB = 1 << 20;

function randomChunks(count: number): Buffer[] {
  // Incompressible but cheap: a keyed hash stream would cost more than the writes.
  const chunks: Buffer[] = [];
  for (let c = 0; c < count; c++) {
    const bytes = Buffer.allocUnsafe(CHUNK_SIZE);
    let x = (c + 1) * 0x9e3779b1;
    for (let i = 0; i < CHUNK_SIZE; i += 4) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      bytes.writeInt32LE(x | 0, i);
    }
    chunks.push(bytes);
  }
  return chunks;
}

/** Puts every chunk with `put`, interleaved with raw append + fsync; returns both times in ms. */
function interleavedIngest(
  chunks: readonly Buffer[],
  rawPath: string,
  put: (index: number, data: Buffer) => void,
  signal: AbortSignal,
): { storeMs: number; rawMs: number } {
  const fd = openSync(rawPath, "w");
  let storeMs = 0;
  let rawMs = 0;
  try {
    chunks.forEach((chunk, index) => {
      signal.throwIfAborted();
      let start = performance.now();
      writeSync(fd, chunk);
      fsyncSync(fd);
      rawMs += performance.now() - start;
      start = performance.now();
      put(index, chunk);
      storeMs += performance.now() - start;
    });
  } finally {
    closeSync(fd);
  }
  return { storeMs, rawMs };
}

/**
 * Group commit: `GROUP` chunks committed with `putUnsynced` and made durable by one `sync`, as the
 * miner acknowledges the stores that arrived together, interleaved group by group with the raw
 * baseline at the same durability (`GROUP` appends, one fsync). Returns both times in ms.
 */
async function interleavedGroupIngest(
  chunks: readonly Buffer[],
  rawPath: string,
  store: SqliteChunkStore,
  signal: AbortSignal,
): Promise<{ storeMs: number; rawMs: number }> {
  const fd = openSync(rawPath, "w");
  let storeMs = 0;
  let rawMs = 0;
  try {
    for (let first = 0; first < chunks.length; first += GROUP) {
      signal.throwIfAborted();
      const group = chunks.slice(first, first + GROUP);
      let start = performance.now();
      for (const chunk of group) writeSync(fd, chunk);
      fsyncSync(fd);
      rawMs += performance.now() - start;
      start = performance.now();
      group.forEach((chunk, i) => {
        store.putUnsynced(first + i, chunk);
      });
      await store.sync();
      storeMs += performance.now() - start;
    }
  } finally {
    closeSync(fd);
  }
  return { storeMs, rawMs };
}

/**
 * The miner's store path, tree built during the fsync, against tree first, interleaved chunk by
 * chunk on two stores in the same folder; returns both times in ms.
 */
async function interleavedTreeOverlap(
  chunks: readonly Buffer[],
  overlapped: SqliteChunkStore,
  sequential: SqliteChunkStore,
  signal: AbortSignal,
): Promise<{ overlappedMs: number; sequentialMs: number }> {
  let overlappedMs = 0;
  let sequentialMs = 0;
  for (const [index, chunk] of chunks.entries()) {
    signal.throwIfAborted();
    let start = performance.now();
    const tree = buildChunkTree(chunk, LEAF_SIZE);
    sequential.putUnsynced(index, chunk, storedLevelsOf(tree));
    await sequential.sync();
    sequentialMs += performance.now() - start;
    start = performance.now();
    overlapped.putUnsynced(index, chunk);
    const synced = overlapped.sync();
    overlapped.putTreeLevels(index, storedLevelsOf(buildChunkTree(chunk, LEAF_SIZE)));
    await synced;
    overlappedMs += performance.now() - start;
  }
  return { overlappedMs, sequentialMs };
}

/** SQLite defaults (4 KiB pages, 1000-page autocheckpoint) with the same schema and durability. */
function defaultLayoutPut(path: string): { put: (index: number, data: Buffer) => void; close(): void } {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.exec(`CREATE TABLE chunk_meta (chunk_index INTEGER PRIMARY KEY, size INTEGER, checksum BLOB, stored_at INTEGER);
           CREATE TABLE chunk_data (chunk_index INTEGER PRIMARY KEY, bytes BLOB)`);
  const data = db.prepare("INSERT OR REPLACE INTO chunk_data VALUES (?, ?)");
  const meta = db.prepare("INSERT OR REPLACE INTO chunk_meta VALUES (?, ?, ?, ?)");
  const put = db.transaction((index: number, bytes: Buffer) => {
    data.run(index, bytes);
    meta.run(index, bytes.byteLength, chunkChecksum(bytes), Date.now());
  });
  return { put, close: () => db.close() };
}

const mibPerSecond = (ms: number, chunks: number) => (chunks * (CHUNK_SIZE / MiB)) / (ms / 1000);

export const storeBench: BenchGroup = {
  name: "store",
  description: "SQLite chunk store ingest and read vs raw file write+fsync / read, 1 MiB chunks",
  async run(report, signal) {
    const dir = mkdtempSync(join(tmpdir(), "store-bench-"));
    try {
      const chunks = randomChunks(CHUNKS);
      const rawPath = join(dir, "raw.bin");

      const store = new SqliteChunkStore({ path: join(dir, "store.sqlite") });
      const ingest = interleavedIngest(chunks, rawPath, (i, c) => store.put(i, c), signal);
      const checkpointStart = performance.now();
      store.maintain();
      const checkpointMs = performance.now() - checkpointStart;
      const raw = mibPerSecond(ingest.rawMs, CHUNKS);
      report(
        measured(
          "store.ingest",
          mibPerSecond(ingest.storeMs, CHUNKS),
          "MiB/s",
          raw,
          `put (CRC-32 + WAL commit, synchronous=FULL) vs raw append+fsync per chunk; goal ratio ≥ 0.6`,
        ),
      );
      report(
        measured(
          "store.ingest_with_checkpoint",
          mibPerSecond(ingest.storeMs + checkpointMs, CHUNKS),
          "MiB/s",
          raw,
          "the same puts plus the idle-time WAL checkpoint into the main file",
        ),
      );

      const grouped = new SqliteChunkStore({ path: join(dir, "grouped.sqlite") });
      try {
        const ingestGroup = await interleavedGroupIngest(chunks, join(dir, "raw-group.bin"), grouped, signal);
        report(
          measured(
            "store.ingest_group",
            mibPerSecond(ingestGroup.storeMs, CHUNKS),
            "MiB/s",
            mibPerSecond(ingestGroup.rawMs, CHUNKS),
            `${GROUP} putUnsynced + one sync (group commit, fsync off the event loop) vs ${GROUP} raw appends + one fsync; goal ratio ≥ 0.8`,
          ),
        );
      } finally {
        grouped.close();
      }

      const overlapped = new SqliteChunkStore({ path: join(dir, "overlapped.sqlite") });
      const sequential = new SqliteChunkStore({ path: join(dir, "sequential.sqlite") });
      try {
        const overlap = await interleavedTreeOverlap(chunks, overlapped, sequential, signal);
        report(
          measured(
            "store.put_tree_overlap",
            overlap.overlappedMs / CHUNKS,
            "ms",
            overlap.sequentialMs / CHUNKS,
            "per 1 MiB chunk: put, Merkle tree built during its fsync, levels after; baseline: tree, put with levels, then fsync (the order before)",
          ),
        );
      } finally {
        overlapped.close();
        sequential.close();
      }

      // Reads: every chunk once from the store and from the raw file, interleaved; page cache warm.
      const fd = openSync(rawPath, "r");
      let storeReadMs = 0;
      let rawReadMs = 0;
      try {
        for (let round = 0; round < 3; round++) {
          for (let index = 0; index < CHUNKS; index++) {
            signal.throwIfAborted();
            let start = performance.now();
            const buffer = Buffer.allocUnsafe(CHUNK_SIZE);
            readSync(fd, buffer, 0, CHUNK_SIZE, index * CHUNK_SIZE);
            rawReadMs += performance.now() - start;
            start = performance.now();
            if (store.get(index)?.byteLength !== CHUNK_SIZE) throw new Error(`chunk ${index} missing`);
            storeReadMs += performance.now() - start;
          }
        }
      } finally {
        closeSync(fd);
        store.close();
      }
      report(
        measured(
          "store.read",
          mibPerSecond(storeReadMs, 3 * CHUNKS),
          "MiB/s",
          mibPerSecond(rawReadMs, 3 * CHUNKS),
          "get of a 1 MiB chunk vs readSync of 1 MiB from a plain file, page cache warm",
        ),
      );

      const plain = defaultLayoutPut(join(dir, "default.sqlite"));
      const ingest4k = interleavedIngest(chunks, rawPath, plain.put, signal);
      plain.close();
      report(
        measured(
          "store.ingest_page4k",
          mibPerSecond(ingest4k.storeMs, CHUNKS),
          "MiB/s",
          mibPerSecond(ingest4k.rawMs, CHUNKS),
          "SQLite defaults (4 KiB pages, 1000-page WAL autocheckpoint), same schema and durability, for comparison",
        ),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
