/**
 * Protocol constants. Each is a default; nodes take the configurable ones from their flags.
 */

/** Bytes per chunk: the unit a validator stores on a miner and challenges. 1 MiB. */
export const CHUNK_SIZE = 1 << 20;

/**
 * Bytes per Merkle leaf inside a chunk. 1 KiB leaves give a 1 MiB chunk 1024 leaves and a tree
 * 10 levels deep, so a one-leaf proof is 1 KiB of data plus 10 × 32 bytes of siblings.
 */
export const LEAF_SIZE = 1 << 10;

/** Length of every hash in the protocol (SHA-256). */
export const HASH_LENGTH = 32;

/** Length of a challenge nonce: 256 bits of fresh randomness. */
export const NONCE_LENGTH = 32;

/**
 * Wire protocol version. A node refuses frames of another version with an error reply.
 * 2: a signed request names its recipient (the miner's hotkey) in the authentication block, and a
 * challenge's chunk indices are strictly increasing (no chunk named twice).
 * 3: a challenge may ask for the validator's evictions since a sequence number (`evictionsSince`),
 * answered by an `evictions-reply` in place of the proof when there are any.
 */
export const PROTOCOL_VERSION = 3;

/**
 * Hard ceiling on one wire frame. A chunk (1 MiB) plus its envelope must fit; anything above is
 * refused before a byte of it is buffered.
 */
export const MAX_FRAME_SIZE = CHUNK_SIZE + 64 * 1024;

/** Upper bound on chunk size a node accepts as configuration (64 MiB). */
export const MAX_CHUNK_SIZE = 64 << 20;
