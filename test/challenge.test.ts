import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  answerChallenge,
  ChallengeParamsError,
  ChunkUnavailableError,
  type CreateChallengeParams,
  computeBinding,
  createChallenge,
  DuplicateChunkError,
  verifyResponse,
} from "../protocol/challenge.js";
import { LEAF_SIZE, NONCE_LENGTH } from "../protocol/constants.js";
import { buildChunkTree, chunkRoot, leafCountFor } from "../protocol/merkle.js";
import type { Challenge, ChallengeResponse } from "../protocol/types.js";

/** Deterministic test bytes: SHA-256 in counter mode over a label. */
function bytesFrom(label: string, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let offset = 0, i = 0; offset < length; offset += 32, i++) {
    const block = createHash("sha256").update(`${label}/${i}`).digest();
    out.set(block.subarray(0, Math.min(32, length - offset)), offset);
  }
  return out;
}

const nonceOf = (label: string | number) => bytesFrom(`nonce/${label}`, NONCE_LENGTH);

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = new Uint8Array(bytes);
  const byte = Math.floor(bit / 8) % out.length;
  out[byte] = (out[byte] as number) ^ (1 << (bit % 8));
  return out;
}

/** A small store: 12 chunks of 64 KiB (64 leaves), the last one short (20 000 bytes → 20 leaves). */
const STORE_ID = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
const chunks = Array.from({ length: 12 }, (_, i) => bytesFrom(`chunk/${i}`, i === 11 ? 20_000 : 64 * 1024));
const roots = chunks.map((chunk) => chunkRoot(chunk));
const leafCountOf = (i: number) => leafCountFor((chunks[i] as Uint8Array).length, LEAF_SIZE);
const readChunk = (i: number) => chunks[i];
const NOW = 1_700_000_000_000;

function challengeWith(overrides: Partial<CreateChallengeParams> = {}): Challenge {
  return createChallenge({
    storeId: STORE_ID,
    chunkCount: chunks.length,
    leafCount: leafCountOf,
    chunksPerChallenge: 3,
    leavesPerChunk: 4,
    nonce: nonceOf("default"),
    now: NOW,
    ttlMs: 10_000,
    ...overrides,
  });
}

const verifyAt = (challenge: Challenge, response: ChallengeResponse, now = NOW + 1) =>
  verifyResponse(challenge, response, { rootOf: (i) => roots[i], now });

function clone(response: ChallengeResponse): ChallengeResponse {
  return {
    nonce: new Uint8Array(response.nonce),
    binding: new Uint8Array(response.binding),
    chunks: response.chunks.map((c) => ({
      chunkIndex: c.chunkIndex,
      leaves: c.leaves.map((l) => new Uint8Array(l)),
      proof: {
        leafCount: c.proof.leafCount,
        indices: [...c.proof.indices],
        siblings: c.proof.siblings.map((s) => new Uint8Array(s)),
      },
    })),
  };
}

