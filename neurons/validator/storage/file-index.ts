/**
 * The gateway's index of user files, in the validator's own SQLite file (../validator-db.ts opens
 * it and adds these tables in schema version 2): each file's manifest (owner, size, visibility,
 * expiry, k and m), its interior DAG nodes (kept here, a few KiB each), its leaves (CID → index,
 * so a block can be found by its own CID) and its pieces (stripe, shard, the miner and chunk
 * index holding it, the piece's Merkle root, its state).
 *
 * Slots: a piece occupies one chunk index of the validator's store on a miner, the same space as
 * the synthetic fill. A `pieces` row holds its slot from the moment it is reserved (state
 * `pending`, written before the store is sent), so neither fill nor another put can take it; a
 * slot the fill is writing is claimed in memory ({@link FileIndex.claimFillSlots}) for the same
 * reason. Freeing a piece deletes its row and its chunk root: the slot is then free, and the
 * fill overwrites the user bytes on the miner with synthetic ones (that is the deletion).
 *
 * Every write is one transaction through the database's durable writer (WAL, synchronous FULL).
 */
import type Database from "better-sqlite3";
import { HASH_LENGTH } from "../../../protocol/constants.js";
import { NodeError } from "../../errors.js";

/** A file-index write that does not fit the index's state (a bug in the caller, not bad input). */
export class FileIndexError extends NodeError {
  override name = "FileIndexError";
}

/** The storage tables (schema version 2). */
export const STORAGE_SCHEMA = `
CREATE TABLE IF NOT EXISTS files (
  id INTEGER PRIMARY KEY,
  cid TEXT,
  owner TEXT NOT NULL,
  size INTEGER NOT NULL,
  public INTEGER NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'stored')),
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  data_shards INTEGER NOT NULL,
  parity_shards INTEGER NOT NULL,
  stripes INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS files_by_cid ON files (cid);
CREATE INDEX IF NOT EXISTS files_by_owner ON files (owner, created_at);
CREATE INDEX IF NOT EXISTS files_by_expiry ON files (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS dag_nodes (
  file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
  cid TEXT NOT NULL,
  bytes BLOB NOT NULL,
  PRIMARY KEY (file_id, cid)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dag_nodes_by_cid ON dag_nodes (cid);
CREATE TABLE IF NOT EXISTS leaves (
  file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
  leaf_index INTEGER NOT NULL,
  cid TEXT NOT NULL,
  size INTEGER NOT NULL,
  PRIMARY KEY (file_id, leaf_index)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS leaves_by_cid ON leaves (cid);
CREATE TABLE IF NOT EXISTS pieces (
  id INTEGER PRIMARY KEY,
  file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
  stripe INTEGER NOT NULL,
  shard INTEGER NOT NULL,
  miner_id INTEGER NOT NULL REFERENCES miners(id) ON DELETE CASCADE,
  chunk_index INTEGER NOT NULL,
  size INTEGER NOT NULL,
  root BLOB,
  state TEXT NOT NULL CHECK (state IN ('pending', 'ok', 'lost')),
  repaired INTEGER NOT NULL DEFAULT 0,
  UNIQUE (miner_id, chunk_index)
);
CREATE INDEX IF NOT EXISTS pieces_by_file ON pieces (file_id, stripe, shard);
CREATE INDEX IF NOT EXISTS pieces_by_state ON pieces (state);
`;

export interface FileRecord {
  id: number;
  /** Null while the put is in flight. */
  cid: string | null;
  owner: string;
  size: number;
  public: boolean;
  state: "pending" | "stored";
  createdAt: number;
  expiresAt: number | null;
  dataShards: number;
  parityShards: number;
  stripes: number;
}

export interface LeafRecord {
  fileId: number;
  index: number;
  cid: string;
  size: number;
}

export type PieceState = "pending" | "ok" | "lost";

export interface PieceRecord {
  id: number;
  fileId: number;
  stripe: number;
  shard: number;
  minerId: number;
  chunkIndex: number;
  size: number;
  root: Uint8Array | null;
  state: PieceState;
  repaired: number;
}

/** A slot reserved for a piece: its row id and the chunk index on the miner. */
export interface ReservedSlot {
  pieceId: number;
  chunkIndex: number;
  /** True when a synthetic chunk was given up for it. */
  displaced: boolean;
}

