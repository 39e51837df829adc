/**
 * Binary SHA-256 Merkle trees over the leaves of a chunk.
 *
 * Hashing is domain-separated by a one-byte tag, so no hash of one kind can stand in for another:
 *
 *   leaf of a chunk        H(0x00 || leafBytes)
 *   inner node             H(0x01 || left || right)
 *   chunk root (sealed)    H(0x03 || u64be(leafCount) || top)
 *
 * Tags 0x02 and 0x04 belonged to a tree over a store's chunk roots, which nothing used; they stay
 * retired rather than taken for something else.
 *
 * Odd node counts: the last node of a level with an odd count is promoted unchanged to the next
 * level (it is never paired with a copy of itself), so the duplicate-last-node ambiguity of
 * Bitcoin-style trees (CVE-2012-2459: [a, b, c] and [a, b, c, c] share a root) cannot arise.
 * The tree's shape follows from its leaf count alone, and the root seals that count in
 * (the `0x03` step), so a proof cannot claim another leaf count — and with it another
 * shape, which would let a leaf pass under another index — for the same root. This also makes
 * {@link verifyMultiProof} safe to call with nothing but a root: the verifier need not know the
 * chunk's length.
 *
 * Whole trees ({@link buildChunkTree}, {@link chunkRoot}) are built by the native addon of
 * protocol/merkle-native.ts when it loaded: one call per tree instead of one per hash, the same
 * bytes ({@link merkleImplementation} says which builder runs). Otherwise, and for single hashes
 * and proofs, hashing uses node:crypto's one-shot `hash()` (Node ≥ 20.12), which measured ~1.4×
 * faster per 1 KiB leaf than `createHash().update().digest()` and 10× faster than @noble/hashes
 * here; each leaf is copied once into a reusable scratch buffer behind its tag byte instead of
 * concatenated.
 */
import { hash } from "node:crypto";
import { bytesEqual } from "./bytes.js";
import { HASH_LENGTH, LEAF_SIZE } from "./constants.js";
import { ProtocolError } from "./errors.js";
import {
  loadNativeMerkle,
  MERKLE_IMPLEMENTATION_ENV,
  MerkleImplementationError,
  type NativeMerkle,
} from "./merkle-native.js";
import type { MerkleMultiProof } from "./types.js";

/** Domain tags; see the module comment. */
export const LEAF_TAG = 0x00;
export const NODE_TAG = 0x01;
export const CHUNK_SEAL_TAG = 0x03;

/** A chunk was empty: a chunk has at least one byte, hence at least one leaf. */
export class EmptyChunkError extends ProtocolError {
  override name = "EmptyChunkError";
}

/** A leaf size that is not a positive integer. */
export class InvalidLeafSizeError extends ProtocolError {
  override name = "InvalidLeafSizeError";
  readonly leafSize: number;
  constructor(leafSize: number, options?: { cause?: unknown }) {
    super(`leaf size must be a positive integer, got ${leafSize}`, options);
    this.leafSize = leafSize;
  }
}

/** Leaf indices asked of a prover that are empty, unsorted, duplicated or out of range. */
export class LeafIndexError extends ProtocolError {
  override name = "LeafIndexError";
}

/**
 * A built tree. `levels[0]` holds the leaf hashes and each further level the nodes above it, each
 * level packed into one array of `count × 32` bytes; the last level holds the single top node.
 * `root` is the sealed root (top node and leaf count hashed together), the value to commit to.
 */
export interface MerkleTree {
  leafCount: number;
  levels: Uint8Array[];
  root: Uint8Array;
}

function sha256(data: Uint8Array): Buffer {
  return hash("sha256", data, "buffer");
}

function assertLeafSize(leafSize: number): void {
  if (!Number.isSafeInteger(leafSize) || leafSize < 1) throw new InvalidLeafSizeError(leafSize);
}

/**
 * Hash of one leaf of a chunk: `H(0x00 || bytes)`.
 *
 * @example hashLeaf(leafAt(chunk, 3)) // 32 bytes
 */
export function hashLeaf(bytes: Uint8Array): Uint8Array {
  const input = new Uint8Array(1 + bytes.length);
  input[0] = LEAF_TAG;
  input.set(bytes, 1);
  return new Uint8Array(sha256(input));
}

