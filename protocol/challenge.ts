/**
 * Storage challenges: a validator asks a miner for a few random leaves of a few random chunks of
 * the validator's store, and checks them against the chunk roots it kept.
 *
 * What a passed challenge proves: at answer time (before the deadline) the miner could produce
 * the challenged leaves of the committed chunks — bytes that hash up to the Merkle roots the
 * validator kept — and the answer was made for this challenge: the leaves are picked by a
 * pseudo-random function of a fresh 256-bit nonce, so a miner cannot know them in advance, and
 * the response's `binding` digests the nonce together with every proven byte, so a recorded
 * answer is not accepted for another challenge.
 *
 * What it does not prove:
 * - that the miner keeps every leaf. Sampling only catches loss with some probability: a miner
 *   keeping a fraction f of the leaves answers k independently sampled leaves with probability
 *   f^k, so it is caught with probability 1 − f^k (distinct picks, as here, catch it at least that
 *   often). With k = 16: f = 0.9 → caught 81%; f = 0.5 → 99.998%; f = 0.99 → only 15%. Catching
 *   f = 0.9 with 99% takes k = 44 leaves, or several challenges: m challenges give 1 − f^(k·m).
 * - that the miner stores the data itself, alone, or locally: it may fetch the leaves in real
 *   time from someone else who stores them (outsourcing) if it can within the deadline, and
 *   several identities may share one copy. Short deadlines and per-validator data narrow this;
 *   they do not close it.
 * - who answered: `binding` is a digest anyone can recompute, not a signature. Authenticating the
 *   sender is the transport's job (the libp2p connection is keyed to the miner's peer id).
 * - that the data can be retrieved at full speed; retrieval is measured separately.
 */
import { createHash, hash } from "node:crypto";
import { bytesEqual } from "./bytes.js";
import { HASH_LENGTH, LEAF_SIZE, NONCE_LENGTH } from "./constants.js";
import { ProtocolError } from "./errors.js";
import {
  buildChunkTree,
  hashLeaf,
  LeafIndexError,
  leafAt,
  type MerkleTree,
  proveLeaves,
  verifyMultiProof,
} from "./merkle.js";
import type { Challenge, ChallengedChunk, ChallengeResponse, ChunkProof, MerkleMultiProof } from "./types.js";

/** Domain string of the pick PRF: the challenge's chunk and leaf indices. */
const CHALLENGE_PRF_DOMAIN = "storage-subnet/challenge/v1";
/** Domain string of a response's binding digest. */
const PROOF_BINDING_DOMAIN = "storage-subnet/proof/v1";

/** Largest count the pick PRF draws from: its draws are 48-bit integers. */
const MAX_PICK_RANGE = 2 ** 48;

/** A challenge asked for with parameters that cannot make one. */
export class ChallengeParamsError extends ProtocolError {
  override name = "ChallengeParamsError";
}

/** The miner cannot answer: a challenged chunk is missing or shorter than its challenged leaves. */
export class ChunkUnavailableError extends ProtocolError {
  override name = "ChunkUnavailableError";
  readonly chunkIndex: number;
  constructor(chunkIndex: number, options?: { cause?: unknown }) {
    super(`chunk ${chunkIndex} is not available to answer the challenge`, options);
    this.chunkIndex = chunkIndex;
  }
}

export interface CreateChallengeParams {
  /** The store on the miner (the validator hotkey, ss58). */
  storeId: string;
  /** Chunks in the store; chunk indices are 0..chunkCount-1. */
  chunkCount: number;
  /** Leaves per chunk, the same for all chunks or per chunk index (the last chunk may be short). */
  leafCount: number | ((chunkIndex: number) => number);
  /** Distinct chunks to challenge; capped at `chunkCount`. */
  chunksPerChallenge: number;
  /** Distinct leaves to challenge per chunk; capped at that chunk's leaf count. */
  leavesPerChunk: number;
  /** NONCE_LENGTH bytes of fresh randomness from the caller (protocol/ does no I/O). */
  nonce: Uint8Array;
  /** Current Unix time in milliseconds. */
  now: number;
  /** How long the miner has to answer. */
  ttlMs: number;
}

