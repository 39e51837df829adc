import { createCipheriv, hash, randomBytes } from "node:crypto";
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deriveChunk, VALIDATOR_SECRET_LENGTH } from "../neurons/validator/data.js";
import { createPolicy } from "../neurons/validator/policy.js";
import { ValidatorDb } from "../neurons/validator/validator-db.js";
import { answerChallenge, createChallenge, verifyResponse } from "../protocol/challenge.js";
import { CHUNK_SIZE, LEAF_SIZE, NONCE_LENGTH } from "../protocol/constants.js";
import { buildChunkTree } from "../protocol/merkle.js";
import type { Challenge, ChallengeResponse } from "../protocol/types.js";
import { type BenchGroup, measured, timeIt } from "./harness.js";

const MIB = 1 << 20;
const STORE_ID = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty";
const MINER = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";

/** Chunks the challenges are drawn from; enough that challenges differ, few enough to build fast. */
const CHALLENGED_CHUNKS = 8;
/** Challenges prepared per shape; verification cycles through them. */
const PREPARED = 128;
/** Roots written for the database size figure (the size goal is stated for 100 000). */
const DB_CHUNKS = 100_000;

/** An honest response failed to verify: the figures would measure the wrong path. */
class BenchSetupError extends Error {
  override name = "BenchSetupError";
}

/**
 * The validator's hot paths on one core: verifying proofs, deriving the data it stores, and what
 * its database costs per stored chunk and per recorded challenge.
 */
