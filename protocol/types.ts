/**
 * Plain data shapes shared across protocol/ modules (Merkle proofs, challenges, responses).
 * Every byte field is a Uint8Array; every hash is HASH_LENGTH (32) bytes.
 */

/** A proof that a set of leaves belongs to a Merkle tree with a known root. */
export interface MerkleMultiProof {
  /** Number of leaves in the tree. */
  leafCount: number;
  /** Proven leaf indices, strictly increasing. */
  indices: number[];
  /**
   * The sibling hashes needed to recompute the root, each sent once even when several proven
   * leaves share it, in the deterministic order the verifier consumes them (bottom level first,
   * left to right within a level).
   */
  siblings: Uint8Array[];
}

/** One chunk named in a challenge, and the leaves of it the miner must produce. */
export interface ChallengedChunk {
  chunkIndex: number;
  /** Leaf indices in the chunk, strictly increasing. */
  leafIndices: number[];
}

/** A validator's challenge to a miner about one store (the validator's own allocation). */
export interface Challenge {
  /** Identifies the validator's store on the miner (the validator hotkey, ss58). */
  storeId: string;
  chunks: ChallengedChunk[];
  /** NONCE_LENGTH bytes of fresh randomness. */
  nonce: Uint8Array;
  /** Unix time in milliseconds after which the answer no longer counts. */
  deadline: number;
}

/** The miner's answer for one challenged chunk. */
export interface ChunkProof {
  chunkIndex: number;
  /** The challenged leaves' bytes, in the order of `proof.indices`. */
  leaves: Uint8Array[];
  proof: MerkleMultiProof;
}

/** The miner's answer to a challenge. */
export interface ChallengeResponse {
  /** Echo of the challenge nonce. */
  nonce: Uint8Array;
  chunks: ChunkProof[];
  /** Binds the answer to the nonce and the proven bytes (see protocol/challenge.ts). */
  binding: Uint8Array;
}
