/**
 * The miner's Merkle trees of stored chunks, kept in memory so a one-leaf proof does not rehash
 * the whole chunk: a least-recently-used cache bounded by the bytes of the trees' levels.
 */
import { LEAF_SIZE } from "../../protocol/constants.js";
import { buildChunkTree, leafCountFor, type MerkleTree } from "../../protocol/merkle.js";

/** Merkle trees kept in memory, in bytes (a 1 MiB chunk's tree is 64 KiB: ~1000 trees). */
export const DEFAULT_TREE_CACHE_BYTES = 64 << 20;

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