describe("createChallenge", () => {
  it("picks distinct, sorted, in-range chunks and leaves, reproducibly from the nonce", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: NONCE_LENGTH, maxLength: NONCE_LENGTH }),
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 40 }),
        (nonce, chunkCount, leafCount, chunksPerChallenge, leavesPerChunk) => {
          const params = {
            storeId: STORE_ID,
            chunkCount,
            leafCount,
            chunksPerChallenge,
            leavesPerChunk,
            nonce,
            now: NOW,
            ttlMs: 5000,
          };
          const challenge = createChallenge(params);
          expect(createChallenge(params)).toEqual(challenge);
          expect(challenge.deadline).toBe(NOW + 5000);
          expect(challenge.nonce).toEqual(nonce);
          const chunkIndices = challenge.chunks.map((c) => c.chunkIndex);
          expect(chunkIndices).toHaveLength(Math.min(chunksPerChallenge, chunkCount));
          expect(new Set(chunkIndices).size).toBe(chunkIndices.length);
          expect([...chunkIndices].sort((a, b) => a - b)).toEqual(chunkIndices);
          for (const { chunkIndex, leafIndices } of challenge.chunks) {
            expect(chunkIndex).toBeGreaterThanOrEqual(0);
            expect(chunkIndex).toBeLessThan(chunkCount);
            expect(leafIndices).toHaveLength(Math.min(leavesPerChunk, leafCount));
            expect(new Set(leafIndices).size).toBe(leafIndices.length);
            expect([...leafIndices].sort((a, b) => a - b)).toEqual(leafIndices);
            for (const leaf of leafIndices) expect(leaf >= 0 && leaf < leafCount).toBe(true);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it("gives a different challenge for a different nonce or store", () => {
    const a = challengeWith({ nonce: nonceOf(1) });
    expect(challengeWith({ nonce: nonceOf(2) }).chunks).not.toEqual(a.chunks);
    expect(challengeWith({ nonce: nonceOf(1), storeId: "another-store" }).chunks).not.toEqual(a.chunks);
  });

  it("respects a per-chunk leaf count (the short last chunk)", () => {
    for (let n = 0; n < 50; n++) {
      const challenge = challengeWith({
        nonce: nonceOf(`short/${n}`),
        chunksPerChallenge: 12,
        leavesPerChunk: 30,
      });
      const last = challenge.chunks.find((c) => c.chunkIndex === 11);
      expect(last?.leafIndices).toHaveLength(20);
      expect(last?.leafIndices.every((i) => i < 20)).toBe(true);
    }
  });

  it("spreads picks evenly over the chunks (fixed nonces, so deterministic)", () => {
    const counts = new Array<number>(10).fill(0);
    for (let n = 0; n < 2000; n++) {
      const challenge = createChallenge({
        storeId: STORE_ID,
        chunkCount: 10,
        leafCount: 1024,
        chunksPerChallenge: 1,
        leavesPerChunk: 1,
        nonce: nonceOf(n),
        now: NOW,
        ttlMs: 1,
      });
      const index = challenge.chunks[0]?.chunkIndex as number;
      counts[index] = (counts[index] as number) + 1;
    }
    // Expected 200 each; ±25% is over 5 standard deviations (σ ≈ 13.4).
    for (const count of counts) {
      expect(count).toBeGreaterThan(150);
      expect(count).toBeLessThan(250);
    }
  });

  it("refuses parameters that cannot make a challenge", () => {
    const bad: Partial<CreateChallengeParams>[] = [
      { nonce: new Uint8Array(31) },
      { chunkCount: 0 },
      { chunkCount: 1.5 },
      { chunksPerChallenge: 0 },
      { leavesPerChunk: -1 },
      { leafCount: 0 },
      { leafCount: () => Number.NaN },
      { ttlMs: 0 },
      { now: Number.NaN },
    ];
    for (const overrides of bad) expect(() => challengeWith(overrides)).toThrow(ChallengeParamsError);
  });
});

describe("answer and verify", () => {
  it("an honest answer verifies, for any nonce", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: NONCE_LENGTH, maxLength: NONCE_LENGTH }), (nonce) => {
        const challenge = challengeWith({ nonce, chunksPerChallenge: 4 });
        const response = answerChallenge(challenge, readChunk);
        expect(response.nonce).toEqual(nonce);
        expect(response.chunks.map((c) => c.chunkIndex)).toEqual(challenge.chunks.map((c) => c.chunkIndex));
        expect(verifyAt(challenge, response)).toEqual({ ok: true });
      }),
      { numRuns: 40 },
    );
  });

  it("the binding is the documented digest", () => {
    const challenge = challengeWith();
    const response = answerChallenge(challenge, readChunk);
    expect(response.binding).toEqual(computeBinding(challenge.nonce, STORE_ID, response.chunks));
    expect(computeBinding(nonceOf("other"), STORE_ID, response.chunks)).not.toEqual(response.binding);
    expect(computeBinding(challenge.nonce, "other", response.chunks)).not.toEqual(response.binding);
  });

  it("works on a full 1 MiB chunk with the default leaf size", () => {
    const big = bytesFrom("big", 1 << 20);
    const challenge = createChallenge({
      storeId: STORE_ID,
      chunkCount: 1,
      leafCount: 1024,
      chunksPerChallenge: 1,
      leavesPerChunk: 1,
      nonce: nonceOf("big"),
      now: NOW,
      ttlMs: 1000,
    });
    const response = answerChallenge(challenge, () => big);
    expect(response.chunks[0]?.proof.siblings).toHaveLength(10);
    const ok = verifyResponse(challenge, response, { rootOf: () => chunkRoot(big), now: NOW });
    expect(ok).toEqual({ ok: true });
  });

  it("the miner cannot answer for a missing or truncated chunk", () => {
    const challenge = challengeWith({ chunksPerChallenge: 12 });
    expect(() => answerChallenge(challenge, (i) => (i === 5 ? undefined : chunks[i]))).toThrow(
      ChunkUnavailableError,
    );
    const truncated = (i: number) => (i === 5 ? chunks[5]?.subarray(0, 1024) : chunks[i]);
    try {
      answerChallenge(challenge, truncated);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ChunkUnavailableError);
      expect((error as ChunkUnavailableError).chunkIndex).toBe(5);
      expect((error as Error).cause).toBeInstanceOf(Error);
    }
  });
});