function isCount(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 1 && value <= MAX_PICK_RANGE;
}

function u64(value: number): Uint8Array {
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  view.setUint32(0, Math.floor(value / 2 ** 32));
  view.setUint32(4, value >>> 0);
  return out;
}

function u32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value);
  return out;
}

/**
 * A stream of uniform integers derived from `H(domain || nonce || len(storeId) || storeId ||
 * u64be(counter))`, one 32-byte block per counter value.
 */
function createPickStream(nonce: Uint8Array, storeId: string) {
  const domain = Buffer.from(CHALLENGE_PRF_DOMAIN, "utf8");
  const store = Buffer.from(storeId, "utf8");
  const input = new Uint8Array(domain.length + nonce.length + 4 + store.length + 8);
  input.set(domain, 0);
  input.set(nonce, domain.length);
  input.set(u32(store.length), domain.length + nonce.length);
  input.set(store, domain.length + nonce.length + 4);
  const counterAt = input.length - 8;
  let counter = 0;
  let block = new Uint8Array(0);
  let offset = 0;
  const next48 = (): number => {
    if (offset + 6 > block.length) {
      input.set(u64(counter++), counterAt);
      block = hash("sha256", input, "buffer");
      offset = 0;
    }
    let value = 0;
    for (let i = 0; i < 6; i++) value = value * 256 + (block[offset + i] as number);
    offset += 6;
    return value;
  };
  /** A uniform integer in [0, n), by rejection so no value is favoured. */
  const below = (n: number): number => {
    const limit = MAX_PICK_RANGE - (MAX_PICK_RANGE % n);
    for (;;) {
      const value = next48();
      if (value < limit) return value % n;
    }
  };
  /** `k` distinct integers in [0, n), sorted. */
  const distinct = (k: number, n: number): number[] => {
    if (2 * k <= n) {
      const picked = new Set<number>();
      while (picked.size < k) picked.add(below(n));
      return [...picked].sort((a, b) => a - b);
    }
    // Dense: a partial Fisher–Yates shuffle; n < 2k keeps the array small.
    const pool = Array.from({ length: n }, (_, i) => i);
    for (let i = 0; i < k; i++) {
      const j = i + below(n - i);
      const swap = pool[i] as number;
      pool[i] = pool[j] as number;
      pool[j] = swap;
    }
    return pool.slice(0, k).sort((a, b) => a - b);
  };
  return { distinct };
}

/**
 * Makes a challenge: distinct chunk indices and, per chunk, distinct leaf indices, all derived
 * from the nonce, so the same parameters and nonce always give the same challenge.
 * Throws {@link ChallengeParamsError} for parameters that cannot make a challenge.
 *
 * @example
 * createChallenge({ storeId, chunkCount: 500, leafCount: 1024, chunksPerChallenge: 4,
 *   leavesPerChunk: 4, nonce: randomBytes(NONCE_LENGTH), now: Date.now(), ttlMs: 10_000 })
 */
export function createChallenge(params: CreateChallengeParams): Challenge {
  const { storeId, chunkCount, leafCount, chunksPerChallenge, leavesPerChunk, nonce, now, ttlMs } = params;
  if (!(nonce instanceof Uint8Array) || nonce.length !== NONCE_LENGTH) {
    throw new ChallengeParamsError(`nonce must be ${NONCE_LENGTH} bytes`);
  }
  if (!isCount(chunkCount)) throw new ChallengeParamsError(`chunkCount must be ≥ 1, got ${chunkCount}`);
  if (!isCount(chunksPerChallenge) || !isCount(leavesPerChunk)) {
    throw new ChallengeParamsError("chunksPerChallenge and leavesPerChunk must be ≥ 1");
  }
  if (!Number.isFinite(now) || !Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new ChallengeParamsError("now must be a time and ttlMs a positive duration");
  }
  const picks = createPickStream(nonce, storeId);
  const chunkIndices = picks.distinct(Math.min(chunksPerChallenge, chunkCount), chunkCount);
  const chunks: ChallengedChunk[] = chunkIndices.map((chunkIndex) => {
    const leaves = typeof leafCount === "function" ? leafCount(chunkIndex) : leafCount;
    if (!isCount(leaves)) {
      throw new ChallengeParamsError(`chunk ${chunkIndex} has an invalid leaf count ${leaves}`);
    }
    return { chunkIndex, leafIndices: picks.distinct(Math.min(leavesPerChunk, leaves), leaves) };
  });
  return { storeId, chunks, nonce: new Uint8Array(nonce), deadline: now + ttlMs };
}

