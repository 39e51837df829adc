import { createHash, randomBytes } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CHUNK_SIZE, LEAF_SIZE } from "../protocol/constants.js";
import {
  buildChunkTree,
  chunkRoot,
  EmptyChunkError,
  hashLeaf,
  hashNode,
  InvalidLeafSizeError,
  LeafIndexError,
  leafAt,
  leafCountFor,
  proveLeaves,
  verifyLeaves,
  verifyMultiProof,
} from "../protocol/merkle.js";
import type { MerkleMultiProof } from "../protocol/types.js";

const sha256 = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash("sha256");
  for (const part of parts) h.update(part);
  return new Uint8Array(h.digest());
};

function u64(value: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(value));
  return out;
}

/** Reference root, written independently: recursive halving with promotion of the odd last node. */
function referenceTop(hashes: Uint8Array[]): Uint8Array {
  let level = hashes;
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const left = level[i] as Uint8Array;
      const right = level[i + 1];
      next.push(right === undefined ? left : sha256(Uint8Array.of(1), left, right));
    }
    level = next;
  }
  return level[0] as Uint8Array;
}

function referenceChunkRoot(chunk: Uint8Array, leafSize: number): Uint8Array {
  const hashes: Uint8Array[] = [];
  for (let start = 0; start < chunk.length; start += leafSize) {
    hashes.push(sha256(Uint8Array.of(0), chunk.subarray(start, start + leafSize)));
  }
  return sha256(Uint8Array.of(3), u64(hashes.length), referenceTop(hashes));
}

/** The fewest siblings a multi-proof needs: siblings of proven-path nodes that are not on a path. */
function minimumSiblings(leafCount: number, indices: readonly number[]): number {
  let known = new Set(indices);
  let count = leafCount;
  let needed = 0;
  while (count > 1) {
    for (const position of known) {
      const sibling = position ^ 1;
      if (sibling < count && !known.has(sibling)) needed++;
    }
    known = new Set([...known].map((p) => p >>> 1));
    count = Math.ceil(count / 2);
  }
  return needed;
}

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = new Uint8Array(bytes);
  const byte = Math.floor(bit / 8) % out.length;
  out[byte] = (out[byte] as number) ^ (1 << (bit % 8));
  return out;
}

const leavesOf = (chunk: Uint8Array, indices: readonly number[], leafSize: number) =>
  indices.map((i) => leafAt(chunk, i, leafSize));

/** A chunk of random bytes with a leaf size of 16..64 bytes, so leaves are distinct in practice. */
const chunkArb = fc
  .record({ leafSize: fc.integer({ min: 16, max: 64 }), leafCount: fc.integer({ min: 1, max: 70 }) })
  .chain(({ leafSize, leafCount }) =>
    fc.record({
      leafSize: fc.constant(leafSize),
      // The last leaf is 1..leafSize bytes long.
      chunk: fc.uint8Array({
        minLength: (leafCount - 1) * leafSize + 1,
        maxLength: leafCount * leafSize,
      }),
    }),
  );

describe("leaf layout", () => {
  it("counts leaves with a short last leaf", () => {
    expect(leafCountFor(CHUNK_SIZE, LEAF_SIZE)).toBe(1024);
    expect(leafCountFor(CHUNK_SIZE - 1, LEAF_SIZE)).toBe(1024);
    expect(leafCountFor(CHUNK_SIZE + 1, LEAF_SIZE)).toBe(1025);
    expect(leafCountFor(1, LEAF_SIZE)).toBe(1);
    expect(leafCountFor(0, LEAF_SIZE)).toBe(0);
  });

  it("slices leaves, the last one short", () => {
    const chunk = Uint8Array.from({ length: 2500 }, (_, i) => i & 255);
    expect(leafAt(chunk, 0, 1000)).toEqual(chunk.subarray(0, 1000));
    expect(leafAt(chunk, 2, 1000)).toEqual(chunk.subarray(2000, 2500));
    expect(() => leafAt(chunk, 3, 1000)).toThrow(LeafIndexError);
    expect(() => leafAt(chunk, -1, 1000)).toThrow(LeafIndexError);
  });

  it("refuses empty chunks and bad leaf sizes with named errors", () => {
    expect(() => buildChunkTree(new Uint8Array(0))).toThrow(EmptyChunkError);
    expect(() => buildChunkTree(new Uint8Array(10), 0)).toThrow(InvalidLeafSizeError);
    expect(() => buildChunkTree(new Uint8Array(10), 1.5)).toThrow(InvalidLeafSizeError);
  });
});