/**
 * Hash of an inner node: `H(0x01 || left || right)`.
 *
 * @example hashNode(hashLeaf(a), hashLeaf(b))
 */
export function hashNode(left: Uint8Array, right: Uint8Array): Uint8Array {
  const input = new Uint8Array(1 + left.length + right.length);
  input[0] = NODE_TAG;
  input.set(left, 1);
  input.set(right, 1 + left.length);
  return new Uint8Array(sha256(input));
}

function seal(tag: number, leafCount: number, top: Uint8Array): Uint8Array {
  const input = new Uint8Array(1 + 8 + HASH_LENGTH);
  input[0] = tag;
  const view = new DataView(input.buffer);
  view.setUint32(1, Math.floor(leafCount / 2 ** 32));
  view.setUint32(5, leafCount >>> 0);
  input.set(top, 9);
  return new Uint8Array(sha256(input));
}

/**
 * Number of leaves of a chunk of `byteLength` bytes: `ceil(byteLength / leafSize)`; the last leaf
 * may be short.
 *
 * @example leafCountFor(CHUNK_SIZE, LEAF_SIZE) // 1024
 */
export function leafCountFor(byteLength: number, leafSize: number = LEAF_SIZE): number {
  assertLeafSize(leafSize);
  if (!Number.isSafeInteger(byteLength) || byteLength < 0) {
    throw new RangeError(`byte length must be a non-negative integer, got ${byteLength}`);
  }
  return Math.ceil(byteLength / leafSize);
}

/**
 * The bytes of leaf `index` of `chunk` (a view, not a copy).
 *
 * @example leafAt(chunk, 0) // first LEAF_SIZE bytes
 */
export function leafAt(chunk: Uint8Array, index: number, leafSize: number = LEAF_SIZE): Uint8Array {
  const count = leafCountFor(chunk.length, leafSize);
  if (!Number.isSafeInteger(index) || index < 0 || index >= count) {
    throw new LeafIndexError(`leaf index ${index} out of range for ${count} leaves`);
  }
  const start = index * leafSize;
  return chunk.subarray(start, Math.min(start + leafSize, chunk.length));
}

/** Builds the levels above `leafHashes` (packed), promoting the odd last node of a level. */
function buildLevels(leafHashes: Uint8Array, leafCount: number): Uint8Array[] {
  const levels = [leafHashes];
  const scratch = new Uint8Array(1 + 2 * HASH_LENGTH);
  scratch[0] = NODE_TAG;
  let current = leafHashes;
  let count = leafCount;
  while (count > 1) {
    const nextCount = Math.ceil(count / 2);
    const next = new Uint8Array(nextCount * HASH_LENGTH);
    const pairs = count >>> 1;
    for (let i = 0; i < pairs; i++) {
      scratch.set(current.subarray(2 * i * HASH_LENGTH, (2 * i + 2) * HASH_LENGTH), 1);
      next.set(sha256(scratch), i * HASH_LENGTH);
    }
    if (count % 2 === 1) {
      next.set(current.subarray((count - 1) * HASH_LENGTH, count * HASH_LENGTH), pairs * HASH_LENGTH);
    }
    levels.push(next);
    current = next;
    count = nextCount;
  }
  return levels;
}

function topOf(levels: Uint8Array[]): Uint8Array {
  return (levels[levels.length - 1] as Uint8Array).subarray(0, HASH_LENGTH);
}

/** The leaf count of a chunk, refusing an empty one. */
function nonEmptyLeafCount(chunk: Uint8Array, leafSize: number): number {
  const leafCount = leafCountFor(chunk.length, leafSize);
  if (leafCount === 0) throw new EmptyChunkError("a chunk must hold at least one byte");
  return leafCount;
}

/**
 * {@link buildChunkTree} in JavaScript, one node:crypto call per hash, whichever builder is
 * selected: the reference the native builder is checked against, and the fallback without it.
 *
 * @example bytesEqual(buildChunkTreeJs(chunk).root, buildChunkTree(chunk).root) // true
 */
