/**
 * What the validator's client API (the gateway, ../api/) asks of the storage behind it: store a
 * file's bytes erasure-coded across miners, read them back verified, list, report, delete. The
 * HTTP layer authenticates and limits; this layer decides nothing about who may do what beyond
 * ownership and visibility (a private file is seen only by its owner, a public one by everyone).
 *
 * Implemented by ./storage.ts over the validator's miners; an in-memory stand-in for the HTTP
 * layer's unit tests lives in test/support/.
 */
import { NodeError } from "../../errors.js";

/** What the HTTP layer has checked about a put before its body is read. */
export interface PutRequest {
  /** The authenticated hotkey (ss58) that owns the file. */
  owner: string;
  /** Bytes the body holds (its declared Content-Length). */
  size: number;
  /** Whether anyone may read it by CID (plaintext); otherwise only the owner (ciphertext). */
  public: boolean;
  /** Milliseconds the file is kept from now; null keeps it until removed. */
  ttlMs: number | null;
}

export interface PutOptions {
  signal?: AbortSignal;
  /**
   * Called once after the last byte of the body has been consumed and every piece is durably
   * acknowledged, before the file becomes visible: the HTTP layer checks the body's length and
   * digest here and throws to refuse. A throw (or any failure before) leaves nothing visible,
   * and the pieces already placed are freed.
   */
  beforeCommit?: () => void | Promise<void>;
  /** Bytes of the body consumed so far, for progress and metrics. */
  onProgress?: (bytes: number) => void;
}

/** Whether every stripe has its full set of pieces on distinct miners. */
export type Redundancy = "full" | "reduced";

export interface FileInfo {
  cid: string;
  owner: string;
  size: number;
  public: boolean;
  /** Unix ms. */
  createdAt: number;
  /** Unix ms, or null when kept until removed. */
  expiresAt: number | null;
  dataShards: number;
  parityShards: number;
  stripes: number;
  redundancy: Redundancy;
}

export interface PieceStatus {
  /** Shard index in its stripe: 0..k-1 data, k..k+m-1 parity. */
  shard: number;
  /** The miner holding it (hotkey, ss58), and its uid when registered. */
  miner: string;
  uid: number | null;
  /** ok: acknowledged and not known lost; lost: waiting for repair. */
  state: "ok" | "lost";
}

export interface StripeStatus {
  index: number;
  /** Data shards in this stripe (the last stripe may have fewer than k). */
  dataShards: number;
  pieces: PieceStatus[];
  /** How many more miners holding this stripe may be lost before it cannot be rebuilt. */
  margin: number;
}

export interface FileStatus extends FileInfo {
  stripesDetail: StripeStatus[];
  /** The smallest stripe margin: how many more miners may be lost before the file is. */
  health: number;
  pieces: { total: number; lost: number; repaired: number; pendingRepair: number };
}

/** A byte range of a file, inclusive start, length in bytes. */
export interface ByteRange {
  offset: number;
  length: number;
}

export interface ReadOptions {
  signal?: AbortSignal;
  range?: ByteRange;
}

/** Who asks: a hotkey (authenticated), or null for an anonymous reader (public files only). */
export type Requester = string | null;

export interface StorageService {
  /** Stores the body as a file; resolves when it is visible. See {@link PutOptions.beforeCommit}. */
  put(request: PutRequest, body: AsyncIterable<Uint8Array>, options?: PutOptions): Promise<FileInfo>;
  /** The file as the requester sees it: their own copy, else a public one; undefined when neither. */
  stat(cid: string, requester: Requester): FileInfo | undefined;
  /**
   * The file's bytes (or a range of them), each 1 MiB block verified against the CID before it
   * is yielded; a block a miner corrupts or withholds is rebuilt from the stripe's other pieces.
   * Throws FileNotFoundError when the requester cannot see the file.
   */
  read(cid: string, requester: Requester, options?: ReadOptions): AsyncIterable<Uint8Array>;
  /**
   * One block of a visible file by its own CID (a raw leaf or a dag-pb node of the file's DAG),
   * verified; undefined when no file the requester can see has it.
   */
  block(
    cid: string,
    requester: Requester,
    options?: { signal?: AbortSignal },
  ): Promise<Uint8Array | undefined>;
  /** The owner's files, newest first. */
  list(owner: string): FileInfo[];
  status(cid: string, requester: Requester): FileStatus | undefined;
  /** Deletes the owner's file: gone from listings at once, its pieces freed on the miners. */
  remove(cid: string, owner: string): boolean;
  /** What the owner stores now (visible and in-flight puts), for quotas. */
  usage(owner: string): { bytes: number; files: number };
  /** Starts background work (repair, expiry, freeing orphans); stop() ends it. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Base class of the storage layer's refusals; the HTTP layer maps each to a status. */
export class StorageError extends NodeError {
  override name = "StorageError";
}

/** No file with that CID that the requester may see (404). */
export class FileNotFoundError extends StorageError {
  override name = "FileNotFoundError";
}

/** The network cannot take the file: too few miners or too little room (507). */
export class NetworkFullError extends StorageError {
  override name = "NetworkFullError";
}

/** A file cannot be rebuilt: too many pieces lost or corrupt (503 on read). */
export class FileUnavailableError extends StorageError {
  override name = "FileUnavailableError";
}

/** A range outside the file (416). */
export class RangeNotSatisfiableError extends StorageError {
  override name = "RangeNotSatisfiableError";
  readonly size: number;
  constructor(message: string, size: number) {
    super(message);
    this.size = size;
  }
}