describe("tree build", () => {
  it("matches an independent reference for many shapes", () => {
    fc.assert(
      fc.property(chunkArb, ({ chunk, leafSize }) => {
        const tree = buildChunkTree(chunk, leafSize);
        expect(tree.leafCount).toBe(Math.ceil(chunk.length / leafSize));
        expect(tree.root).toEqual(referenceChunkRoot(chunk, leafSize));
        expect(chunkRoot(chunk, leafSize)).toEqual(tree.root);
      }),
      { numRuns: 150 },
    );
  });

  it("matches the reference on a full 1 MiB chunk", () => {
    const chunk = new Uint8Array(randomBytes(CHUNK_SIZE));
    const tree = buildChunkTree(chunk);
    expect(tree.leafCount).toBe(1024);
    expect(tree.levels).toHaveLength(11);
    expect(tree.root).toEqual(referenceChunkRoot(chunk, LEAF_SIZE));
  });

  it("seals a one-leaf chunk as H(0x03 || u64 1 || H(0x00 || bytes))", () => {
    const bytes = new TextEncoder().encode("abc");
    const expected = sha256(Uint8Array.of(3), u64(1), sha256(Uint8Array.of(0), bytes));
    expect(chunkRoot(bytes)).toEqual(expected);
  });

  it("promotes the odd node: [a, b, c] and [a, b, c, c] have different roots", () => {
    const leafSize = 32;
    const [a, b, c] = [randomBytes(32), randomBytes(32), randomBytes(32)];
    const three = new Uint8Array(Buffer.concat([a, b, c]));
    const four = new Uint8Array(Buffer.concat([a, b, c, c]));
    expect(chunkRoot(three, leafSize)).not.toEqual(chunkRoot(four, leafSize));
    // The top of [a, b, c] is H(0x01 || H(0x01 || a' || b') || c'): c' is promoted, not hashed again.
    const [ha, hb, hc] = [hashLeaf(a), hashLeaf(b), hashLeaf(c)];
    const tree = buildChunkTree(three, leafSize);
    expect(tree.levels[2]).toEqual(hashNode(hashNode(ha, hb), hc));
  });
});