/** A stripe with pieces to rebuild, and how close it is to being lost. */
export interface EndangeredStripe {
  fileId: number;
  stripe: number;
  /** Good pieces minus the data shards the stripe needs: the smaller, the more urgent. */
  margin: number;
}

interface FileRow {
  id: number;
  cid: string | null;
  owner: string;
  size: number;
  public: number;
  state: "pending" | "stored";
  created_at: number;
  expires_at: number | null;
  data_shards: number;
  parity_shards: number;
  stripes: number;
}

interface PieceRow {
  id: number;
  file_id: number;
  stripe: number;
  shard: number;
  miner_id: number;
  chunk_index: number;
  size: number;
  root: Buffer | null;
  state: PieceState;
  repaired: number;
}

function toFile(row: FileRow): FileRecord {
  return {
    id: row.id,
    cid: row.cid,
    owner: row.owner,
    size: row.size,
    public: row.public === 1,
    state: row.state,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    dataShards: row.data_shards,
    parityShards: row.parity_shards,
    stripes: row.stripes,
  };
}

function toPiece(row: PieceRow): PieceRecord {
  return {
    id: row.id,
    fileId: row.file_id,
    stripe: row.stripe,
    shard: row.shard,
    minerId: row.miner_id,
    chunkIndex: row.chunk_index,
    size: row.size,
    root: row.root === null ? null : new Uint8Array(row.root),
    state: row.state,
    repaired: row.repaired,
  };
}

/** Runs `fn` in one durable (immediate) transaction. */
export type Writer = <T>(fn: () => T) => T;

type Statement = Database.Statement<unknown[], unknown>;

