import * as dagPb from "@ipld/dag-pb";
import { UnixFS } from "ipfs-unixfs";
import { importer } from "ipfs-unixfs-importer";
import { fixedSize } from "ipfs-unixfs-importer/chunker";
import { balanced } from "ipfs-unixfs-importer/layout";
import { equals } from "multiformats/bytes";
import type { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { sha256 } from "multiformats/hashes/sha2";
import { ProtocolError } from "./errors.js";

/**
 * Files are named by the CID `ipfs add --cid-version 1 --raw-leaves --chunker size-1048576`
 * (Kubo) gives the same bytes: a UnixFS file DAG, balanced layout, 174 links per node (Kubo's
 * default), leaves of exactly 1 MiB stored as raw blocks, SHA-256, CIDv1. A file of one chunk or
 * less is the raw leaf itself (`bafkrei…`). 1 MiB leaves keep each block verifiable on its own
 * and the DAG shallow (two levels cover 174 MiB, three 5 GiB).
 * https://github.com/ipfs/kubo/blob/master/docs/config.md#importcidversion
 */
export const CHUNK_BYTES = 1024 * 1024;

/** Links per interior node in the balanced layout: Kubo's `helpers.DefaultLinksPerBlock`. */
export const LINKS_PER_NODE = 174;

/**
 * The largest block `verifyBlock` will hash. A leaf is at most CHUNK_BYTES and an interior node
 * of 174 links about 8 KiB, so anything larger is hostile and is refused before any work.
 */
export const MAX_BLOCK_BYTES = CHUNK_BYTES + 64 * 1024;

/**
 * The deepest DAG the readers follow. 174^8 MiB is far beyond any file; a deeper DAG can only be
 * built to make a reader recurse, so it is refused.
 */
export const MAX_DAG_DEPTH = 8;

/** Blocks the readers fetch ahead of the one they are yielding, by default. */
export const DEFAULT_FETCH_AHEAD = 4;

/**
 * How many leaves the importer hashes at once. The importer's default (50) would hold 50 MiB of
 * leaves in flight; a few are enough to keep the cores busy.
 */
export const IMPORT_BLOCK_CONCURRENCY = 4;

/**
 * The exact importer options behind a content ID: the settings of
 * `ipfs add --cid-version 1 --raw-leaves --chunker size-1048576` (test/cid.test.ts spells them
 * out again on purpose, so a change here fails there).
 */
function contentIdImporterOptions() {
  return {
    cidVersion: 1 as const,
    rawLeaves: true,
    reduceSingleLeafToSelf: true,
    chunker: fixedSize({ chunkSize: CHUNK_BYTES }),
    layout: balanced({ maxChildrenPerNode: LINKS_PER_NODE }),
    blockWriteConcurrency: IMPORT_BLOCK_CONCURRENCY,
  };
}

/** A block's bytes do not hash to its CID, or its CID is not one we verify. */
export class BlockVerificationError extends ProtocolError {
  override name = "BlockVerificationError";
}

/** A block verified but is not a well-formed part of a UnixFS file (or is too deep). */
export class FileDagError extends ProtocolError {
  override name = "FileDagError";
}

/** A range outside the file, or a negative or fractional offset or length. */
export class ContentRangeError extends ProtocolError {
  override name = "ContentRangeError";
}

/** Receives each block as the importer makes it; the import waits for the promise. */
export type BlockSink = (cid: CID, bytes: Uint8Array) => void | Promise<void>;

/** Fetches a block's bytes by CID from anywhere (a miner, a gateway); they are verified after. */
export type BlockFetcher = (cid: CID, options: { signal?: AbortSignal }) => Promise<Uint8Array>;

export interface ReadOptions {
  signal?: AbortSignal;
  /** Blocks fetched ahead of the one being yielded (default DEFAULT_FETCH_AHEAD). */
  fetchAhead?: number;
}

/**
 * Chunks a byte stream into the content-ID DAG, hands every block to `onBlock` (each before
 * any node linking to it, so the root comes last) and returns the root CID. Nothing is kept in memory beyond the blocks in flight.
 *
 * @example
 * const root = await importFile(createReadStream(path), { onBlock: (cid, bytes) => store(cid, bytes) });
 * root.toString(); // "bafy…" or, for ≤ 1 MiB, "bafkrei…"
 */
export async function importFile(
  source: AsyncIterable<Uint8Array>,
  options: { onBlock: BlockSink },
): Promise<CID> {
  const blockstore = {
    put: async (cid: CID, bytes: Uint8Array) => {
      await options.onBlock(cid, bytes);
      return cid;
    },
  };
  let root: CID | undefined;
  for await (const entry of importer([{ content: source }], blockstore, contentIdImporterOptions()))
    root = entry.cid;
  if (root === undefined) throw new FileDagError("the importer produced no root");
  return root;
}

/**
 * Checks that `bytes` hash to `cid`: CIDv1, raw or dag-pb, SHA-256. Throws BlockVerificationError
 * otherwise, before hashing anything larger than MAX_BLOCK_BYTES.
 *
 * @example
 * verifyBlock(CID.parse("bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"), utf8("hello world\n"));
 */
export function verifyBlock(cid: CID, bytes: Uint8Array): void {
  const details = cid.toString();
  if (cid.version !== 1) throw new BlockVerificationError("only CIDv1 blocks are verified", { details });
  if (cid.code !== raw.code && cid.code !== dagPb.code) {
    throw new BlockVerificationError("a block must be raw or dag-pb", { details });
  }
  if (cid.multihash.code !== sha256.code)
    throw new BlockVerificationError("a block must be SHA-256", { details });
  if (bytes.length > MAX_BLOCK_BYTES) {
    throw new BlockVerificationError("a block is larger than MAX_BLOCK_BYTES", {
      details: `${details}: ${bytes.length} B`,
    });
  }
  const digest = sha256.digest(bytes);
  // The node build of multiformats hashes synchronously; a Promise here would mean the browser build.
  if (digest instanceof Promise) throw new BlockVerificationError("SHA-256 must hash synchronously");
  if (!equals(digest.digest, cid.multihash.digest)) {
    throw new BlockVerificationError("a block's bytes do not match its CID", { details });
  }
}

/**
 * Streams a whole file from its root CID, fetching each block through `fetchBlock` and yielding
 * leaf bytes in order only after the block (and every node above it) has been verified. A block
 * that does not match its CID stops the stream with BlockVerificationError before any of its
 * bytes are yielded.
 *
 * @example
 * for await (const bytes of readFile(root, fetchBlock)) await write(bytes);
 */
export function readFile(
  root: CID,
  fetchBlock: BlockFetcher,
  options: ReadOptions = {},
): AsyncGenerator<Uint8Array> {
  return readBlocks(root, 0, Number.POSITIVE_INFINITY, fetchBlock, options);
}

/**
 * Streams bytes [offset, offset + length) of a file, verified, fetching only the blocks that
 * cover the range (and the interior nodes above them). Ends early at the end of the file; an
 * offset past the end throws ContentRangeError.
 *
 * @example
 * for await (const bytes of readRange(root, 5 * 1024 * 1024, 100, fetchBlock)) out.push(bytes);
 */
export function readRange(
  root: CID,
  offset: number,
  length: number,
  fetchBlock: BlockFetcher,
  options: ReadOptions = {},
): AsyncGenerator<Uint8Array> {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new ContentRangeError("a range needs a non-negative integer offset and length", {
      details: `${offset}+${length}`,
    });
  }
  return readBlocks(root, offset, offset + length, fetchBlock, options);
}

