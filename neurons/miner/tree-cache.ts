/**
 * The miner's Merkle trees of stored chunks, kept in memory so a one-leaf proof does not rehash
 * the whole chunk: a least-recently-used cache bounded by the bytes of the trees' levels.
 */
import { LEAF_SIZE } from "../../protocol/constants.js";
import {
  buildChunkTree,
  leafCountFor,
  type MerkleTree,
  treeFromUpperLevels,
  upperLevels,
} from "../../protocol/merkle.js";
import type { ChunkStore, StoredTreeLevels } from "./chunk-store.js";

/** Merkle trees kept in memory, in bytes (a 1 MiB chunk's tree is 64 KiB: ~1000 trees). */
export const DEFAULT_TREE_CACHE_BYTES = 64 << 20;

/**
 * Lowest tree level stored beside a chunk. From level 4 a 1 MiB chunk keeps 127 nodes (4 KiB,
 * 0.4 % of the chunk) and proving one leaf without the tree in memory reads 16 leaves (one
 * statement of the SQLite store) and hashes 31 times, instead of reading and hashing 1 MiB.
 */
export const STORED_TREE_FROM_LEVEL = 4;

/** The levels of `tree` a store keeps beside its chunk. */
export function storedLevelsOf(
  tree: MerkleTree,
  fromLevel: number = STORED_TREE_FROM_LEVEL,
): StoredTreeLevels {
  return { fromLevel, nodes: upperLevels(tree, fromLevel) };
}

/** What {@link readStoredTree} hands back: a partial tree and the challenged leaves' bytes. */
export interface StoredTreeRead {
  /** Proves the leaves asked for, and only those: never cache it. */
  tree: MerkleTree;
  /** The bytes of the leaves asked for, in their order (read with their subtrees). */
  leaves: Uint8Array[];
}

/**
 * A tree that proves the leaves at `leafIndices` of a stored chunk, rebuilt from the levels
 * stored beside it and the leaves under the challenged nodes, with those leaves' bytes (so the
 * chunk is read once); undefined when the store holds no levels for the chunk or they do not
 * match its leaves (the caller then rebuilds from the whole chunk).
 *
 * @example knownTree: (i) => trees.peek(validator, i) ?? readStoredTree(store, i, leafIndicesOf(i))?.tree
 */
export function readStoredTree(
  store: ChunkStore,
  chunkIndex: number,
  leafIndices: readonly number[],
  leafSize: number = LEAF_SIZE,
): StoredTreeRead | undefined {
  const stored = store.readTreeLevels(chunkIndex);
  if (stored === undefined) return undefined;
  const spans = new Map<number, Uint8Array>();
  const tree = treeFromUpperLevels(
    leafCountFor(stored.size, leafSize),
    stored.fromLevel,
    stored.nodes,
    leafIndices,
    (firstLeaf, count) => {
      const leaves = store.readLeaves(
        chunkIndex,
        Array.from({ length: count }, (_, i) => firstLeaf + i),
        leafSize,
      );
      if (leaves === undefined) return undefined;
      const span = Buffer.concat(leaves);
      spans.set(firstLeaf, span);
      return span;
    },
    leafSize,
  );
  if (tree === undefined) return undefined;
  const subtreeLeaves = 2 ** Math.min(stored.fromLevel, tree.levels.length - 1);
  const leaves = leafIndices.map((index) => {
    const first = index - (index % subtreeLeaves);
    const span = spans.get(first) as Uint8Array;
    const offset = (index - first) * leafSize;
    return span.subarray(offset, Math.min(offset + leafSize, span.length));
  });
  return { tree, leaves };
}

export interface TreeCache {
  /**
   * The tree of a validator's chunk whose bytes are `data`: the cached one, or one built from
   * `data` (and cached) when none is cached or the cached one has another leaf count.
   */
  treeOf(validator: string, chunkIndex: number, data: Uint8Array): MerkleTree;
  /** The cached tree of a validator's chunk, if any (marked recently used). */
  peek(validator: string, chunkIndex: number): MerkleTree | undefined;
  set(validator: string, chunkIndex: number, tree: MerkleTree): void;
  delete(validator: string, chunkIndex: number): void;
  clear(): void;
}

/**
 * @example
 * const trees = createTreeCache(DEFAULT_TREE_CACHE_BYTES);
 * answerChallenge(challenge, read, { treeOf: (i, data) => trees.treeOf(validator, i, data) });
 */
export function createTreeCache(maxBytes: number, leafSize: number = LEAF_SIZE): TreeCache {
  const entries = new Map<string, { tree: MerkleTree; bytes: number }>();
  let total = 0;
  const remove = (key: string) => {
    const entry = entries.get(key);
    if (entry === undefined) return;
    entries.delete(key);
    total -= entry.bytes;
  };
  const get = (key: string): MerkleTree | undefined => {
    const entry = entries.get(key);
    if (entry === undefined) return undefined;
    entries.delete(key);
    entries.set(key, entry);
    return entry.tree;
  };
  const put = (key: string, tree: MerkleTree): void => {
    remove(key);
    const bytes = tree.levels.reduce((sum, level) => sum + level.byteLength, 0);
    if (bytes > maxBytes) return;
    entries.set(key, { tree, bytes });
    total += bytes;
    for (const [oldest] of entries) {
      if (total <= maxBytes) break;
      remove(oldest);
    }
  };
  return {
    treeOf(validator, chunkIndex, data) {
      const key = treeKey(validator, chunkIndex);
      let tree = get(key);
      if (tree === undefined || tree.leafCount !== leafCountFor(data.length, leafSize)) {
        tree = buildChunkTree(data, leafSize);
        put(key, tree);
      }
      return tree;
    },
    peek: (validator, chunkIndex) => get(treeKey(validator, chunkIndex)),
    set: (validator, chunkIndex, tree) => put(treeKey(validator, chunkIndex), tree),
    delete: (validator, chunkIndex) => remove(treeKey(validator, chunkIndex)),
    clear() {
      entries.clear();
      total = 0;
    },
  };
}

function treeKey(validator: string, chunkIndex: number): string {
  return `${validator}/${chunkIndex}`;
}