interface BoundChunk {
  chunkIndex: number;
  leafHashes: readonly Uint8Array[];
  proof: MerkleMultiProof;
}

function bindingOver(nonce: Uint8Array, storeId: string, chunks: readonly BoundChunk[]): Uint8Array {
  const h = createHash("sha256");
  const store = Buffer.from(storeId, "utf8");
  h.update(PROOF_BINDING_DOMAIN).update(nonce).update(u32(store.length)).update(store);
  h.update(u32(chunks.length));
  for (const { chunkIndex, leafHashes, proof } of chunks) {
    h.update(u64(chunkIndex)).update(u64(proof.leafCount)).update(u32(proof.indices.length));
    for (const index of proof.indices) h.update(u64(index));
    for (const leafHash of leafHashes) h.update(leafHash);
    h.update(u32(proof.siblings.length));
    for (const sibling of proof.siblings) h.update(sibling);
  }
  return new Uint8Array(h.digest());
}

/**
 * The binding of a response: `H("storage-subnet/proof/v1" || nonce || storeId || for each chunk:
 * chunkIndex, leafCount, leaf indices, leaf hashes, siblings)`, every variable-length part length-
 * prefixed. The same digest with another nonce is another value, so an answer cannot be replayed.
 *
 * @example computeBinding(challenge.nonce, challenge.storeId, response.chunks)
 */
export function computeBinding(
  nonce: Uint8Array,
  storeId: string,
  chunks: readonly ChunkProof[],
): Uint8Array {
  return bindingOver(
    nonce,
    storeId,
    chunks.map((chunk) => ({
      chunkIndex: chunk.chunkIndex,
      leafHashes: chunk.leaves.map(hashLeaf),
      proof: chunk.proof,
    })),
  );
}

export interface AnswerChallengeOptions {
  /** Leaf size the chunks were committed with. Default LEAF_SIZE. */
  leafSize?: number;
  /**
   * The Merkle tree of a challenged chunk, given its index and the bytes just read; a miner
   * passes its tree cache here so a one-leaf proof does not rehash the whole chunk. Default: built
   * from the bytes. The proven leaves always come from `readChunk`, so if the stored bytes rotted
   * they no longer match a cached tree and the proof fails verification, as it should.
   */
  treeOf?: (chunkIndex: number, chunk: Uint8Array) => MerkleTree;
  /**
   * The cheap path: a chunk's tree when one is at hand without reading the chunk (a miner's tree
   * cache), and just the challenged leaves' bytes (a leaf-range read of the store; undefined when
   * the chunk is missing). Given both, a chunk with a known tree is proven from its leaves alone;
   * otherwise, or when a leaf comes back short, it is read whole through `readChunk`. Sound for the
   * same reason as `treeOf`: the proven bytes are the stored ones, so rotted bytes fail verification.
   */
  knownTree?: (chunkIndex: number) => MerkleTree | undefined;
  readLeaves?: (chunkIndex: number, leafIndices: readonly number[]) => Uint8Array[] | undefined;
}

/** Thrown by {@link answerChallenge} for a challenge that names a chunk twice (or out of order). */
export class DuplicateChunkError extends ProtocolError {
  override name = "DuplicateChunkError";
}