export function buildChunkTreeJs(chunk: Uint8Array, leafSize: number = LEAF_SIZE): MerkleTree {
  const leafCount = nonEmptyLeafCount(chunk, leafSize);
  const leafHashes = new Uint8Array(leafCount * HASH_LENGTH);
  // No leaf is longer than the chunk: a leaf size past it (say, one a peer announced) costs nothing.
  const scratch = new Uint8Array(1 + Math.min(leafSize, chunk.length));
  scratch[0] = LEAF_TAG;
  for (let i = 0; i < leafCount; i++) {
    const start = i * leafSize;
    const end = Math.min(start + leafSize, chunk.length);
    scratch.set(chunk.subarray(start, end), 1);
    leafHashes.set(sha256(scratch.subarray(0, 1 + end - start)), i * HASH_LENGTH);
  }
  const levels = buildLevels(leafHashes, leafCount);
  return { leafCount, levels, root: seal(CHUNK_SEAL_TAG, leafCount, topOf(levels)) };
}

/** A tree from the native builder's packed output: the levels are views of it, the root a copy. */
function treeFromPacked(packed: ArrayBuffer, leafCount: number): MerkleTree {
  const levels: Uint8Array[] = [];
  let offset = 0;
  for (const count of levelCounts(leafCount)) {
    levels.push(new Uint8Array(packed, offset, count * HASH_LENGTH));
    offset += count * HASH_LENGTH;
  }
  // Copied so that a root kept on its own does not hold the whole tree's memory.
  return { leafCount, levels, root: new Uint8Array(packed.slice(offset, offset + HASH_LENGTH)) };
}

/**
 * Whether `candidate` builds the same trees and roots as the JavaScript builder on a probe that
 * takes every path: leaves, pairs, odd nodes promoted at two levels, a short last leaf, the seal.
 * A native build against the wrong headers would fail here rather than answer challenges wrong.
 */
function agreesWithJs(candidate: NativeMerkle): boolean {
  const probe = Uint8Array.from({ length: 11 * 7 - 3 }, (_, i) => (i * 37 + 11) & 0xff);
  try {
    for (const leafSize of [7, 1, probe.length, probe.length + 1]) {
      const expected = buildChunkTreeJs(probe, leafSize);
      const tree = treeFromPacked(candidate.tree(probe, leafSize), expected.leafCount);
      if (!bytesEqual(tree.root, expected.root)) return false;
      if (tree.levels.length !== expected.levels.length) return false;
      if (!tree.levels.every((level, l) => bytesEqual(level, expected.levels[l] as Uint8Array))) return false;
      if (!bytesEqual(new Uint8Array(candidate.root(probe, leafSize)), expected.root)) return false;
    }
    return true;
  } catch {
    return false;
  }
}

function selectNativeMerkle(): NativeMerkle | undefined {
  const loaded = loadNativeMerkle();
  if (loaded === undefined || agreesWithJs(loaded)) return loaded;
  if (process.env[MERKLE_IMPLEMENTATION_ENV] === "native") {
    throw new MerkleImplementationError("the native Merkle builder disagrees with the JavaScript one");
  }
  return undefined;
}

const nativeMerkle = selectNativeMerkle();

/**
 * Which builder {@link buildChunkTree} and {@link chunkRoot} use in this process: `native` (the
 * addon of protocol/merkle-native.ts) or `js`.
 *
 * @example console.log(`merkle trees: ${merkleImplementation}`)
 */
export const merkleImplementation: "native" | "js" = nativeMerkle === undefined ? "js" : "native";

/**
 * Builds the Merkle tree of a chunk, split into `leafSize`-byte leaves (the last may be short).
 * Throws {@link EmptyChunkError} for an empty chunk.
 *
 * @example
 * const tree = buildChunkTree(chunk);
 * tree.root; // 32 bytes, the chunk's commitment
 */
export function buildChunkTree(chunk: Uint8Array, leafSize: number = LEAF_SIZE): MerkleTree {
  if (nativeMerkle === undefined) return buildChunkTreeJs(chunk, leafSize);
  const leafCount = nonEmptyLeafCount(chunk, leafSize);
  return treeFromPacked(nativeMerkle.tree(chunk, leafSize), leafCount);
}