describe("proofs", () => {
  it("every leaf's one-leaf proof verifies", () => {
    fc.assert(
      fc.property(chunkArb, ({ chunk, leafSize }) => {
        const tree = buildChunkTree(chunk, leafSize);
        for (let i = 0; i < tree.leafCount; i++) {
          const proof = proveLeaves(tree, [i]);
          expect(proof.siblings.length).toBe(minimumSiblings(tree.leafCount, [i]));
          expect(verifyLeaves(tree.root, [leafAt(chunk, i, leafSize)], proof)).toBe(true);
          expect(verifyMultiProof(tree.root, [hashLeaf(leafAt(chunk, i, leafSize))], proof)).toBe(true);
        }
      }),
      { numRuns: 60 },
    );
  });

  it("every leaf of a 1 MiB chunk proves with 10 siblings", () => {
    const chunk = new Uint8Array(randomBytes(CHUNK_SIZE));
    const tree = buildChunkTree(chunk);
    for (let i = 0; i < tree.leafCount; i++) {
      const proof = proveLeaves(tree, [i]);
      expect(proof.siblings).toHaveLength(10);
      expect(verifyLeaves(tree.root, [leafAt(chunk, i)], proof)).toBe(true);
    }
  });

  it("multi-leaf proofs verify and send each needed sibling once, and no computable one", () => {
    const arb = chunkArb.chain(({ chunk, leafSize }) => {
      const leafCount = Math.ceil(chunk.length / leafSize);
      return fc.record({
        chunk: fc.constant(chunk),
        leafSize: fc.constant(leafSize),
        indices: fc
          .uniqueArray(fc.integer({ min: 0, max: leafCount - 1 }), { minLength: 1, maxLength: leafCount })
          .map((xs) => xs.sort((x, y) => x - y)),
      });
    });
    fc.assert(
      fc.property(arb, ({ chunk, leafSize, indices }) => {
        const tree = buildChunkTree(chunk, leafSize);
        const proof = proveLeaves(tree, indices);
        expect(proof.indices).toEqual(indices);
        expect(proof.siblings.length).toBe(minimumSiblings(tree.leafCount, indices));
        expect(verifyLeaves(tree.root, leavesOf(chunk, indices, leafSize), proof)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it("has the expected sibling counts in hand-checked cases", () => {
    const chunk = new Uint8Array(randomBytes(8 * 32));
    const tree = buildChunkTree(chunk, 32);
    expect(proveLeaves(tree, [0]).siblings).toHaveLength(3);
    expect(proveLeaves(tree, [0, 1]).siblings).toHaveLength(2); // leaf 1 is proven, not sent
    expect(proveLeaves(tree, [0, 2]).siblings).toHaveLength(3); // leaves 1, 3 and node 1 at level 2
    expect(proveLeaves(tree, [0, 7]).siblings).toHaveLength(4); // the two top-level halves meet
    expect(proveLeaves(tree, [0, 1, 2, 3, 4, 5, 6, 7]).siblings).toHaveLength(0);
    const odd = buildChunkTree(new Uint8Array(randomBytes(5 * 32)), 32);
    // Leaf 4 of 5 is promoted twice and meets the rest at the top: one sibling.
    expect(proveLeaves(odd, [4]).siblings).toHaveLength(1);
    expect(proveLeaves(odd, [4]).siblings[0]).toEqual(odd.levels[2]?.subarray(0, 32));
  });

  it("refuses bad indices when proving", () => {
    const tree = buildChunkTree(new Uint8Array(randomBytes(256)), 32);
    for (const indices of [[], [1, 1], [2, 1], [8], [-1], [0.5]]) {
      expect(() => proveLeaves(tree, indices)).toThrow(LeafIndexError);
    }
  });
});

describe("tampering", () => {
  const caseArb = chunkArb.chain(({ chunk, leafSize }) => {
    const leafCount = Math.ceil(chunk.length / leafSize);
    return fc.record({
      chunk: fc.constant(chunk),
      leafSize: fc.constant(leafSize),
      index: fc.integer({ min: 0, max: leafCount - 1 }),
      bit: fc.nat(),
    });
  });

  it("flipping any bit of the leaf, a sibling, the root, the index or the leaf count fails", () => {
    fc.assert(
      fc.property(caseArb, ({ chunk, leafSize, index, bit }) => {
        const tree = buildChunkTree(chunk, leafSize);
        const proof = proveLeaves(tree, [index]);
        const leaf = leafAt(chunk, index, leafSize);
        expect(verifyLeaves(tree.root, [leaf], proof)).toBe(true);

        expect(verifyLeaves(tree.root, [flipBit(leaf, bit)], proof)).toBe(false);
        expect(verifyLeaves(flipBit(tree.root, bit), [leaf], proof)).toBe(false);
        proof.siblings.forEach((_, s) => {
          const siblings = proof.siblings.map((x, j) => (j === s ? flipBit(x, bit) : x));
          expect(verifyLeaves(tree.root, [leaf], { ...proof, siblings })).toBe(false);
        });
        for (let b = 0; b < 8; b++) {
          expect(verifyLeaves(tree.root, [leaf], { ...proof, indices: [index ^ (1 << b)] })).toBe(false);
        }
        const leafCount = tree.leafCount ^ (1 << (bit % 8));
        expect(verifyLeaves(tree.root, [leaf], { ...proof, leafCount })).toBe(false);
      }),
      { numRuns: 150 },
    );
  });

  it("swapping two proven leaves fails", () => {
    const chunk = new Uint8Array(randomBytes(16 * 64));
    const tree = buildChunkTree(chunk, 64);
    const proof = proveLeaves(tree, [3, 9]);
    expect(verifyLeaves(tree.root, leavesOf(chunk, [3, 9], 64), proof)).toBe(true);
    expect(verifyLeaves(tree.root, leavesOf(chunk, [9, 3], 64), proof)).toBe(false);
  });
});

describe("domain separation", () => {
  const chunk = new Uint8Array(randomBytes(4 * 32));
  const tree = buildChunkTree(chunk, 32);
  const h = [0, 1, 2, 3].map((i) => hashLeaf(leafAt(chunk, i, 32)));
  const n0 = hashNode(h[0] as Uint8Array, h[1] as Uint8Array);
  const n1 = hashNode(h[2] as Uint8Array, h[3] as Uint8Array);

  it("a node's preimage cannot pass as a leaf", () => {
    expect(tree.levels[1]?.subarray(0, 32)).toEqual(n0);
    const fakeLeaf = new Uint8Array(Buffer.concat([h[0] as Uint8Array, h[1] as Uint8Array]));
    expect(hashLeaf(fakeLeaf)).not.toEqual(n0);
    expect(hashLeaf(Uint8Array.of(1, ...fakeLeaf))).not.toEqual(n0);
    for (const leafCount of [2, 4]) {
      expect(verifyLeaves(tree.root, [fakeLeaf], { leafCount, indices: [0], siblings: [n1] })).toBe(false);
    }
  });

  it("a node given as a leaf hash does not verify under a smaller leaf count", () => {
    // Without the sealed leaf count, [n0] with sibling n1 would recompute the same top node.
    expect(verifyMultiProof(tree.root, [n0], { leafCount: 2, indices: [0], siblings: [n1] })).toBe(false);
    expect(verifyMultiProof(tree.root, [h[0] as Uint8Array], proveLeaves(tree, [0]))).toBe(true);
  });
});

describe("malformed proofs", () => {
  const chunk = new Uint8Array(randomBytes(10 * 32));
  const tree = buildChunkTree(chunk, 32);
  const good = proveLeaves(tree, [2, 5]);
  const leaves = leavesOf(chunk, [2, 5], 32);

  it("returns false, never throws, for broken fields", () => {
    expect(verifyLeaves(tree.root, leaves, good)).toBe(true);
    const broken: unknown[] = [
      { ...good, indices: [5, 2] },
      { ...good, indices: [2, 2] },
      { ...good, indices: [2] },
      { ...good, indices: [2, 5, 7] },
      { ...good, indices: [2, 10] },
      { ...good, indices: [-2, 5] },
      { ...good, indices: [2, 5.5] },
      { ...good, indices: [2, Number.NaN] },
      { ...good, indices: [] },
      { ...good, indices: "2,5" },
      { ...good, leafCount: 0 },
      { ...good, leafCount: -10 },
      { ...good, leafCount: Number.NaN },
      { ...good, leafCount: 2 ** 60 },
      { ...good, leafCount: "10" },
      { ...good, siblings: good.siblings.slice(1) },
      { ...good, siblings: [...good.siblings, good.siblings[0]] },
      { ...good, siblings: good.siblings.map((s) => s.subarray(1)) },
      { ...good, siblings: [new Uint8Array(33), ...good.siblings.slice(1)] },
      { ...good, siblings: [null, ...good.siblings.slice(1)] },
      { ...good, siblings: undefined },
      {},
      null,
      undefined,
      42,
    ];
    for (const proof of broken) {
      expect(verifyLeaves(tree.root, leaves, proof as MerkleMultiProof)).toBe(false);
      expect(verifyMultiProof(tree.root, leaves.map(hashLeaf), proof as MerkleMultiProof)).toBe(false);
    }
    expect(verifyLeaves(tree.root, [leaves[0] as Uint8Array], good)).toBe(false);
    expect(verifyLeaves(tree.root, [...leaves, leaves[0] as Uint8Array], good)).toBe(false);
    expect(verifyLeaves(tree.root, [new Uint8Array(0), leaves[1] as Uint8Array], good)).toBe(false);
    expect(verifyMultiProof(tree.root, [new Uint8Array(31), new Uint8Array(32)], good)).toBe(false);
    expect(verifyLeaves(tree.root.subarray(1), leaves, good)).toBe(false);
    expect(verifyLeaves(tree.root, "leaves" as unknown as Uint8Array[], good)).toBe(false);
  });

  it("returns false, never throws, for arbitrary values", () => {
    fc.assert(
      fc.property(fc.anything(), fc.anything(), (proof, leafList) => {
        expect(verifyLeaves(tree.root, leafList as Uint8Array[], proof as MerkleMultiProof)).toBe(false);
        expect(verifyLeaves(tree.root, leaves, proof as MerkleMultiProof)).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it("returns false, never throws, for random proof-shaped values", () => {
    const proofArb = fc.record({
      leafCount: fc.oneof(fc.integer({ min: -2, max: 12 }), fc.double()),
      indices: fc.array(fc.integer({ min: -1, max: 11 }), { maxLength: 4 }),
      siblings: fc.array(fc.uint8Array({ minLength: 30, maxLength: 33 }), { maxLength: 6 }),
    });
    fc.assert(
      fc.property(proofArb, (proof) => {
        expect(verifyLeaves(tree.root, leaves, proof)).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});