/**
 * The miner's side: reads each challenged chunk (or only its challenged leaves, see
 * `knownTree`), takes its tree (built, or from `treeOf`) and proves the challenged leaves. Throws
 * {@link ChunkUnavailableError} when a chunk is missing or too short for its leaves, and
 * {@link DuplicateChunkError} when the chunk indices are not strictly increasing (a chunk named
 * twice would be read and proven twice for nothing).
 *
 * @example
 * answerChallenge(challenge, (i) => store.get(i));
 * answerChallenge(challenge, (i) => store.get(i), { treeOf: (i, chunk) => cache.treeOf(i, chunk) });
 */
export function answerChallenge(
  challenge: Challenge,
  readChunk: (chunkIndex: number) => Uint8Array | undefined,
  options: AnswerChallengeOptions = {},
): ChallengeResponse {
  const { leafSize = LEAF_SIZE, treeOf, knownTree, readLeaves } = options;
  let previous = -1;
  for (const { chunkIndex } of challenge.chunks) {
    if (!(chunkIndex > previous)) throw new DuplicateChunkError("challenged chunk indices must increase");
    previous = chunkIndex;
  }
  const fromLeaves = (chunkIndex: number, leafIndices: number[]): ChunkProof | undefined => {
    const tree = knownTree?.(chunkIndex);
    if (tree === undefined || readLeaves === undefined) return undefined;
    let proof: MerkleMultiProof;
    try {
      proof = proveLeaves(tree, leafIndices);
    } catch (error) {
      if (error instanceof LeafIndexError) return undefined;
      throw error;
    }
    const leaves = readLeaves(chunkIndex, leafIndices);
    if (leaves === undefined) throw new ChunkUnavailableError(chunkIndex);
    // A full leaf everywhere but at the tree's last index; anything else means the stored chunk
    // does not match the tree (overwritten meanwhile): read it whole instead.
    const intact = leaves.every((leaf, i) =>
      leafIndices[i] === tree.leafCount - 1
        ? leaf.length > 0 && leaf.length <= leafSize
        : leaf.length === leafSize,
    );
    return intact ? { chunkIndex, leaves, proof } : undefined;
  };
  const chunks: ChunkProof[] = challenge.chunks.map(({ chunkIndex, leafIndices }) => {
    const cheap = fromLeaves(chunkIndex, leafIndices);
    if (cheap !== undefined) return cheap;
    const chunk = readChunk(chunkIndex);
    if (chunk === undefined || chunk.length === 0) throw new ChunkUnavailableError(chunkIndex);
    try {
      const tree = treeOf ? treeOf(chunkIndex, chunk) : buildChunkTree(chunk, leafSize);
      const proof = proveLeaves(tree, leafIndices);
      const leaves = leafIndices.map((index) => leafAt(chunk, index, leafSize));
      return { chunkIndex, leaves, proof };
    } catch (error) {
      if (error instanceof LeafIndexError) throw new ChunkUnavailableError(chunkIndex, { cause: error });
      throw error;
    }
  });
  return {
    nonce: new Uint8Array(challenge.nonce),
    chunks,
    binding: computeBinding(challenge.nonce, challenge.storeId, chunks),
  };
}

/** Why a response was refused. */
export type VerifyFailureReason =
  /** The response is not shaped like a response (wrong types, lengths, counts). */
  | "malformed"
  /** Checked after the challenge's deadline. */
  | "expired"
  /** The echoed nonce is not the challenge's. */
  | "nonce-mismatch"
  /** A challenged chunk has no proof in the response (or the chunks are out of order). */
  | "missing-chunk"
  /** A chunk's proof is for other leaves than the challenged ones. */
  | "wrong-leaves"
  /** The verifier has no root for a challenged chunk (its own store lacks it). */
  | "unknown-root"
  /** The leaves do not hash up to the chunk root. */
  | "bad-proof"
  /** The binding is not the digest of this challenge's nonce and the proven bytes. */
  | "bad-binding";

export type VerifyResult = { ok: true } | { ok: false; reason: VerifyFailureReason; chunkIndex?: number };

export interface VerifyResponseOptions {
  /** The sealed root the validator kept for each chunk of its store. */
  rootOf: (chunkIndex: number) => Uint8Array | undefined;
  /** Current Unix time in milliseconds. */
  now: number;
  /** Leaf size the chunks were committed with. */
  leafSize?: number;
}