describe("answering with a tree cache", () => {
  it("a cached tree gives the same answer as a built one, and is asked for each chunk", () => {
    const challenge = challengeWith({ chunksPerChallenge: 4 });
    const asked: number[] = [];
    const cached = answerChallenge(challenge, readChunk, {
      treeOf: (i, chunk) => {
        asked.push(i);
        return buildChunkTree(chunk);
      },
    });
    expect(asked).toEqual(challenge.chunks.map((c) => c.chunkIndex));
    expect(cached).toEqual(answerChallenge(challenge, readChunk));
  });

  it("leaves come from the read bytes, so rotted bytes under a cached tree fail verification", () => {
    const challenge = challengeWith({ chunksPerChallenge: 1, leavesPerChunk: 64 });
    const index = challenge.chunks[0]?.chunkIndex as number;
    const rotted = flipBit(chunks[index] as Uint8Array, 0);
    const response = answerChallenge(challenge, () => rotted, {
      treeOf: () => buildChunkTree(chunks[index] as Uint8Array),
    });
    expect(verifyAt(challenge, response)).toEqual({ ok: false, reason: "bad-proof", chunkIndex: index });
  });
});

describe("answering from the challenged leaves alone", () => {
  const trees = chunks.map((chunk) => buildChunkTree(chunk));
  const leavesOf = (i: number, indices: readonly number[]) =>
    indices.map((index) => (chunks[i] as Uint8Array).slice(index * LEAF_SIZE, (index + 1) * LEAF_SIZE));

  it("gives the same answer as a whole read, without reading any chunk whole", () => {
    const challenge = challengeWith({ chunksPerChallenge: 12, leavesPerChunk: 16 });
    const wholeReads: number[] = [];
    const response = answerChallenge(
      challenge,
      (i) => {
        wholeReads.push(i);
        return chunks[i];
      },
      { knownTree: (i) => trees[i], readLeaves: leavesOf },
    );
    expect(wholeReads).toEqual([]);
    expect(response).toEqual(answerChallenge(challenge, readChunk));
    expect(verifyAt(challenge, response)).toEqual({ ok: true });
  });

  it("reads a chunk whole when its tree is not known or its leaves do not fit the tree", () => {
    const challenge = challengeWith({ chunksPerChallenge: 4 });
    const uncached = challenge.chunks[1]?.chunkIndex as number;
    const wholeReads: number[] = [];
    const read = (i: number) => {
      wholeReads.push(i);
      return chunks[i];
    };
    const response = answerChallenge(challenge, read, {
      knownTree: (i) => (i === uncached ? undefined : trees[i]),
      readLeaves: leavesOf,
    });
    expect(wholeReads).toEqual([uncached]);
    expect(verifyAt(challenge, response)).toEqual({ ok: true });
    // Leaves cut short (the chunk changed under the tree): every chunk is read whole instead.
    wholeReads.length = 0;
    answerChallenge(challenge, read, {
      knownTree: (i) => trees[i],
      readLeaves: (_, indices) => indices.map(() => new Uint8Array(0)),
    });
    expect(wholeReads).toEqual(challenge.chunks.map((c) => c.chunkIndex));
  });

  it("a missing chunk is unavailable, and rotted leaves under a known tree fail verification", () => {
    const challenge = challengeWith({ chunksPerChallenge: 1, leavesPerChunk: 8 });
    const index = challenge.chunks[0]?.chunkIndex as number;
    expect(() =>
      answerChallenge(challenge, readChunk, { knownTree: (i) => trees[i], readLeaves: () => undefined }),
    ).toThrow(ChunkUnavailableError);
    const rotted = answerChallenge(challenge, readChunk, {
      knownTree: (i) => trees[i],
      readLeaves: (i, indices) => leavesOf(i, indices).map((leaf) => flipBit(leaf, 3)),
    });
    expect(verifyAt(challenge, rotted)).toEqual({ ok: false, reason: "bad-proof", chunkIndex: index });
  });

  it("refuses a challenge that names a chunk twice or out of order", () => {
    const challenge = challengeWith({ chunksPerChallenge: 2 });
    const [a, b] = challenge.chunks as [Challenge["chunks"][0], Challenge["chunks"][0]];
    for (const named of [[a, a], [b, a], Array.from({ length: 64 }, () => a)]) {
      expect(() => answerChallenge({ ...challenge, chunks: named }, readChunk)).toThrow(DuplicateChunkError);
    }
  });
});