/** Node count of each level of a tree over `leafCount` leaves, leaves first, top (1) last. */
function levelCounts(leafCount: number): number[] {
  const counts = [leafCount];
  for (let count = leafCount; count > 1; ) {
    count = Math.ceil(count / 2);
    counts.push(count);
  }
  return counts;
}

/**
 * The levels of `tree` from `fromLevel` up (from its top when it is lower), packed into one
 * array: what a store keeps beside a chunk so that a proof later needs only the leaves under one
 * node of that level, not the whole chunk (see {@link treeFromUpperLevels}).
 *
 * @example upperLevels(buildChunkTree(chunk), 4) // 127 nodes for 1024 leaves
 */
export function upperLevels(tree: MerkleTree, fromLevel: number): Uint8Array {
  const from = Math.min(fromLevel, tree.levels.length - 1);
  const kept = tree.levels.slice(from);
  const packed = new Uint8Array(kept.reduce((sum, level) => sum + level.length, 0));
  let offset = 0;
  for (const level of kept) {
    packed.set(level, offset);
    offset += level.length;
  }
  return packed;
}

/**
 * A tree that can prove the leaves at `leafIndices` (and only those): the levels from
 * `fromLevel` up come from `packed` (as {@link upperLevels} made them), and below them only the
 * subtrees holding those leaves are rebuilt, from `readLeaves(firstLeaf, count)` (the bytes of
 * that many consecutive leaves; the chunk's last leaf may be short). Every other node of the
 * lower levels is left zero, so the result must not be cached or used for other leaves.
 *
 * Undefined when `packed` does not fit `leafCount`, an index is out of range, a read fails, or
 * a rebuilt subtree does not hash to its node in `packed` (the stored levels and the leaves
 * disagree: the caller rebuilds the whole tree from the chunk instead).
 *
 * @example
 * const tree = treeFromUpperLevels(1024, 4, packed, [7], (first, n) => bytes.subarray(first * LEAF_SIZE, (first + n) * LEAF_SIZE));
 */
export function treeFromUpperLevels(
  leafCount: number,
  fromLevel: number,
  packed: Uint8Array,
  leafIndices: readonly number[],
  readLeaves: (firstLeaf: number, count: number) => Uint8Array | undefined,
  leafSize: number = LEAF_SIZE,
): MerkleTree | undefined {
  assertLeafSize(leafSize);
  if (!Number.isSafeInteger(leafCount) || leafCount < 1) return undefined;
  if (!Number.isSafeInteger(fromLevel) || fromLevel < 0) return undefined;
  const counts = levelCounts(leafCount);
  const from = Math.min(fromLevel, counts.length - 1);
  let expected = 0;
  for (let l = from; l < counts.length; l++) expected += (counts[l] as number) * HASH_LENGTH;
  if (packed.length !== expected) return undefined;

  const levels: Uint8Array[] = [];
  for (let l = 0; l < from; l++) levels.push(new Uint8Array((counts[l] as number) * HASH_LENGTH));
  let offset = 0;
  for (let l = from; l < counts.length; l++) {
    const bytes = (counts[l] as number) * HASH_LENGTH;
    levels.push(packed.subarray(offset, offset + bytes));
    offset += bytes;
  }

  const span = 2 ** from;
  const subtrees = new Set<number>();
  for (const index of leafIndices) {
    if (!Number.isSafeInteger(index) || index < 0 || index >= leafCount) return undefined;
    subtrees.add(Math.floor(index / span));
  }
  const nodesAtFrom = levels[from] as Uint8Array;
  for (const subtree of subtrees) {
    const first = subtree * span;
    const count = Math.min(span, leafCount - first);
    const bytes = readLeaves(first, count);
    // Every leaf full but the chunk's last, which holds 1..leafSize bytes.
    const last = first + count === leafCount;
    const fits = last
      ? bytes !== undefined && bytes.length > (count - 1) * leafSize && bytes.length <= count * leafSize
      : bytes?.length === count * leafSize;
    if (!fits || bytes === undefined) return undefined;
    const local = buildChunkTree(bytes, leafSize);
    const node = nodesAtFrom.subarray(subtree * HASH_LENGTH, (subtree + 1) * HASH_LENGTH);
    if (!bytesEqual(topOf(local.levels), node)) return undefined;
    for (let l = 0; l < from; l++) {
      // A subtree lower than `from` promoted its top unchanged up to level `from`.
      const level = local.levels[Math.min(l, local.levels.length - 1)] as Uint8Array;
      (levels[l] as Uint8Array).set(level, ((subtree * span) / 2 ** l) * HASH_LENGTH);
    }
  }
  return { leafCount, levels, root: seal(CHUNK_SEAL_TAG, leafCount, topOf(levels)) };
}