function sameIndices(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}

/** Structural check of a response that arrived from the network: types, lengths, counts. */
function isWellFormed(response: unknown, leafSize: number): response is ChallengeResponse {
  if (typeof response !== "object" || response === null) return false;
  const { nonce, chunks, binding } = response as Partial<ChallengeResponse>;
  if (!(nonce instanceof Uint8Array) || nonce.length !== NONCE_LENGTH) return false;
  if (!(binding instanceof Uint8Array) || binding.length !== HASH_LENGTH) return false;
  if (!Array.isArray(chunks)) return false;
  for (const chunk of chunks as unknown[]) {
    if (typeof chunk !== "object" || chunk === null) return false;
    const { chunkIndex, leaves, proof } = chunk as Partial<ChunkProof>;
    if (!Number.isSafeInteger(chunkIndex)) return false;
    if (typeof proof !== "object" || proof === null) return false;
    const { leafCount, indices, siblings } = proof;
    if (!Number.isSafeInteger(leafCount) || leafCount < 1) return false;
    if (!Array.isArray(indices) || !Array.isArray(siblings) || !Array.isArray(leaves)) return false;
    if (leaves.length !== indices.length) return false;
    for (let i = 0; i < leaves.length; i++) {
      const leaf = leaves[i] as unknown;
      const index = indices[i] as unknown;
      if (!(leaf instanceof Uint8Array) || !Number.isSafeInteger(index)) return false;
      // Every leaf is leafSize bytes except the last leaf of a chunk, which may be short.
      const isLast = index === leafCount - 1;
      if (leaf.length === 0 || leaf.length > leafSize || (!isLast && leaf.length !== leafSize)) return false;
    }
    for (const sibling of siblings as unknown[]) {
      if (!(sibling instanceof Uint8Array) || sibling.length !== HASH_LENGTH) return false;
    }
  }
  return true;
}

/**
 * The validator's side: checks a response against its own challenge and the chunk roots it kept.
 * Returns `{ ok: false, reason }` — never throws — for anything a miner can send.
 *
 * @example
 * const result = verifyResponse(challenge, response, { rootOf: (i) => roots[i], now: Date.now() });
 * if (!result.ok) log(result.reason);
 */
export function verifyResponse(
  challenge: Challenge,
  response: ChallengeResponse,
  options: VerifyResponseOptions,
): VerifyResult {
  const { rootOf, now, leafSize = LEAF_SIZE } = options;
  try {
    if (!isWellFormed(response, leafSize)) return { ok: false, reason: "malformed" };
  } catch {
    return { ok: false, reason: "malformed" };
  }
  if (!(now <= challenge.deadline)) return { ok: false, reason: "expired" };
  if (!bytesEqual(response.nonce, challenge.nonce)) return { ok: false, reason: "nonce-mismatch" };

  const bound: BoundChunk[] = [];
  for (let i = 0; i < challenge.chunks.length; i++) {
    const wanted = challenge.chunks[i] as ChallengedChunk;
    const { chunkIndex } = wanted;
    const answer = response.chunks[i];
    if (answer === undefined || answer.chunkIndex !== chunkIndex) {
      return { ok: false, reason: "missing-chunk", chunkIndex };
    }
    if (!sameIndices(answer.proof.indices, wanted.leafIndices)) {
      return { ok: false, reason: "wrong-leaves", chunkIndex };
    }
    const root = rootOf(chunkIndex);
    if (root === undefined) return { ok: false, reason: "unknown-root", chunkIndex };
    const leafHashes = answer.leaves.map(hashLeaf);
    if (!verifyMultiProof(root, leafHashes, answer.proof))
      return { ok: false, reason: "bad-proof", chunkIndex };
    bound.push({ chunkIndex, leafHashes, proof: answer.proof });
  }
  if (response.chunks.length !== challenge.chunks.length) return { ok: false, reason: "malformed" };
  const expected = bindingOver(challenge.nonce, challenge.storeId, bound);
  if (!bytesEqual(expected, response.binding)) return { ok: false, reason: "bad-binding" };
  return { ok: true };
}
