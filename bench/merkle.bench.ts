import { createHash, hash, randomFillSync } from "node:crypto";
import { MerkleTree as MerkleTreeJs } from "merkletreejs";
import { answerChallenge, createChallenge, verifyResponse } from "../protocol/challenge.js";
import { encodedFrameLength } from "../protocol/codec.js";
import { CHUNK_SIZE, HASH_LENGTH, LEAF_SIZE, NONCE_LENGTH } from "../protocol/constants.js";
import {
  buildChunkTree,
  buildChunkTreeJs,
  chunkRoot,
  leafAt,
  merkleImplementation,
  proveLeaves,
  treeFromUpperLevels,
  upperLevels,
  verifyLeaves,
} from "../protocol/merkle.js";
import { createEnvelope } from "../protocol/messages.js";
import type { ChallengeResponse } from "../protocol/types.js";
import { type BenchGroup, measured, timeIt } from "./harness.js";

const MIB = 1 << 20;

/** Bytes of a response counted field by field: what the proof itself costs, without an envelope. */
function responseBodyBytes(response: ChallengeResponse): number {
  let total = response.nonce.length + response.binding.length + 4;
  for (const chunk of response.chunks) {
    // chunkIndex and leafCount as u64, and a u32 count before each list.
    total += 8 + 8 + 3 * 4;
    total += chunk.proof.indices.length * 8;
    for (const leaf of chunk.leaves) total += 4 + leaf.length;
    total += chunk.proof.siblings.length * HASH_LENGTH;
  }
  return total;
}

/**
 * Merkle tree and challenge costs for one 1 MiB chunk of 1 KiB leaves, against raw SHA-256 of
 * the same bytes and against merkletreejs building over the same leaves.
 */