interface Block {
  cid: CID;
  bytes: Uint8Array;
}

/** A node's piece of the file: its own inline data, or a child covering [start, end). */
type Part = { data: Uint8Array; start: number } | { cid: CID; start: number; end: number };

async function* readBlocks(
  root: CID,
  start: number,
  end: number,
  fetchBlock: BlockFetcher,
  options: ReadOptions,
): AsyncGenerator<Uint8Array> {
  const fetchAhead = Math.max(1, options.fetchAhead ?? DEFAULT_FETCH_AHEAD);
  const fetchVerified = async (cid: CID): Promise<Block> => {
    options.signal?.throwIfAborted();
    const bytes = await fetchBlock(cid, { signal: options.signal });
    verifyBlock(cid, bytes);
    return { cid, bytes };
  };

  const rootBlock = await fetchVerified(root);
  const size = fileSize(rootBlock);
  if (start > size || (start === size && end > start && size > 0)) {
    throw new ContentRangeError("the range starts past the end of the file", {
      details: `${start} of ${size}`,
    });
  }
  yield* readNode(rootBlock, 0, start, Math.min(end, size), 0);

  async function* readNode(
    block: Block,
    nodeStart: number,
    wantStart: number,
    wantEnd: number,
    depth: number,
  ): AsyncGenerator<Uint8Array> {
    if (depth > MAX_DAG_DEPTH)
      throw new FileDagError("the DAG is deeper than MAX_DAG_DEPTH", { details: `${block.cid}` });
    const parts = partsOf(block, nodeStart);
    const needed = parts.filter((part) => {
      const partEnd = "data" in part ? part.start + part.data.length : part.end;
      return partEnd > wantStart && part.start < wantEnd;
    });
    // Fetch a sliding window of children ahead of the one being read, in order.
    const pending: Array<Promise<Block> | undefined> = [];
    const startFetch = (index: number) => {
      const part = needed[index];
      if (part === undefined || "data" in part) return;
      const promise = fetchVerified(part.cid);
      // A prefetch the consumer never awaits (it stopped early) must not become an unhandled rejection.
      promise.catch(() => {});
      pending[index] = promise;
    };
    for (let i = 0; i < fetchAhead; i++) startFetch(i);
    for (const [index, part] of needed.entries()) {
      startFetch(index + fetchAhead);
      if ("data" in part) {
        yield* slice(part.data, part.start, wantStart, wantEnd);
        continue;
      }
      const child = await (pending[index] as Promise<Block>);
      pending[index] = undefined;
      if (child.cid.code === raw.code) {
        if (child.bytes.length !== part.end - part.start) {
          throw new FileDagError("a leaf's length differs from its parent's blockSizes", {
            details: `${child.cid}`,
          });
        }
        yield* slice(child.bytes, part.start, wantStart, wantEnd);
      } else {
        if (fileSize(child) !== part.end - part.start) {
          throw new FileDagError("a node's size differs from its parent's blockSizes", {
            details: `${child.cid}`,
          });
        }
        yield* readNode(child, part.start, wantStart, wantEnd, depth + 1);
      }
    }
  }
}