describe("refusals", () => {
  const challenge = challengeWith({ chunksPerChallenge: 3, leavesPerChunk: 3 });
  const honest = answerChallenge(challenge, readChunk);

  it("an answer after the deadline is expired", () => {
    expect(verifyAt(challenge, honest, challenge.deadline)).toEqual({ ok: true });
    expect(verifyAt(challenge, honest, challenge.deadline + 1)).toEqual({ ok: false, reason: "expired" });
  });

  it("a response to challenge A fails for challenge B with the same leaves and another nonce", () => {
    const b: Challenge = { ...challenge, nonce: nonceOf("B") };
    expect(verifyAt(b, honest)).toEqual({ ok: false, reason: "nonce-mismatch" });
    // Echoing B's nonce does not help: the binding was computed over A's.
    expect(verifyAt(b, { ...clone(honest), nonce: new Uint8Array(b.nonce) })).toEqual({
      ok: false,
      reason: "bad-binding",
    });
    // Recomputing the binding for B would need only public data; what makes a replay fail for a
    // real challenge B is that B's nonce picks other leaves:
    const realB = challengeWith({ chunksPerChallenge: 3, leavesPerChunk: 3, nonce: nonceOf("B") });
    const replay = { ...clone(honest), nonce: new Uint8Array(realB.nonce) };
    replay.binding = computeBinding(realB.nonce, STORE_ID, replay.chunks);
    const result = verifyAt(realB, replay);
    expect(result.ok).toBe(false);
    expect(["missing-chunk", "wrong-leaves"]).toContain(result.ok ? "" : result.reason);
  });

  it("flipping any bit of a leaf, sibling, nonce, binding, index or root fails", () => {
    fc.assert(
      fc.property(fc.nat(), fc.nat(), fc.nat(), (c, j, bit) => {
        const chunk = honest.chunks[c % honest.chunks.length];
        if (chunk === undefined) throw new Error("no chunk");
        const at = c % honest.chunks.length;
        const leafAtJ = j % chunk.leaves.length;
        const siblingAtJ = j % chunk.proof.siblings.length;

        const leaf = clone(honest);
        leaf.chunks[at]?.leaves.splice(leafAtJ, 1, flipBit(chunk.leaves[leafAtJ] as Uint8Array, bit % 8));
        // Flip within the first byte so a full-length leaf stays full length.
        expect(verifyAt(challenge, leaf)).toMatchObject({ ok: false, reason: "bad-proof" });

        const sibling = clone(honest);
        sibling.chunks[at]?.proof.siblings.splice(
          siblingAtJ,
          1,
          flipBit(chunk.proof.siblings[siblingAtJ] as Uint8Array, bit),
        );
        expect(verifyAt(challenge, sibling)).toMatchObject({ ok: false, reason: "bad-proof" });

        const nonce = { ...clone(honest), nonce: flipBit(honest.nonce, bit) };
        expect(verifyAt(challenge, nonce)).toEqual({ ok: false, reason: "nonce-mismatch" });

        const binding = { ...clone(honest), binding: flipBit(honest.binding, bit) };
        expect(verifyAt(challenge, binding)).toEqual({ ok: false, reason: "bad-binding" });

        const index = clone(honest);
        const proof = index.chunks[at]?.proof;
        if (proof === undefined) throw new Error("no proof");
        proof.indices[leafAtJ] = (proof.indices[leafAtJ] as number) ^ (1 << (bit % 6));
        expect(verifyAt(challenge, index).ok).toBe(false);

        const badRoots = roots.map((r, i) => (i === chunk.chunkIndex ? flipBit(r, bit) : r));
        const result = verifyResponse(challenge, honest, { rootOf: (i) => badRoots[i], now: NOW });
        expect(result).toEqual({ ok: false, reason: "bad-proof", chunkIndex: chunk.chunkIndex });
      }),
      { numRuns: 100 },
    );
  });

  it("names a missing chunk, other leaves and an unknown root", () => {
    const dropped = clone(honest);
    dropped.chunks.splice(1, 1);
    expect(verifyAt(challenge, dropped)).toMatchObject({ ok: false, reason: "missing-chunk" });

    const extra = clone(honest);
    extra.chunks.push(clone(honest).chunks[0] as (typeof extra.chunks)[number]);
    expect(verifyAt(challenge, extra)).toEqual({ ok: false, reason: "malformed" });

    // A proof of other leaves of the right chunk is refused even though it is a valid proof.
    const other = createChallenge({
      storeId: STORE_ID,
      chunkCount: 12,
      leafCount: leafCountOf,
      chunksPerChallenge: 3,
      leavesPerChunk: 3,
      nonce: nonceOf("other"),
      now: NOW,
      ttlMs: 10_000,
    });
    const otherLeaves: Challenge = {
      ...other,
      chunks: challenge.chunks.map((c) => ({ chunkIndex: c.chunkIndex, leafIndices: [0, 1, 2] })),
    };
    const wrong = answerChallenge({ ...otherLeaves, nonce: challenge.nonce }, readChunk);
    const first = challenge.chunks[0]?.chunkIndex;
    expect(verifyAt(challenge, wrong)).toEqual({ ok: false, reason: "wrong-leaves", chunkIndex: first });

    const result = verifyResponse(challenge, honest, { rootOf: () => undefined, now: NOW });
    expect(result).toEqual({ ok: false, reason: "unknown-root", chunkIndex: first });
  });

  it("a truncated full leaf is malformed", () => {
    const short = clone(honest);
    const firstLeaves = short.chunks[0]?.leaves;
    if (firstLeaves === undefined) throw new Error("no leaves");
    firstLeaves[0] = (firstLeaves[0] as Uint8Array).subarray(0, 100);
    expect(verifyAt(challenge, short)).toEqual({ ok: false, reason: "malformed" });
  });

  it("returns a reason, never throws, for arbitrary input", () => {
    fc.assert(
      fc.property(fc.anything(), (response) => {
        const result = verifyAt(challenge, response as ChallengeResponse);
        expect(result).toEqual({ ok: false, reason: "malformed" });
      }),
      { numRuns: 300 },
    );
  });

  it("returns a reason, never throws, for randomly broken responses", () => {
    const mutations: ((r: ChallengeResponse) => unknown)[] = [
      (r) => ({ ...r, chunks: null }),
      (r) => ({ ...r, nonce: r.nonce.subarray(1) }),
      (r) => ({ ...r, binding: "binding" }),
      (r) => ({ ...r, chunks: [null] }),
      (r) => ({ ...r, chunks: r.chunks.map((c) => ({ ...c, leaves: c.leaves.slice(1) })) }),
      (r) => ({ ...r, chunks: r.chunks.map((c) => ({ ...c, proof: null })) }),
      (r) => ({ ...r, chunks: r.chunks.map((c) => ({ ...c, chunkIndex: "1" })) }),
      (r) => ({ ...r, chunks: r.chunks.map((c) => ({ ...c, proof: { ...c.proof, leafCount: -1 } })) }),
      (r) => ({ ...r, chunks: r.chunks.map((c) => ({ ...c, proof: { ...c.proof, siblings: [1, 2] } })) }),
      (r) => ({
        ...r,
        chunks: r.chunks.map((c) => ({ ...c, leaves: c.leaves.map(() => new Uint8Array(0)) })),
      }),
      (r) => ({ ...r, chunks: r.chunks.map((c) => ({ ...c, proof: { ...c.proof, indices: [] } })) }),
      (r) => ({ ...r, chunks: r.chunks.map((c) => ({ ...c, proof: { ...c.proof, siblings: [] } })) }),
      (r) => ({
        ...r,
        chunks: r.chunks.map((c) => ({ ...c, proof: { ...c.proof, leafCount: c.proof.leafCount + 1 } })),
      }),
    ];
    for (const mutate of mutations) {
      const result = verifyAt(challenge, mutate(clone(honest)) as ChallengeResponse);
      expect(result.ok).toBe(false);
    }
  });
});
