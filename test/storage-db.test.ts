/**
 * The gateway's file index in the validator database (real SQLite files): a version-1 file opens
 * and gains the storage tables; pieces hold their slots against the synthetic fill; a piece
 * displaces a synthetic chunk when the budget is full; freeing returns the slots; a committed
 * file survives a reopen and an uncommitted one is found as pending.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { ValidatorDb, ValidatorDbOpenError } from "../neurons/validator/validator-db.js";

const dir = mkdtempSync(join(tmpdir(), "storage-db-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
const freshPath = () => join(dir, `v${files++}`, "validator.sqlite");
const h = (label: string | number) => new Uint8Array(createHash("sha256").update(String(label)).digest());

function pendingFile(db: ValidatorDb, owner = "owner-a", createdAt = 1000) {
  return db.files.createPendingFile({
    owner,
    size: 10,
    public: false,
    createdAt,
    expiresAt: null,
    dataShards: 4,
    parityShards: 2,
  });
}

describe("file index", () => {
  it("opens a version-1 file, adds the storage tables and keeps what it held", () => {
    const path = freshPath();
    let db = ValidatorDb.open(path);
    const miner = db.upsertMiner({ hotkey: "hk", uid: 1, multiaddr: null, seenAt: 1 });
    db.putChunkRoots(miner.id, [{ chunkIndex: 0, root: h(0) }]);
    db.close();
    // Turn it back into a version-1 file: no storage tables.
    const raw = new Database(path);
    raw.exec("DROP TABLE pieces; DROP TABLE leaves; DROP TABLE dag_nodes; DROP TABLE files;");
    raw.pragma("user_version = 1");
    raw.close();

    db = ValidatorDb.open(path);
    expect(db.chunkRootCount(miner.id)).toBe(1);
    const fileId = pendingFile(db);
    expect(db.files.pendingFiles()).toEqual([fileId]);
    db.close();
    const check = new Database(path);
    expect(check.pragma("user_version", { simple: true })).toBe(2);
    check.pragma("user_version = 3");
    check.close();
    expect(() => ValidatorDb.open(path)).toThrow(ValidatorDbOpenError);
  });

  it("keeps piece slots from the fill, and displaces a synthetic chunk when the budget is full", () => {
    const db = ValidatorDb.open(freshPath());
    const miner = db.upsertMiner({ hotkey: "hk", uid: 1, multiaddr: null, seenAt: 1 });
    const fileId = pendingFile(db);
    // Synthetic chunks at 0, 1 and 3; 2 is a hole.
    db.putChunkRoots(
      miner.id,
      [0, 1, 3].map((i) => ({ chunkIndex: i, root: h(i) })),
    );
    const first = db.files.reservePieceSlot(miner.id, 6, { fileId, stripe: 0, shard: 0, size: 5 });
    expect(first).toMatchObject({ chunkIndex: 2, displaced: false });
    // The fill gets the free slots around the piece, never its slot.
    const fill = db.files.claimFillSlots(miner.id, 6, 10);
    expect(fill).toEqual([4, 5]);
    // While the fill holds 4 and 5 and the rest is full, a piece displaces a synthetic chunk.
    const second = db.files.reservePieceSlot(miner.id, 6, { fileId, stripe: 0, shard: 1, size: 5 });
    expect(second).toMatchObject({ chunkIndex: 3, displaced: true });
    expect(db.rootOf(miner.id, 3)).toBeUndefined();
    db.files.releaseFillSlots(miner.id, fill);
    db.putChunkRoots(
      miner.id,
      fill.map((i) => ({ chunkIndex: i, root: h(i) })),
    );
    // Evicted chunks are refilled first, but never one a piece holds.
    db.files.ackPiece(first!.pieceId, h("piece"));
    db.recordEvictions(miner.id, [0, 2], 1);
    expect(db.files.claimFillSlots(miner.id, 6, 10)).toEqual([0]);
    db.files.releaseFillSlots(miner.id, [0]);
    expect(db.files.pieceSizeAt(miner.id, 2)).toBe(5);
    expect(db.files.pieceSizeAt(miner.id, 1)).toBeUndefined();
    // An evicted piece is lost.
    expect(db.files.markEvictedLost()).toBe(0); // still pending: only committed pieces are lost
    // Freeing the file returns its slots (and drops the piece's root, so it is not challenged).
    db.files.deleteFile(fileId);
    expect(db.rootOf(miner.id, 2)).toBeUndefined();
    expect(db.files.claimFillSlots(miner.id, 6, 10)).toEqual([0, 2, 3]);
    db.close();
  });

  it("commits a file in one step and keeps it across a reopen; a newer copy replaces the older", () => {
    const path = freshPath();
    let db = ValidatorDb.open(path);
    const miner = db.upsertMiner({ hotkey: "hk", uid: 1, multiaddr: null, seenAt: 1 });
    const older = pendingFile(db, "owner-a", 1000);
    const slot = db.files.reservePieceSlot(miner.id, 4, { fileId: older, stripe: 0, shard: 0, size: 3 })!;
    const manifest = { cid: "bafk-one", stripes: 1, leaves: [{ cid: "bafk-one", size: 3 }], nodes: [] };
    expect(() => db.files.commitFile(older, manifest)).toThrow(/acknowledged/);
    db.files.ackPiece(slot.pieceId, h("p"));
    db.files.commitFile(older, manifest);
    expect(db.files.visibleFile("bafk-one", "owner-a", 2000)?.id).toBe(older);
    expect(db.files.visibleFile("bafk-one", "owner-b", 2000)).toBeUndefined();
    expect(db.files.visibleFile("bafk-one", null, 2000)).toBeUndefined();
    db.close();

    db = ValidatorDb.open(path);
    expect(db.files.pieces(older)).toMatchObject([{ state: "ok", chunkIndex: slot.chunkIndex }]);
    const newer = pendingFile(db, "owner-a", 3000);
    expect(db.files.usage("owner-a", 3000)).toEqual({ bytes: 20, files: 2 });
    const again = db.files.reservePieceSlot(miner.id, 4, { fileId: newer, stripe: 0, shard: 0, size: 3 })!;
    expect(again.chunkIndex).not.toBe(slot.chunkIndex);
    db.files.ackPiece(again.pieceId, h("p"));
    db.files.commitFile(newer, manifest);
    expect(db.files.file(older)).toBeUndefined();
    expect(db.files.filesOf("owner-a", 4000).map((f) => f.id)).toEqual([newer]);
    expect(db.files.leafByCid(newer, "bafk-one")).toMatchObject({ index: 0, size: 3 });
    db.close();
  });
});
