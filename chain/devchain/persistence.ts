/**
 * Optional on-disk chain (`--db file`): the head state as key/value rows plus every block, written
 * in one SQLite transaction per block, so a restarted chain resumes at its last block.
 * Historical state before the restart is not kept (queries at older blocks report it discarded).
 */

import { u8aToHex } from "@polkadot/util";
import { type Block, type Header, makeBlock } from "./block.js";
import { DevChainError } from "./errors.js";
import { Reader, Writer } from "./scale.js";

export class ChainStoreError extends DevChainError {
  override name = "ChainStoreError";
}

export interface StoredChain {
  blocks: Block[];
  state: Array<[string, Uint8Array]>;
  /** Fingerprint of the runtime that wrote the chain (metadata hash). */
  runtime: string;
}

export interface ChainStore {
  load(): StoredChain | null;
  saveBlock(block: Block, changes: ReadonlyMap<string, Uint8Array | null>, runtime: string): void;
  close(): void;
}

function encodeBody(extrinsics: readonly Uint8Array[]): Uint8Array {
  const w = new Writer();
  w.compact(extrinsics.length);
  for (const x of extrinsics) w.bytes(x);
  return w.finish();
}

function decodeBody(data: Uint8Array): Uint8Array[] {
  const r = new Reader(data);
  const n = r.compactNumber();
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const start = r.offset;
    const len = r.compactNumber();
    r.bytes(len);
    out.push(data.slice(start, r.offset));
  }
  return out;
}

function encodeHeaderRow(h: Header): Uint8Array {
  const w = new Writer();
  w.bytes(h.parentHash);
  w.uint(BigInt(h.number), 4);
  w.bytes(h.stateRoot);
  w.bytes(h.extrinsicsRoot);
  w.compact(h.digest.length);
  for (const d of h.digest) {
    w.compact(d.length);
    w.bytes(d);
  }
  return w.finish();
}

function decodeHeaderRow(data: Uint8Array): Header {
  const r = new Reader(data);
  const parentHash = r.bytes(32).slice();
  const number = Number(r.uint(4));
  const stateRoot = r.bytes(32).slice();
  const extrinsicsRoot = r.bytes(32).slice();
  const n = r.compactNumber();
  const digest: Uint8Array[] = [];
  for (let i = 0; i < n; i++) digest.push(r.bytes(r.compactNumber()).slice());
  return { parentHash, number, stateRoot, extrinsicsRoot, digest };
}

interface Statement {
  run(...args: unknown[]): unknown;
  all(...args: unknown[]): unknown[];
  get(...args: unknown[]): unknown;
}

interface Database {
  exec(sql: string): void;
  pragma(sql: string): unknown;
  prepare(sql: string): Statement;
  transaction<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void;
  close(): void;
}

/** Opens (or creates) a SQLite chain store; better-sqlite3 is loaded only when asked for. */
export async function openSqliteStore(path: string): Promise<ChainStore> {
  let db: Database;
  try {
    const mod = (await import("better-sqlite3")) as unknown as { default: new (path: string) => Database };
    db = new mod.default(path);
  } catch (e) {
    throw new ChainStoreError(`cannot open chain database ${path}`, { cause: e });
  }
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.exec(`
    CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS blocks (number INTEGER PRIMARY KEY, header BLOB NOT NULL, body BLOB NOT NULL);
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  `);
  const put = db.prepare("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)");
  const del = db.prepare("DELETE FROM kv WHERE key = ?");
  const putBlock = db.prepare("INSERT OR REPLACE INTO blocks (number, header, body) VALUES (?, ?, ?)");
  const putMeta = db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)");
  const save = db.transaction(
    (block: Block, changes: ReadonlyMap<string, Uint8Array | null>, runtime: string) => {
      for (const [k, v] of changes) {
        if (v === null) del.run(k);
        else put.run(k, Buffer.from(v));
      }
      putBlock.run(
        block.header.number,
        Buffer.from(encodeHeaderRow(block.header)),
        Buffer.from(encodeBody(block.extrinsics)),
      );
      putMeta.run("runtime", runtime);
    },
  );
  return {
    load(): StoredChain | null {
      const rows = db.prepare("SELECT number, header, body FROM blocks ORDER BY number").all() as Array<{
        number: number;
        header: Buffer;
        body: Buffer;
      }>;
      if (rows.length === 0) return null;
      const blocks = rows.map((row, i) => {
        if (row.number !== i) throw new ChainStoreError(`chain database is missing block ${i}`);
        return makeBlock(decodeHeaderRow(new Uint8Array(row.header)), decodeBody(new Uint8Array(row.body)));
      });
      for (let i = 1; i < blocks.length; i++) {
        const b = blocks[i] as Block;
        if (u8aToHex(b.header.parentHash) !== (blocks[i - 1] as Block).hashHex)
          throw new ChainStoreError(`chain database block ${i} does not extend block ${i - 1}`);
      }
      const kv = db.prepare("SELECT key, value FROM kv").all() as Array<{ key: string; value: Buffer }>;
      const meta = db.prepare("SELECT value FROM meta WHERE key = 'runtime'").get() as
        | { value: string }
        | undefined;
      return {
        blocks,
        state: kv.map((r) => [r.key, new Uint8Array(r.value)]),
        runtime: meta?.value ?? "",
      };
    },
    saveBlock(block, changes, runtime) {
      save(block, changes, runtime);
    },
    close() {
      db.close();
    },
  };
}