function* slice(bytes: Uint8Array, at: number, wantStart: number, wantEnd: number): Generator<Uint8Array> {
  const from = Math.max(0, wantStart - at);
  const to = Math.min(bytes.length, wantEnd - at);
  if (to > from) yield bytes.subarray(from, to);
}

function unixfsOf(block: Block): { node: dagPb.PBNode; unixfs: UnixFS } {
  let node: dagPb.PBNode;
  let unixfs: UnixFS;
  try {
    node = dagPb.decode(block.bytes);
    if (node.Data === undefined) throw new Error("no Data field");
    unixfs = UnixFS.unmarshal(node.Data);
  } catch (cause) {
    throw new FileDagError("a dag-pb block is not a UnixFS node", { cause, details: `${block.cid}` });
  }
  if (unixfs.type !== "file" && unixfs.type !== "raw") {
    throw new FileDagError("a UnixFS node is not a file", { details: `${block.cid}: ${unixfs.type}` });
  }
  if (unixfs.blockSizes.length !== node.Links.length) {
    throw new FileDagError("a file node's blockSizes and links differ in count", { details: `${block.cid}` });
  }
  return { node, unixfs };
}

function fileSize(block: Block): number {
  if (block.cid.code === raw.code) return block.bytes.length;
  return Number(unixfsOf(block).unixfs.fileSize());
}

function partsOf(block: Block, nodeStart: number): Part[] {
  if (block.cid.code === raw.code) return [{ data: block.bytes, start: nodeStart }];
  const { node, unixfs } = unixfsOf(block);
  const parts: Part[] = [];
  let at = nodeStart;
  if (unixfs.data !== undefined && unixfs.data.length > 0) {
    parts.push({ data: unixfs.data, start: at });
    at += unixfs.data.length;
  }
  for (const [index, link] of node.Links.entries()) {
    const blockSize = Number(unixfs.blockSizes[index]);
    parts.push({ cid: link.Hash, start: at, end: at + blockSize });
    at += blockSize;
  }
  return parts;
}