/**
 * The sealed Merkle root of a chunk: what a validator keeps to challenge the chunk later.
 *
 * @example chunkRoot(chunk) // 32 bytes
 */
export function chunkRoot(chunk: Uint8Array, leafSize: number = LEAF_SIZE): Uint8Array {
  if (nativeMerkle === undefined) return buildChunkTreeJs(chunk, leafSize).root;
  nonEmptyLeafCount(chunk, leafSize);
  return new Uint8Array(nativeMerkle.root(chunk, leafSize));
}

/**
 * A proof for the leaves at `indices` (strictly increasing) of `tree`. Each sibling is sent once,
 * and a sibling the verifier can compute from other proven leaves is not sent at all; siblings are
 * ordered bottom level first, left to right.
 * Throws {@link LeafIndexError} for empty, unsorted, duplicate or out-of-range indices.
 *
 * @example
 * const proof = proveLeaves(tree, [3, 4]);
 * verifyLeaves(tree.root, [leafAt(chunk, 3), leafAt(chunk, 4)], proof); // true
 */
export function proveLeaves(tree: MerkleTree, indices: readonly number[]): MerkleMultiProof {
  const { leafCount, levels } = tree;
  if (indices.length === 0) throw new LeafIndexError("at least one leaf index is needed");
  let previous = -1;
  for (const index of indices) {
    if (!Number.isSafeInteger(index) || index <= previous || index >= leafCount) {
      throw new LeafIndexError(
        `leaf indices must be strictly increasing integers below ${leafCount}, got [${indices.join(", ")}]`,
      );
    }
    previous = index;
  }
  const siblings: Uint8Array[] = [];
  let positions = [...indices];
  let count = leafCount;
  for (let level = 0; count > 1; level++) {
    const nodes = levels[level] as Uint8Array;
    const take = (position: number) =>
      siblings.push(nodes.slice(position * HASH_LENGTH, (position + 1) * HASH_LENGTH));
    const next: number[] = [];
    for (let k = 0; k < positions.length; k++) {
      const position = positions[k] as number;
      if (position % 2 === 1) {
        // A known left neighbour would have been paired with this node already.
        take(position - 1);
      } else if (position + 1 < count) {
        if (positions[k + 1] === position + 1) k++;
        else take(position + 1);
      }
      // Otherwise: the odd last node, promoted without a sibling.
      next.push(position >>> 1);
    }
    positions = next;
    count = Math.ceil(count / 2);
  }
  return { leafCount, indices: [...indices], siblings };
}

function isHash(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.length === HASH_LENGTH;
}

/**
 * Recomputes the top node from packed leaf hashes and a proof, or returns undefined when the proof
 * is malformed. Validates everything it reads; throws nothing on well-typed input.
 */