function prepareStatements(db: Database.Database) {
  const prepare = (sql: string): Statement => db.prepare(sql);
  // A file is visible while stored and not expired.
  const visible = "state = 'stored' AND (expires_at IS NULL OR expires_at > ?)";
  return {
    insertFile: prepare(
      `INSERT INTO files (owner, size, public, state, created_at, expires_at, data_shards, parity_shards)
       VALUES (?, ?, ?, 'pending', ?, ?, ?, ?)`,
    ),
    fileById: prepare("SELECT * FROM files WHERE id = ?"),
    ownFile: prepare(
      `SELECT * FROM files WHERE cid = ? AND owner = ? AND ${visible} ORDER BY created_at DESC, id DESC LIMIT 1`,
    ),
    publicFile: prepare(
      `SELECT * FROM files WHERE cid = ? AND public = 1 AND ${visible} ORDER BY created_at, id LIMIT 1`,
    ),
    storedOfOwner: prepare(
      "SELECT id FROM files WHERE cid = ? AND owner = ? AND state = 'stored' AND id <> ?",
    ).pluck(),
    filesOf: prepare(`SELECT * FROM files WHERE owner = ? AND ${visible} ORDER BY created_at DESC, id DESC`),
    usage: prepare(
      `SELECT COALESCE(SUM(size), 0) AS bytes, COUNT(*) AS files FROM files
       WHERE owner = ? AND (state = 'pending' OR ${visible})`,
    ),
    commitFile: prepare("UPDATE files SET state = 'stored', cid = ?, stripes = ? WHERE id = ?"),
    deleteFile: prepare("DELETE FROM files WHERE id = ?"),
    expired: prepare("SELECT id FROM files WHERE expires_at IS NOT NULL AND expires_at <= ? LIMIT ?").pluck(),
    pendingFiles: prepare("SELECT id FROM files WHERE state = 'pending'").pluck(),
    storedFiles: prepare(
      "SELECT COUNT(*) AS files, COALESCE(SUM(size), 0) AS bytes FROM files WHERE state = 'stored'",
    ),
    insertNode: prepare("INSERT OR IGNORE INTO dag_nodes (file_id, cid, bytes) VALUES (?, ?, ?)"),
    node: prepare("SELECT bytes FROM dag_nodes WHERE file_id = ? AND cid = ?").pluck(),
    filesWithNode: prepare("SELECT file_id FROM dag_nodes WHERE cid = ?").pluck(),
    insertLeaf: prepare("INSERT INTO leaves (file_id, leaf_index, cid, size) VALUES (?, ?, ?, ?)"),
    leaf: prepare("SELECT * FROM leaves WHERE file_id = ? AND leaf_index = ?"),
    leafByCid: prepare("SELECT * FROM leaves WHERE file_id = ? AND cid = ? ORDER BY leaf_index LIMIT 1"),
    filesWithLeaf: prepare("SELECT DISTINCT file_id FROM leaves WHERE cid = ?").pluck(),
    stripeLeaves: prepare(
      "SELECT * FROM leaves WHERE file_id = ? AND leaf_index >= ? AND leaf_index < ? ORDER BY leaf_index",
    ),
    insertPiece: prepare(
      `INSERT INTO pieces (file_id, stripe, shard, miner_id, chunk_index, size, state)
       VALUES (?, ?, ?, ?, ?, ?, 'pending')`,
    ),
    pieceById: prepare("SELECT * FROM pieces WHERE id = ?"),
    piecesOfFile: prepare("SELECT * FROM pieces WHERE file_id = ? ORDER BY stripe, shard, id"),
    piecesOfStripe: prepare("SELECT * FROM pieces WHERE file_id = ? AND stripe = ? ORDER BY shard, id"),
    pieceAt: prepare("SELECT * FROM pieces WHERE miner_id = ? AND chunk_index = ?"),
    ackPiece: prepare("UPDATE pieces SET root = ? WHERE id = ?"),
    putRoot: prepare("INSERT OR REPLACE INTO chunk_roots (miner_id, chunk_index, root) VALUES (?, ?, ?)"),
    deleteRoot: prepare("DELETE FROM chunk_roots WHERE miner_id = ? AND chunk_index = ?"),
    clearEvicted: prepare("DELETE FROM evicted_chunks WHERE miner_id = ? AND chunk_index = ?"),
    deletePiece: prepare("DELETE FROM pieces WHERE id = ?"),
    unackedPieces: prepare("SELECT COUNT(*) FROM pieces WHERE file_id = ? AND root IS NULL").pluck(),
    setFilePiecesOk: prepare("UPDATE pieces SET state = 'ok' WHERE file_id = ? AND state = 'pending'"),
    markLost: prepare(
      "UPDATE pieces SET state = 'lost' WHERE miner_id = ? AND chunk_index = ? AND state = 'ok'",
    ),
    markMinerLost: prepare("UPDATE pieces SET state = 'lost' WHERE miner_id = ? AND state = 'ok'"),
    markEvictedLost: prepare(
      `UPDATE pieces SET state = 'lost' WHERE state = 'ok' AND EXISTS (SELECT 1 FROM evicted_chunks e
         WHERE e.miner_id = pieces.miner_id AND e.chunk_index = pieces.chunk_index)`,
    ),
    completeRepair: prepare("UPDATE pieces SET state = 'ok', repaired = ? WHERE id = ?"),
    pendingOfStored: prepare(
      "SELECT p.id FROM pieces p JOIN files f ON f.id = p.file_id WHERE p.state = 'pending' AND f.state = 'stored'",
    ).pluck(),
    lostPieces: prepare("SELECT * FROM pieces WHERE state = 'lost' ORDER BY id"),
    minersHolding: prepare("SELECT DISTINCT miner_id FROM pieces").pluck(),
    pieceCounts: prepare("SELECT state, COUNT(*) AS n FROM pieces GROUP BY state"),
    repairedTotal: prepare("SELECT COALESCE(SUM(repaired), 0) FROM pieces").pluck(),
    piecesOnMiner: prepare("SELECT COUNT(*) FROM pieces WHERE miner_id = ?").pluck(),
    lostStripes: prepare(
      `SELECT p.file_id AS fileId, p.stripe AS stripe,
              SUM(p.state = 'ok') - MIN(f.data_shards, (SELECT COUNT(*) FROM leaves l WHERE l.file_id = p.file_id
                AND l.leaf_index >= p.stripe * f.data_shards AND l.leaf_index < (p.stripe + 1) * f.data_shards)) AS margin
       FROM pieces p JOIN files f ON f.id = p.file_id
       WHERE f.state = 'stored' AND EXISTS (SELECT 1 FROM pieces q WHERE q.file_id = p.file_id
         AND q.stripe = p.stripe AND q.state = 'lost')
       GROUP BY p.file_id, p.stripe ORDER BY margin, p.file_id, p.stripe LIMIT ?`,
    ),
    occupiedBelow: prepare(
      `SELECT chunk_index FROM chunk_roots WHERE miner_id = ? AND chunk_index < ?
       UNION SELECT chunk_index FROM pieces WHERE miner_id = ? AND chunk_index < ? ORDER BY 1`,
    ).pluck(),
    evictedFree: prepare(
      `SELECT e.chunk_index FROM evicted_chunks e WHERE e.miner_id = ? AND e.chunk_index < ?
         AND NOT EXISTS (SELECT 1 FROM pieces p WHERE p.miner_id = e.miner_id AND p.chunk_index = e.chunk_index)
       ORDER BY e.chunk_index LIMIT ?`,
    ).pluck(),
    // A synthetic chunk to give up for a piece: an evicted one first (it holds nothing), then the newest.
    synthetic: prepare(
      `SELECT r.chunk_index FROM chunk_roots r WHERE r.miner_id = ?
         AND NOT EXISTS (SELECT 1 FROM pieces p WHERE p.miner_id = r.miner_id AND p.chunk_index = r.chunk_index)
       ORDER BY EXISTS (SELECT 1 FROM evicted_chunks e WHERE e.miner_id = r.miner_id AND e.chunk_index = r.chunk_index) DESC,
         r.chunk_index DESC LIMIT ?`,
    ).pluck(),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

/**
 * Files, leaves, DAG nodes and pieces in the validator database.
 *
 * @example
 * const fileId = db.files.createPendingFile({ owner, size, public: false, createdAt: now, expiresAt: null, dataShards: 4, parityShards: 2 });
 * const slot = db.files.reservePieceSlot(minerId, budget, { fileId, stripe: 0, shard: 0, size });
 */
export class FileIndex {
  readonly #q: () => Statements;
  readonly #write: Writer;
  /** Slots the fill is writing now, per miner: never reserved for a piece meanwhile. */
  readonly #filling = new Map<number, Set<number>>();
  /** Pieces turned from ok to lost since this index was opened (see {@link markedLostTotal}). */
  #markedLost = 0;

  constructor(db: Database.Database, write: Writer, assertOpen: () => void) {
    const statements = prepareStatements(db);
    this.#q = () => {
      assertOpen();
      return statements;
    };
    this.#write = write;
  }

  // Files

  /** Records a put before any piece is sent: counted in usage, freed at restart if never committed. */
  createPendingFile(init: {
    owner: string;
    size: number;
    public: boolean;
    createdAt: number;
    expiresAt: number | null;
    dataShards: number;
    parityShards: number;
  }): number {
    return this.#write(
      () =>
        this.#q().insertFile.run(
          init.owner,
          init.size,
          init.public ? 1 : 0,
          init.createdAt,
          init.expiresAt,
          init.dataShards,
          init.parityShards,
        ).lastInsertRowid as number,
    );
  }

  file(fileId: number): FileRecord | undefined {
    const row = this.#q().fileById.get(fileId) as FileRow | undefined;
    return row === undefined ? undefined : toFile(row);
  }

  /** The file the requester sees under `cid` at `now`: their own, else a public one. */
  visibleFile(cid: string, requester: string | null, now: number): FileRecord | undefined {
    const q = this.#q();
    const own = requester === null ? undefined : (q.ownFile.get(cid, requester, now) as FileRow | undefined);
    const row = own ?? (q.publicFile.get(cid, now) as FileRow | undefined);
    return row === undefined ? undefined : toFile(row);
  }

  filesOf(owner: string, now: number): FileRecord[] {
    return (this.#q().filesOf.all(owner, now) as FileRow[]).map(toFile);
  }

  usage(owner: string, now: number): { bytes: number; files: number } {
    return this.#q().usage.get(owner, now) as { bytes: number; files: number };
  }

  /** Files visible or not, stored: for metrics. */
  storedTotals(): { files: number; bytes: number } {
    return this.#q().storedFiles.get() as { files: number; bytes: number };
  }

  /**
   * Makes a put visible, in one transaction: its leaves and DAG nodes are written, its pieces
   * become `ok`, and an earlier copy of the same CID by the same owner is dropped (its pieces
   * freed). Throws when a piece was never acknowledged. Returns the freed slots.
   */
  commitFile(
    fileId: number,
    manifest: {
      cid: string;
      stripes: number;
      leaves: readonly { cid: string; size: number }[];
      nodes: readonly { cid: string; bytes: Uint8Array }[];
    },
  ): void {
    this.#write(() => {
      const q = this.#q();
      const file = q.fileById.get(fileId) as FileRow | undefined;
      if (file === undefined || file.state !== "pending")
        throw new FileIndexError(`no pending file ${fileId}`);
      if ((q.unackedPieces.get(fileId) as number) > 0)
        throw new FileIndexError("a piece was never acknowledged");
      manifest.leaves.forEach((leaf, index) => {
        q.insertLeaf.run(fileId, index, leaf.cid, leaf.size);
      });
      for (const node of manifest.nodes) q.insertNode.run(fileId, node.cid, Buffer.from(node.bytes));
      q.setFilePiecesOk.run(fileId);
      q.commitFile.run(manifest.cid, manifest.stripes, fileId);
      for (const older of q.storedOfOwner.all(manifest.cid, file.owner, fileId) as number[])
        this.#deleteFile(older);
    });
  }

  /** Deletes a file (pending or stored) and frees its pieces' slots. Returns whether it was there. */
  deleteFile(fileId: number): boolean {
    return this.#write(() => this.#deleteFile(fileId));
  }

  #deleteFile(fileId: number): boolean {
    const q = this.#q();
    for (const piece of q.piecesOfFile.all(fileId) as PieceRow[]) this.#freePiece(piece);
    return q.deleteFile.run(fileId).changes > 0;
  }

  /** Expired files, up to `limit`. */
  expiredFiles(now: number, limit: number): number[] {
    return this.#q().expired.all(now, limit) as number[];
  }

  /** Files whose put never committed. Only meaningful when no put is in flight (at start). */
  pendingFiles(): number[] {
    return this.#q().pendingFiles.all() as number[];
  }

  // Blocks

  leaf(fileId: number, index: number): LeafRecord | undefined {
    const row = this.#q().leaf.get(fileId, index) as
      | { file_id: number; leaf_index: number; cid: string; size: number }
      | undefined;
    return row === undefined ? undefined : { fileId, index: row.leaf_index, cid: row.cid, size: row.size };
  }

  leafByCid(fileId: number, cid: string): LeafRecord | undefined {
    const row = this.#q().leafByCid.get(fileId, cid) as
      | { leaf_index: number; cid: string; size: number }
      | undefined;
    return row === undefined ? undefined : { fileId, index: row.leaf_index, cid: row.cid, size: row.size };
  }

  /** Leaves [from, to) of a file, by index. */
  leaves(fileId: number, from: number, to: number): LeafRecord[] {
    return (
      this.#q().stripeLeaves.all(fileId, from, to) as { leaf_index: number; cid: string; size: number }[]
    ).map((row) => ({ fileId, index: row.leaf_index, cid: row.cid, size: row.size }));
  }

  dagNode(fileId: number, cid: string): Uint8Array | undefined {
    const bytes = this.#q().node.get(fileId, cid) as Buffer | undefined;
    return bytes === undefined ? undefined : new Uint8Array(bytes);
  }

  /** Files holding a block with this CID (as a leaf or a DAG node), visible or not. */
  filesWithBlock(cid: string): number[] {
    const q = this.#q();
    return [
      ...new Set([...(q.filesWithNode.all(cid) as number[]), ...(q.filesWithLeaf.all(cid) as number[])]),
    ];
  }

  // Pieces and slots

  pieces(fileId: number): PieceRecord[] {
    return (this.#q().piecesOfFile.all(fileId) as PieceRow[]).map(toPiece);
  }

  stripePieces(fileId: number, stripe: number): PieceRecord[] {
    return (this.#q().piecesOfStripe.all(fileId, stripe) as PieceRow[]).map(toPiece);
  }

  piece(pieceId: number): PieceRecord | undefined {
    const row = this.#q().pieceById.get(pieceId) as PieceRow | undefined;
    return row === undefined ? undefined : toPiece(row);
  }

  /** The piece in a slot, if one holds it. */
  pieceAt(minerId: number, chunkIndex: number): PieceRecord | undefined {
    const row = this.#q().pieceAt.get(minerId, chunkIndex) as PieceRow | undefined;
    return row === undefined ? undefined : toPiece(row);
  }

  /** Pieces (any state) held on a miner: how much of its room user data takes. */
  piecesOnMiner(minerId: number): number {
    return this.#q().piecesOnMiner.get(minerId) as number;
  }

  /**
   * Reserves a slot on a miner for a piece and records the piece as pending, in one transaction,
   * before anything is sent: the lowest free index below `budget` (not holding a chunk or piece,
   * not being filled), else one of our synthetic chunks there, whose root is dropped so it is not
   * challenged while it is being replaced. Undefined when every slot holds a piece.
   */
  reservePieceSlot(
    minerId: number,
    budget: number,
    piece: { fileId: number; stripe: number; shard: number; size: number },
  ): ReservedSlot | undefined {
    return this.#write(() => {
      const q = this.#q();
      const filling = this.#filling.get(minerId);
      let chunkIndex = this.#freeSlots(minerId, budget, 1)[0];
      let displaced = false;
      if (chunkIndex === undefined) {
        const candidates = q.synthetic.all(minerId, (filling?.size ?? 0) + 1) as number[];
        chunkIndex = candidates.find((index) => !filling?.has(index));
        if (chunkIndex === undefined) return undefined;
        q.deleteRoot.run(minerId, chunkIndex);
        q.clearEvicted.run(minerId, chunkIndex);
        displaced = true;
      }
      const pieceId = q.insertPiece.run(
        piece.fileId,
        piece.stripe,
        piece.shard,
        minerId,
        chunkIndex,
        piece.size,
      ).lastInsertRowid as number;
      return { pieceId, chunkIndex, displaced };
    });
  }

  /** Free indices below `bound`, ascending: holding no chunk or piece and not being filled. */
  #freeSlots(minerId: number, bound: number, limit: number): number[] {
    const occupied = new Set(this.#q().occupiedBelow.all(minerId, bound, minerId, bound) as number[]);
    const filling = this.#filling.get(minerId);
    const free: number[] = [];
    for (let index = 0; index < bound && free.length < limit; index++) {
      if (!occupied.has(index) && !filling?.has(index)) free.push(index);
    }
    return free;
  }

  /**
   * Records a miner's acknowledgement of a piece: its root is kept, and the slot's chunk root is
   * set so the piece is challenged like any chunk. The piece stays pending until its put commits
   * (or its repair completes).
   */
  ackPiece(pieceId: number, root: Uint8Array): void {
    if (root.length !== HASH_LENGTH) throw new FileIndexError(`a root is ${HASH_LENGTH} bytes`);
    this.#write(() => {
      const q = this.#q();
      const piece = q.pieceById.get(pieceId) as PieceRow | undefined;
      if (piece === undefined) throw new FileIndexError(`no piece ${pieceId}`);
      const bytes = Buffer.from(root);
      q.ackPiece.run(bytes, pieceId);
      q.putRoot.run(piece.miner_id, piece.chunk_index, bytes);
      q.clearEvicted.run(piece.miner_id, piece.chunk_index);
    });
  }

  /** Frees pieces: their rows and chunk roots go, so the fill reuses the slots. */
  freePieces(pieceIds: readonly number[]): void {
    this.#write(() => {
      for (const id of pieceIds) {
        const row = this.#q().pieceById.get(id) as PieceRow | undefined;
        if (row !== undefined) this.#freePiece(row);
      }
    });
  }

  #freePiece(piece: PieceRow): void {
    const q = this.#q();
    q.deleteRoot.run(piece.miner_id, piece.chunk_index);
    q.clearEvicted.run(piece.miner_id, piece.chunk_index);
    q.deletePiece.run(piece.id);
  }

  /**
   * Completes a repair in one transaction: the new piece becomes `ok` with the old one's repair
   * count plus one, and the lost piece is freed.
   */
  completeRepair(lostPieceId: number, newPieceId: number): void {
    this.#write(() => {
      const q = this.#q();
      const lost = q.pieceById.get(lostPieceId) as PieceRow | undefined;
      const fresh = q.pieceById.get(newPieceId) as PieceRow | undefined;
      if (fresh === undefined || fresh.root === null)
        throw new FileIndexError(`piece ${newPieceId} is not acknowledged`);
      q.completeRepair.run((lost?.repaired ?? 0) + 1, newPieceId);
      if (lost !== undefined) this.#freePiece(lost);
    });
  }

  /** Marks the piece in a slot lost (a failed challenge on it). Returns whether one was. */
  markPieceLost(minerId: number, chunkIndex: number): boolean {
    return this.#counted(this.#write(() => this.#q().markLost.run(minerId, chunkIndex).changes)) > 0;
  }

  /** Marks every ok piece on a miner lost (deregistered, or offline past its grace). */
  markMinerLost(minerId: number): number {
    return this.#counted(this.#write(() => this.#q().markMinerLost.run(minerId).changes));
  }

  /** Marks lost the pieces whose chunks their miners reported evicted. */
  markEvictedLost(): number {
    return this.#counted(this.#write(() => this.#q().markEvictedLost.run().changes));
  }

  /**
   * Pieces marked lost since this index was opened, by any of the marks above (a challenge or a
   * read that found the piece gone or wrong, an eviction report, a miner gone or offline past its
   * grace). Each piece counts once: only an `ok` piece can be marked, and a lost piece never turns
   * `ok` again (its repair is a new piece).
   */
  markedLostTotal(): number {
    return this.#markedLost;
  }

  #counted(changes: number): number {
    this.#markedLost += changes;
    return changes;
  }

  /** Pieces in state `lost` (awaiting repair), by id. */
  lostPieces(): PieceRecord[] {
    return (this.#q().lostPieces.all() as PieceRow[]).map(toPiece);
  }

  /** Miners holding any piece. */
  minersHoldingPieces(): number[] {
    return this.#q().minersHolding.all() as number[];
  }

  /** Stripes with lost pieces, most endangered (smallest margin) first. */
  endangeredStripes(limit: number): EndangeredStripe[] {
    return this.#q().lostStripes.all(limit) as EndangeredStripe[];
  }

  /**
   * Pending pieces of committed files: repairs a crash interrupted. Freed at start, when no
   * repair is in flight.
   */
  orphanRepairPieces(): number[] {
    return this.#q().pendingOfStored.all() as number[];
  }

  pieceTotals(): { pending: number; ok: number; lost: number; repaired: number } {
    const q = this.#q();
    const totals = { pending: 0, ok: 0, lost: 0, repaired: q.repairedTotal.get() as number };
    for (const row of q.pieceCounts.all() as { state: PieceState; n: number }[]) totals[row.state] = row.n;
    return totals;
  }

  /** The size of the piece in a slot, or undefined for a synthetic chunk (a challenge's leaf count). */
  pieceSizeAt(minerId: number, chunkIndex: number): number | undefined {
    return this.pieceAt(minerId, chunkIndex)?.size;
  }

  // The fill

  /**
   * Slots the fill may write on a miner, claimed until {@link releaseFillSlots}: evicted chunks
   * holding no piece first, then the lowest indices below `budget` holding neither a chunk nor a
   * piece. Never a slot held or reserved by a piece.
   */
  claimFillSlots(minerId: number, budget: number, limit: number): number[] {
    const q = this.#q();
    const claimed = this.#filling.get(minerId) ?? new Set<number>();
    const slots = (q.evictedFree.all(minerId, budget, limit + claimed.size) as number[])
      .filter((index) => !claimed.has(index))
      .slice(0, limit);
    if (slots.length < limit) slots.push(...this.#freeSlots(minerId, budget, limit - slots.length));
    for (const index of slots) claimed.add(index);
    if (claimed.size > 0) this.#filling.set(minerId, claimed);
    return slots;
  }

  releaseFillSlots(minerId: number, slots: readonly number[]): void {
    const claimed = this.#filling.get(minerId);
    if (claimed === undefined) return;
    for (const index of slots) claimed.delete(index);
    if (claimed.size === 0) this.#filling.delete(minerId);
  }
}