export const validatorBench: BenchGroup = {
  name: "validator",
  description:
    "proof verification vs raw SHA-256 of a leaf, chunk derivation vs raw AES-256-CTR, validator db bytes per chunk",
  async run(report, signal) {
    const secret = randomBytes(VALIDATOR_SECRET_LENGTH);
    const chunks = Array.from({ length: CHALLENGED_CHUNKS }, (_, chunkIndex) =>
      deriveChunk({ secret, minerHotkey: MINER, storeId: STORE_ID, chunkIndex, size: CHUNK_SIZE }),
    );
    const roots = chunks.map((chunk) => buildChunkTree(chunk).root);

    // Baseline of verification: one SHA-256 of one 1 KiB leaf (what a one-leaf proof must hash at least).
    const leaf = randomBytes(LEAF_SIZE);
    const leafBatch = 1000;
    const leafMs = timeIt(() => {
      for (let i = 0; i < leafBatch; i++) hash("sha256", leaf, "buffer");
    }, 300);
    const leafHashesPerSecond = (leafBatch * 1000) / leafMs;

    for (const [chunksPerChallenge, leavesPerChunk, note] of [
      [1, 1, "the validator's default (1 chunk × 1 leaf)"],
      [4, 16, "4 chunks × 16 leaves"],
    ] as const) {
      signal.throwIfAborted();
      const prepared: { challenge: Challenge; response: ChallengeResponse }[] = [];
      for (let i = 0; i < PREPARED; i++) {
        const challenge = createChallenge({
          storeId: STORE_ID,
          chunkCount: CHALLENGED_CHUNKS,
          leafCount: CHUNK_SIZE / LEAF_SIZE,
          chunksPerChallenge,
          leavesPerChunk,
          nonce: randomBytes(NONCE_LENGTH),
          now: 0,
          ttlMs: 1e12,
        });
        prepared.push({ challenge, response: answerChallenge(challenge, (index) => chunks[index]) });
      }
      const rootOf = (index: number) => roots[index];
      let failures = 0;
      const ms = timeIt(() => {
        for (const { challenge, response } of prepared) {
          if (!verifyResponse(challenge, response, { rootOf, now: 1 }).ok) failures++;
        }
      }, 600);
      if (failures > 0)
        throw new BenchSetupError(`validator bench: ${failures} honest responses failed to verify`);
      report(
        measured(
          `validator.verify.${chunksPerChallenge}x${leavesPerChunk}`,
          (PREPARED * 1000) / ms,
          "challenges/s",
          leafHashesPerSecond,
          `one core; ${note}; baseline: raw SHA-256 of one 1 KiB leaf per second`,
        ),
      );
    }
    signal.throwIfAborted();

    // Derivation: MiB/s of deriveChunk vs the bare keystream it is built on, and vs randomBytes.
    const key = randomBytes(32);
    const iv = new Uint8Array(16);
    const zeros = new Uint8Array(CHUNK_SIZE);
    let chunkIndex = 0;
    const subjects = {
      raw: () => createCipheriv("aes-256-ctr", key, iv).update(zeros),
      derive: () =>
        deriveChunk({
          secret,
          minerHotkey: MINER,
          storeId: STORE_ID,
          chunkIndex: chunkIndex++,
          size: CHUNK_SIZE,
        }),
      random: () => randomBytes(CHUNK_SIZE),
    };
    // Interleaved rounds, best of each: on a shared machine load drifts, and a subject measured
    // only while the load peaked would be compared unfairly with its baseline.
    const best = {
      raw: Number.POSITIVE_INFINITY,
      derive: Number.POSITIVE_INFINITY,
      random: Number.POSITIVE_INFINITY,
    };
    for (let round = 0; round < 3; round++) {
      for (const name of ["raw", "derive", "random"] as const) {
        best[name] = Math.min(best[name], timeIt(subjects[name], 200));
      }
      signal.throwIfAborted();
    }
    const { raw: rawMs, derive: deriveMs, random: randomMs } = best;
    const mibs = (ms: number) => CHUNK_SIZE / MIB / (ms / 1000);
    report(
      measured(
        "validator.derive",
        mibs(deriveMs),
        "MiB/s",
        mibs(rawMs),
        "1 MiB chunks (HMAC key + AES-256-CTR keystream); baseline: raw AES-256-CTR keystream, fixed key",
      ),
    );
    report(
      measured(
        "validator.derive.vs_random_bytes",
        mibs(deriveMs),
        "MiB/s",
        mibs(randomMs),
        "baseline: crypto.randomBytes of 1 MiB",
      ),
    );
    signal.throwIfAborted();

    const dir = mkdtempSync(join(tmpdir(), "validator-bench-"));
    try {
      // Database bytes per stored chunk: 10 miners × 10 000 roots, filled in interleaved batches.
      const path = join(dir, "validator.sqlite");
      const db = ValidatorDb.open(path);
      try {
        const miners = Array.from({ length: 10 }, (_, i) =>
          db.upsertMiner({ hotkey: `miner-${i}`, uid: i, multiaddr: null, seenAt: 0 }),
        );
        const perMiner = DB_CHUNKS / miners.length;
        const batch = 1000;
        const fillStart = performance.now();
        for (let start = 0; start < perMiner; start += batch) {
          for (const miner of miners) {
            db.putChunkRoots(
              miner.id,
              Array.from({ length: batch }, (_, k) => ({ chunkIndex: start + k, root: randomBytes(32) })),
            );
          }
          signal.throwIfAborted();
        }
        const fillMs = performance.now() - fillStart;
        db.checkpoint();
        report(
          measured(
            "validator.db.bytes_per_chunk",
            statSync(path).size / DB_CHUNKS,
            "bytes",
            32,
            `${DB_CHUNKS} chunk roots over 10 miners, after a checkpoint; baseline: the 32-byte root itself; goal < 100`,
          ),
        );
        report(
          measured(
            "validator.db.roots_per_second",
            (DB_CHUNKS * 1000) / fillMs,
            "roots/s",
            null,
            "putChunkRoots in batches of 1000, one fsynced transaction each",
          ),
        );

        // A recorded challenge is one fsynced transaction; baseline: a raw 64-byte write + fsync.
        const policy = createPolicy("ema");
        const minerId = (miners[0] as { id: number }).id;
        let n = 0;
        const recordMs = timeIt(
          () => {
            db.recordChallenge(
              { id: randomBytes(NONCE_LENGTH), minerId, outcome: { kind: "pass", latencyMs: 40 }, at: n++ },
              [policy],
            );
          },
          500,
          10,
        );
        const raw = join(dir, "raw.bin");
        const fd = openSync(raw, "w");
        const record = randomBytes(64);
        let offset = 0;
        const fsyncMs = timeIt(
          () => {
            writeSync(fd, record, 0, record.length, offset);
            offset += record.length;
            fsyncSync(fd);
          },
          500,
          10,
        );
        closeSync(fd);
        report(
          measured(
            "validator.db.record_challenge",
            1000 / recordMs,
            "records/s",
            1000 / fsyncMs,
            "outcome + score update in one transaction (WAL, synchronous=FULL); baseline: raw 64-byte write + fsync",
          ),
        );
      } finally {
        db.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