function recomputeTop(leafHashes: Uint8Array, proof: MerkleMultiProof): Uint8Array | undefined {
  const { leafCount, indices, siblings } = proof;
  if (!Number.isSafeInteger(leafCount) || leafCount < 1) return undefined;
  if (!Array.isArray(indices) || !Array.isArray(siblings)) return undefined;
  const k = indices.length;
  if (k === 0 || leafHashes.length !== k * HASH_LENGTH) return undefined;
  let previous = -1;
  for (const index of indices) {
    if (!Number.isSafeInteger(index) || index <= previous || index >= leafCount) return undefined;
    previous = index;
  }
  for (const sibling of siblings) if (!isHash(sibling)) return undefined;

  const scratch = new Uint8Array(1 + 2 * HASH_LENGTH);
  scratch[0] = NODE_TAG;
  let positions: number[] = [...indices];
  let hashes = leafHashes;
  let count = leafCount;
  let used = 0;
  while (count > 1) {
    const nextPositions: number[] = [];
    const nextHashes = new Uint8Array(positions.length * HASH_LENGTH);
    for (let k = 0; k < positions.length; k++) {
      const position = positions[k] as number;
      const own = hashes.subarray(k * HASH_LENGTH, (k + 1) * HASH_LENGTH);
      const out = nextPositions.length * HASH_LENGTH;
      if (position % 2 === 1) {
        const left = siblings[used++];
        if (left === undefined) return undefined;
        scratch.set(left, 1);
        scratch.set(own, 1 + HASH_LENGTH);
        nextHashes.set(sha256(scratch), out);
      } else if (position + 1 < count) {
        scratch.set(own, 1);
        if (positions[k + 1] === position + 1) {
          k++;
          scratch.set(hashes.subarray(k * HASH_LENGTH, (k + 1) * HASH_LENGTH), 1 + HASH_LENGTH);
        } else {
          const right = siblings[used++];
          if (right === undefined) return undefined;
          scratch.set(right, 1 + HASH_LENGTH);
        }
        nextHashes.set(sha256(scratch), out);
      } else {
        nextHashes.set(own, out);
      }
      nextPositions.push(position >>> 1);
    }
    positions = nextPositions;
    hashes = nextHashes.subarray(0, nextPositions.length * HASH_LENGTH);
    count = Math.ceil(count / 2);
  }
  if (used !== siblings.length) return undefined;
  return hashes.subarray(0, HASH_LENGTH);
}

function packHashes(hashes: readonly unknown[]): Uint8Array | undefined {
  const packed = new Uint8Array(hashes.length * HASH_LENGTH);
  for (let i = 0; i < hashes.length; i++) {
    const h = hashes[i];
    if (!isHash(h)) return undefined;
    packed.set(h, i * HASH_LENGTH);
  }
  return packed;
}

function verifyPacked(
  sealTag: number,
  root: unknown,
  leafHashes: Uint8Array | undefined,
  proof: unknown,
): boolean {
  try {
    if (!isHash(root) || leafHashes === undefined) return false;
    if (typeof proof !== "object" || proof === null) return false;
    const typed = proof as MerkleMultiProof;
    const top = recomputeTop(leafHashes, typed);
    return top !== undefined && bytesEqual(seal(sealTag, typed.leafCount, top), root);
  } catch {
    // Hostile input of the wrong runtime type (a getter that throws, a proxy): not a valid proof.
    return false;
  }
}

/**
 * Verifies a multi-proof for chunk-tree leaves given their hashes (in the order of
 * `proof.indices`) against a sealed chunk root. Returns false — never throws — for any malformed
 * proof: wrong counts, unsorted/duplicate/out-of-range indices, hashes of the wrong length.
 *
 * @example verifyMultiProof(root, [hashLeaf(leaf)], proof)
 */
export function verifyMultiProof(
  root: Uint8Array,
  leafHashes: readonly Uint8Array[],
  proof: MerkleMultiProof,
): boolean {
  if (!Array.isArray(leafHashes)) return false;
  return verifyPacked(CHUNK_SEAL_TAG, root, packHashes(leafHashes), proof);
}

/**
 * Verifies a multi-proof for chunk-tree leaves given their bytes (in the order of
 * `proof.indices`). Hashes each leaf with the leaf tag, so no inner node can pass as a leaf.
 * Never throws.
 *
 * @example verifyLeaves(root, [leafAt(chunk, 7)], proveLeaves(tree, [7]))
 */
export function verifyLeaves(
  root: Uint8Array,
  leaves: readonly Uint8Array[],
  proof: MerkleMultiProof,
): boolean {
  if (!Array.isArray(leaves)) return false;
  const packed = new Uint8Array(leaves.length * HASH_LENGTH);
  for (let i = 0; i < leaves.length; i++) {
    const leaf = leaves[i];
    if (!(leaf instanceof Uint8Array) || leaf.length === 0) return false;
    packed.set(hashLeaf(leaf), i * HASH_LENGTH);
  }
  return verifyPacked(CHUNK_SEAL_TAG, root, packed, proof);
}
