/**
 * A validator database holding user files for storage tests that need no miners: three miners
 * (uids 0–2) and one (1, 2) stripe per file, piece i on miner i.
 */
import { createHash } from "node:crypto";
import type { ValidatorDb } from "../../neurons/validator/validator-db.js";

/** Seeds `files` one-stripe files (`bafk-file0`, …) and returns the three miners' records. */
export function seedStripes(db: ValidatorDb, files: number) {
  const miners = [0, 1, 2].map((uid) =>
    db.upsertMiner({ hotkey: `miner${uid}`, uid, multiaddr: null, seenAt: 1 }),
  );
  for (let f = 0; f < files; f++) {
    const fileId = db.files.createPendingFile({
      owner: "owner",
      size: 10,
      public: false,
      createdAt: Date.now(),
      expiresAt: null,
      dataShards: 1,
      parityShards: 2,
    });
    for (const [shard, miner] of miners.entries()) {
      const slot = db.files.reservePieceSlot(miner.id, 64, { fileId, stripe: 0, shard, size: 10 });
      db.files.ackPiece(slot!.pieceId, new Uint8Array(createHash("sha256").update(`${f}/${shard}`).digest()));
    }
    db.files.commitFile(fileId, {
      cid: `bafk-file${f}`,
      stripes: 1,
      leaves: [{ cid: `bafk-file${f}`, size: 10 }],
      nodes: [],
    });
  }
  return miners;
}