export const merkleBench: BenchGroup = {
  name: "merkle",
  description: "chunk tree build, proofs and challenges over 1 MiB chunks vs raw SHA-256 and merkletreejs",
  async run(report, signal) {
    const chunk = new Uint8Array(CHUNK_SIZE);
    randomFillSync(chunk);
    const leafCount = CHUNK_SIZE / LEAF_SIZE;

    // Build: MiB/s of a full tree vs one SHA-256 pass over the same MiB, with the builder this
    // process selected (protocol/merkle-native.ts: the native addon unless it is missing or
    // STORAGE_SUBNET_MERKLE=js), then with the JavaScript builder, in the same run.
    const rawMs = timeIt(() => hash("sha256", chunk, "buffer"), 400);
    const buildMs = timeIt(() => buildChunkTree(chunk), 600);
    const rawMibS = CHUNK_SIZE / MIB / (rawMs / 1000);
    const buildMibS = CHUNK_SIZE / MIB / (buildMs / 1000);
    const builder =
      merkleImplementation === "native"
        ? "native addon, one call per tree"
        : "JavaScript, one node:crypto call per hash";
    report(
      measured(
        "merkle.build",
        buildMibS,
        "MiB/s",
        rawMibS,
        `builder: ${merkleImplementation} (${builder}); baseline: raw SHA-256 of the same 1 MiB; 2047 hashes; goal ≥ 0.5`,
      ),
    );
    const jsBuildMs = timeIt(() => buildChunkTreeJs(chunk), 600);
    const jsBuildMibS = CHUNK_SIZE / MIB / (jsBuildMs / 1000);
    report(
      measured(
        "merkle.build.js",
        jsBuildMibS,
        "MiB/s",
        rawMibS,
        "the JavaScript builder (one node:crypto call per hash); baseline: raw SHA-256 of the same 1 MiB",
      ),
    );
    report(
      measured(
        "merkle.build.vs-js",
        buildMibS,
        "MiB/s",
        jsBuildMibS,
        `builder: ${merkleImplementation} vs the JavaScript builder; ratio > 1: the selected builder is faster`,
      ),
    );
    const rootMs = timeIt(() => chunkRoot(chunk), 600);
    report(
      measured(
        "merkle.root",
        CHUNK_SIZE / MIB / (rootMs / 1000),
        "MiB/s",
        rawMibS,
        `chunkRoot, the sealed root alone (what a validator keeps); builder: ${merkleImplementation}; baseline: raw SHA-256`,
      ),
    );
    signal.throwIfAborted();

    // The floor of one node:crypto call per leaf: the 1024 tagged leaf hashes alone, no inner
    // nodes. The JavaScript builder cannot beat this ratio; the native one hashes every leaf in
    // one call and is not bound by it.
    const leafScratch = new Uint8Array(1 + LEAF_SIZE);
    const leavesOnlyMs = timeIt(() => {
      for (let i = 0; i < leafCount; i++) {
        leafScratch.set(leafAt(chunk, i), 1);
        hash("sha256", leafScratch, "buffer");
      }
    }, 600);
    report(
      measured(
        "merkle.build.leaves-only",
        CHUNK_SIZE / MIB / (leavesOnlyMs / 1000),
        "MiB/s",
        rawMibS,
        "the 1024 leaf hashes alone, one node:crypto call each (the JavaScript builder's floor); baseline: raw SHA-256",
      ),
    );
    signal.throwIfAborted();

    const sha256 = (data: Buffer) => createHash("sha256").update(data).digest();
    const leaves = Array.from({ length: leafCount }, (_, i) => Buffer.from(leafAt(chunk, i)));
    const jsMs = timeIt(() => new MerkleTreeJs(leaves, sha256, { hashLeaves: true }), 600);
    const jsMibS = CHUNK_SIZE / MIB / (jsMs / 1000);
    report(
      measured(
        "merkle.build.merkletreejs",
        jsMibS,
        "MiB/s",
        rawMibS,
        "merkletreejs over the same 1024 leaves, node:crypto sha256; baseline: raw SHA-256",
      ),
    );
    report(
      measured(
        "merkle.build.vs-merkletreejs",
        buildMibS,
        "MiB/s",
        jsMibS,
        "ours (tagged, sealed) vs merkletreejs (untagged); ratio > 1: ours is faster",
      ),
    );
    signal.throwIfAborted();

    // Proofs: µs per one-leaf proof and per one-leaf verification vs hashing one 1 KiB leaf.
    const leafRawUs =
      (timeIt(() => {
        for (let i = 0; i < leafCount; i++) hash("sha256", leafAt(chunk, i), "buffer");
      }, 300) *
        1000) /
      leafCount;
    const tree = buildChunkTree(chunk);
    const proveUs =
      (timeIt(() => {
        for (let i = 0; i < leafCount; i++) proveLeaves(tree, [i]);
      }, 300) *
        1000) /
      leafCount;
    report(
      measured(
        "merkle.prove",
        proveUs,
        "µs",
        leafRawUs,
        "one-leaf proof from a built tree; baseline: SHA-256 of 1 KiB",
      ),
    );

    const proofs = Array.from({ length: leafCount }, (_, i) => proveLeaves(tree, [i]));
    const leafViews = Array.from({ length: leafCount }, (_, i) => [leafAt(chunk, i)]);
    let failures = 0;
    const verifyUs =
      (timeIt(() => {
        for (let i = 0; i < leafCount; i++) {
          if (!verifyLeaves(tree.root, leafViews[i] as Uint8Array[], proofs[i] as (typeof proofs)[number]))
            failures++;
        }
      }, 400) *
        1000) /
      leafCount;
    if (failures > 0) throw new Error(`${failures} proofs failed to verify in the benchmark`);
    report(
      measured(
        "merkle.verify",
        verifyUs,
        "µs",
        leafRawUs,
        "one-leaf verify (1 KiB leaf, 10 siblings); goal < 50 µs",
      ),
    );
    signal.throwIfAborted();

    // Multi-proofs: siblings for 16 random leaves of one chunk vs 16 separate one-leaf proofs.
    const sixteen = [...new Set(Array.from({ length: 64 }, (_, i) => (i * 389 + 17) % leafCount))]
      .slice(0, 16)
      .sort((a, b) => a - b);
    const multi = proveLeaves(tree, sixteen);
    report(
      measured(
        "merkle.multiproof.siblings",
        multi.siblings.length,
        "hashes",
        sixteen.length * Math.log2(leafCount),
        "16 spread leaves in one proof; baseline: 16 one-leaf proofs",
      ),
    );

    // Challenges: the miner's answer (tree build included) and the validator's check.
    const nonce = new Uint8Array(NONCE_LENGTH);
    randomFillSync(nonce);
    const challenge = createChallenge({
      storeId: "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
      chunkCount: 1,
      leafCount,
      chunksPerChallenge: 1,
      leavesPerChunk: 1,
      nonce,
      now: 0,
      ttlMs: Number.MAX_SAFE_INTEGER / 2,
    });
    const response = answerChallenge(challenge, () => chunk);
    const answerMs = timeIt(() => answerChallenge(challenge, () => chunk), 400);
    report(
      measured(
        "merkle.challenge.answer",
        answerMs * 1000,
        "µs",
        rawMs * 1000,
        "1 chunk × 1 leaf, tree built from the chunk; baseline: raw SHA-256 of 1 MiB",
      ),
    );
    // Cold, as a miner answers without the tree in memory: levels 4 and up stored beside the
    // chunk, the challenged leaf's 16-leaf subtree rehashed.
    const stored = upperLevels(tree, 4);
    const span = (first: number, count: number) =>
      chunk.subarray(first * LEAF_SIZE, (first + count) * LEAF_SIZE);
    const storedMs = timeIt(() => {
      const partial = treeFromUpperLevels(leafCount, 4, stored, [7], span);
      if (partial === undefined) throw new Error("stored levels did not match");
      answerChallenge(challenge, () => undefined, {
        knownTree: () => partial,
        readLeaves: (_, indices) => indices.map((i) => leafAt(chunk, i)),
      });
    }, 400);
    report(
      measured(
        "merkle.challenge.answer.stored-levels",
        storedMs * 1000,
        "µs",
        rawMs * 1000,
        "1 chunk × 1 leaf from levels ≥ 4 (4 KiB) and one 16-leaf subtree; baseline: raw SHA-256 of 1 MiB",
      ),
    );
    const options = { rootOf: () => tree.root, now: 1 };
    if (!verifyResponse(challenge, response, options).ok)
      throw new Error("challenge response did not verify");
    const checkUs =
      (timeIt(() => {
        for (let i = 0; i < 100; i++) verifyResponse(challenge, response, options);
      }, 300) *
        1000) /
      100;
    report(
      measured(
        "merkle.challenge.verify",
        checkUs,
        "µs",
        leafRawUs,
        "verifyResponse, 1 chunk × 1 leaf (proof + binding); baseline: SHA-256 of 1 KiB",
      ),
    );
    signal.throwIfAborted();

    // Bytes on the wire for a one-leaf challenge answer.
    const frameBytes = encodedFrameLength(createEnvelope({ type: "proof", response }));
    report(
      measured(
        "merkle.proof-bytes",
        frameBytes,
        "bytes",
        LEAF_SIZE,
        "encoded proof frame (protocol/codec.ts: length prefix + 7 B unsigned response header); baseline: the 1 KiB leaf; goal < 1536",
      ),
    );
    report(
      measured(
        "merkle.proof-bytes.body",
        responseBodyBytes(response),
        "bytes",
        LEAF_SIZE,
        "response alone: nonce + leaf + 10 siblings + binding + counts; baseline: the 1 KiB leaf",
      ),
    );
  },
};
