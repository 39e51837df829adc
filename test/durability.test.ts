import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SqliteChunkStore } from "../neurons/miner/sqlite-chunk-store.js";
// @ts-expect-error: a plain-JS fixture shared with the writer child process; typed by its JSDoc.
import { chunkContent } from "./fixtures/chunk-content.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const COMPILED_STORE = join(ROOT, "dist", "neurons", "miner", "sqlite-chunk-store.js");
const WRITER = join(ROOT, "test", "fixtures", "durability-writer.mjs");
const CHUNK_SIZE = 1 << 20;
/** Small, so the writer also gets killed in the middle of automatic checkpoints. */
const WAL_CHECKPOINT_BYTES = 4 << 20;
const ROUNDS = 5;

function chunkSizeOf(index: number): number {
  return index % 5 === 4 ? CHUNK_SIZE - 1000 * (index % 7) - 1 : CHUNK_SIZE;
}

/**
 * Runs the writer until `delayMs` after it reported ready, kills it with SIGKILL and returns the
 * indices it acknowledged (complete lines only: a line cut by the kill does not count).
 */
function writeUntilKilled(
  dbPath: string,
  start: number,
  delayMs: number,
  mode: "fsync" | "nofsync",
): Promise<number[]> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(
      process.execPath,
      [
        WRITER,
        pathToFileURL(COMPILED_STORE).href,
        dbPath,
        String(CHUNK_SIZE),
        String(start),
        String(WAL_CHECKPOINT_BYTES),
        mode,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    let err = "";
    let timer: NodeJS.Timeout | undefined;
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (text: string) => {
      out += text;
      if (timer === undefined && out.startsWith("ready\n")) {
        timer = setTimeout(() => child.kill("SIGKILL"), delayMs);
      }
    });
    child.stderr.on("data", (text: string) => {
      err += text;
    });
    child.on("error", reject);
    child.on("close", (_code, signal) => {
      clearTimeout(timer);
      if (signal !== "SIGKILL") {
        reject(new Error(`writer exited by itself (${String(signal)}): ${err}`));
        return;
      }
      const lines = out.split("\n");
      lines.pop(); // the last piece has no newline: empty or cut by the kill
      resolvePromise(lines.filter((line) => line !== "ready").map(Number));
    });
  });
}

describe("SqliteChunkStore durability under SIGKILL", () => {
  let dir: string;

  beforeAll(() => {
    if (!existsSync(COMPILED_STORE)) {
      try {
        execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { cwd: ROOT, stdio: "ignore" });
      } catch {
        // tsc exits non-zero on errors elsewhere but still emits; the check below decides.
      }
    }
    expect(existsSync(COMPILED_STORE)).toBe(true);
    dir = mkdtempSync(join(tmpdir(), "durability-"));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  // nofsync: the simulator's stores (`fsync: false`) promise survival of a killed process, not of
  // a power cut, and keep that promise.
  it.each(["fsync", "nofsync"] as const)(
    "never loses an acknowledged chunk and never corrupts the file (%s)",
    async (mode) => {
      const dbPath = join(dir, `validator-${mode}.sqlite`);
      const acknowledged = new Set<number>();
      let next = 0;
      for (let round = 0; round < ROUNDS; round++) {
        // Random delays land the kill at different points: mid-put, mid-fsync, mid-checkpoint.
        const delayMs = 50 + Math.floor(Math.random() * 1200);
        const acked = await writeUntilKilled(dbPath, next, delayMs, mode);
        for (const index of acked) acknowledged.add(index);
        next = Math.max(next, ...acked.map((i) => i + 1));

        // Recover as a restarted miner would, and check every acknowledged chunk so far.
        const store = new SqliteChunkStore({ path: dbPath, chunkSize: CHUNK_SIZE });
        for (const index of acknowledged) {
          const bytes = store.get(index);
          expect(bytes, `chunk ${index} after round ${round}`).toBeDefined();
          expect(Buffer.from(bytes!).equals(Buffer.from(chunkContent(index, chunkSizeOf(index))))).toBe(true);
        }
        // A chunk committed but not yet acknowledged may be there too; nothing else may.
        expect(store.indices().every((i) => i <= next)).toBe(true);
        const report = store.verifyIntegrity();
        expect(report).toEqual({ ok: true, checked: report.checked, corrupt: [], engine: [] });
        expect(report.checked).toBeGreaterThanOrEqual(acknowledged.size);
        store.close();
      }
      expect(acknowledged.size).toBeGreaterThan(0);
    },
  );
});
