/**
 * Moving one piece to or from a miner: a store into a slot reserved (and recorded as pending)
 * before anything is sent, acknowledged only with the piece's own Merkle root; a retrieval
 * checked against that root, its outcome recorded for the miner's score (unless told not to).
 */
import { bytesEqual } from "../../../protocol/bytes.js";
import { chunkRoot } from "../../../protocol/merkle.js";
import { ErrorCode } from "../../../protocol/messages.js";
import { NodeError } from "../../errors.js";
import type { ValidatorDb } from "../validator-db.js";
import type { PieceRecord } from "./file-index.js";
import { type MinerLink, MinerLinkError } from "./miner-link.js";

/** How long one piece's store or retrieval may take by default (1 MiB over a slow link). */
export const PIECE_TIMEOUT_MS = 30_000;

/** A miner did not take or give back a piece: refused, full, wrong root, wrong bytes, no answer. */
export class PieceTransferError extends NodeError {
  override name = "PieceTransferError";
  readonly minerId: number;
  constructor(minerId: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.minerId = minerId;
  }
}

export interface PieceTransfer {
  /**
   * Stores `bytes` as shard `shard` of stripe `stripe` on the miner and returns the new piece's
   * id, acknowledged (still pending until its put commits or its repair completes). On any
   * failure the reserved slot is freed and {@link PieceTransferError} thrown.
   */
  store(
    minerId: number,
    piece: { fileId: number; stripe: number; shard: number },
    bytes: Uint8Array,
    signal?: AbortSignal,
  ): Promise<number>;
  /**
   * The piece's bytes, checked against its root, or with `matches` when given (a data piece is
   * a leaf, whose CID is one SHA-256 of it: a check as strong as the root's at a 2 000th of the hash
   * calls); the outcome is scored.
   */
  fetch(
    piece: PieceRecord,
    signal?: AbortSignal,
    matches?: (bytes: Uint8Array) => boolean,
  ): Promise<Uint8Array>;
}

export function createPieceTransfer(init: {
  db: ValidatorDb;
  link: MinerLink;
  timeoutMs?: number;
  /** Record each fetch's outcome for the miner's score (default true). */
  scoreRetrievals?: boolean;
  now: () => number;
}): PieceTransfer {
  const { db, link, now } = init;
  const timeoutMs = init.timeoutMs ?? PIECE_TIMEOUT_MS;
  // Unscored, a fetch still repairs what it finds wrong; it only leaves the miner's record alone.
  const recordRetrieval: MinerLink["recordRetrieval"] =
    init.scoreRetrievals === false
      ? () => undefined
      : (minerId, outcome) => link.recordRetrieval(minerId, outcome);
  const options = (signal?: AbortSignal) => ({ timeoutMs, ...(signal ? { signal } : {}) });

  return {
    async store(minerId, piece, bytes, signal) {
      let budget: number | undefined;
      try {
        budget = await link.prepare(minerId, options(signal));
      } catch (cause) {
        throw new PieceTransferError(minerId, "the miner cannot be reached", { cause });
      }
      if (budget === undefined) throw new PieceTransferError(minerId, "the miner offers no room");
      const slot = db.files.reservePieceSlot(minerId, budget, { ...piece, size: bytes.length });
      if (slot === undefined) throw new PieceTransferError(minerId, "the miner's room is full of pieces");
      try {
        const reply = await link.send(
          minerId,
          { type: "store", storeId: link.storeId, chunkIndex: slot.chunkIndex, data: bytes },
          options(signal),
        );
        if (reply.type !== "store-ack")
          throw new PieceTransferError(minerId, `store answered by ${reply.type}`);
        const root = chunkRoot(bytes, link.leafSize);
        if (reply.chunkIndex !== slot.chunkIndex || !bytesEqual(reply.root, root))
          throw new PieceTransferError(minerId, "store acknowledged with a wrong root");
        db.files.ackPiece(slot.pieceId, root);
        return slot.pieceId;
      } catch (error) {
        db.files.freePieces([slot.pieceId]);
        if (error instanceof PieceTransferError) throw error;
        throw new PieceTransferError(minerId, "the store failed", { cause: error });
      }
    },

    async fetch(piece, signal, matches) {
      const started = now();
      try {
        const reply = await link.send(
          piece.minerId,
          { type: "retrieve", storeId: link.storeId, chunkIndex: piece.chunkIndex },
          options(signal),
        );
        if (reply.type !== "retrieve-reply") {
          recordRetrieval(piece.minerId, { kind: "fail" });
          // "Not found" is the miner saying the piece is gone (or refusing to serve it, which
          // for a reader is the same): repair rebuilds it elsewhere.
          if (reply.type === "error" && reply.code === ErrorCode.NotFound)
            db.files.markPieceLost(piece.minerId, piece.chunkIndex);
          throw new PieceTransferError(piece.minerId, `retrieve answered by ${reply.type}`);
        }
        const good =
          matches !== undefined
            ? matches(reply.data)
            : piece.root !== null && bytesEqual(chunkRoot(reply.data, link.leafSize), piece.root);
        if (!good) {
          recordRetrieval(piece.minerId, { kind: "fail" });
          // Wrong bytes are proof the miner no longer holds the piece: repair rebuilds it elsewhere.
          db.files.markPieceLost(piece.minerId, piece.chunkIndex);
          throw new PieceTransferError(piece.minerId, "a piece came back with wrong bytes");
        }
        recordRetrieval(piece.minerId, { kind: "pass", latencyMs: Math.max(0, now() - started) });
        return reply.data;
      } catch (error) {
        if (error instanceof PieceTransferError) throw error;
        // The reader's own abort (it stopped reading, or another piece won) says nothing of the miner.
        if (!signal?.aborted) {
          const kind = error instanceof MinerLinkError && error.kind !== "unreachable" ? "fail" : "timeout";
          recordRetrieval(piece.minerId, { kind });
        }
        throw new PieceTransferError(piece.minerId, "the retrieval failed", { cause: error });
      }
    },
  };
}
