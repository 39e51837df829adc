import { randomBytes } from "node:crypto";
import { importer } from "ipfs-unixfs-importer";
import { fixedSize } from "ipfs-unixfs-importer/chunker";
import { balanced } from "ipfs-unixfs-importer/layout";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { sha512 } from "multiformats/hashes/sha2";
import { describe, expect, it } from "vitest";
import {
  BlockVerificationError,
  CHUNK_BYTES,
  ContentRangeError,
  FileDagError,
  importFile,
  MAX_BLOCK_BYTES,
  readFile,
  readRange,
  verifyBlock,
} from "../protocol/content-id.js";

const MiB = 1024 * 1024;

/** Yields `bytes` in uneven pieces, as a file read or a socket would. */
async function* pieces(bytes: Uint8Array, size = 300_001): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

/** Imports into a Map, the store every reader test fetches from. */
async function store(bytes: Uint8Array): Promise<{ root: CID; blocks: Map<string, Uint8Array> }> {
  const blocks = new Map<string, Uint8Array>();
  const root = await importFile(pieces(bytes), {
    onBlock: (cid, block) => {
      blocks.set(cid.toString(), block);
    },
  });
  return { root, blocks };
}

/** A fetcher over a Map that records every CID asked for. */
function fetcherOf(blocks: Map<string, Uint8Array>) {
  const fetched: string[] = [];
  const fetchBlock = async (cid: CID) => {
    fetched.push(cid.toString());
    const block = blocks.get(cid.toString());
    if (block === undefined) throw new Error(`no block ${cid}`);
    return block;
  };
  return { fetchBlock, fetched };
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const part of source) parts.push(part);
  return Buffer.concat(parts);
}

/**
 * The importer run directly with the settings of
 * `ipfs add --cid-version 1 --raw-leaves --chunker size-1048576`, written out here rather than
 * taken from the module, so a change to the module's options cannot pass unnoticed.
 */
async function kuboEquivalentCid(bytes: Uint8Array): Promise<string> {
  const blockstore = { put: async (cid: CID) => cid };
  let root: CID | undefined;
  const options = {
    cidVersion: 1 as const,
    rawLeaves: true,
    reduceSingleLeafToSelf: true,
    chunker: fixedSize({ chunkSize: 1048576 }),
    layout: balanced({ maxChildrenPerNode: 174 }),
  };
  for await (const entry of importer([{ content: bytes }], blockstore, options)) root = entry.cid;
  return String(root);
}

describe("content IDs", () => {
  it("equal the importer's CID with the Kubo settings, at every size boundary", async () => {
    for (const size of [0, 1, MiB - 1, MiB, MiB + 1, 5 * MiB + 12_345]) {
      const bytes = randomBytes(size);
      const { root } = await store(bytes);
      expect(root.toString(), `${size} B`).toBe(await kuboEquivalentCid(bytes));
      // One chunk or less is the raw leaf itself; more is a dag-pb root over raw leaves.
      expect(root.code, `${size} B`).toBe(size <= CHUNK_BYTES ? raw.code : 0x70);
    }
  });

  it("equal published values", async () => {
    const utf8 = (text: string) => new TextEncoder().encode(text);
    // "hello world\n" as ipfs/boxo's gateway example serves it
    // (examples/gateway/car-file/main_test.go, TestFile); also Kubo's output for these flags.
    expect(String(await importFile(pieces(utf8("hello world\n")), { onBlock: () => {} }))).toBe(
      "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4",
    );
    // The empty file is the raw block of no bytes (SHA-256 of "").
    expect(String(await importFile(pieces(new Uint8Array(0)), { onBlock: () => {} }))).toBe(
      "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
    );
    // Multi-block values another project pins as Kubo's output for
    // `ipfs add --cid-version=1 --raw-leaves --chunker=size-1048576` (found by code search;
    // they agree with the importer, an independent check of the dag-pb root encoding).
    expect(String(await importFile(pieces(new Uint8Array(2 * MiB).fill(0x61)), { onBlock: () => {} }))).toBe(
      "bafybeibyhwn67sarrmt4xblquc35mbmss34jv3gjlziuggakuxu7iwmpwu",
    );
    expect(String(await importFile(pieces(new Uint8Array(MiB + 1)), { onBlock: () => {} }))).toBe(
      "bafybeihd4yzq7n5umhjngdum4r6k2to7egxfkf2jz6thvwzf6djus22cmq",
    );
    const counting = Uint8Array.from({ length: 5_915_607 }, (_, i) => i & 0xff);
    expect(String(await importFile(pieces(counting), { onBlock: () => {} }))).toBe(
      "bafybeiffilkaoouj2rwsybiyw7hvaslighb6yvof4czkehkreyswvh2esq",
    );
  });

  it("hand every block to onBlock, each verifiable on its own", async () => {
    const bytes = randomBytes(3 * MiB + 7);
    const { root, blocks } = await store(bytes);
    // Four leaves and the root.
    expect(blocks.size).toBe(5);
    expect(blocks.has(root.toString())).toBe(true);
    for (const [cid, block] of blocks) {
      expect(block.length).toBeLessThanOrEqual(CHUNK_BYTES + 1024);
      verifyBlock(CID.parse(cid), block);
    }
  });
});

describe("verifyBlock", () => {
  it("refuses bytes that do not hash to the CID", async () => {
    const { root, blocks } = await store(randomBytes(1000));
    const block = blocks.get(root.toString()) as Uint8Array;
    verifyBlock(root, block);
    const flipped = Uint8Array.from(block);
    flipped[500] = (flipped[500] as number) ^ 1;
    expect(() => verifyBlock(root, flipped)).toThrow(BlockVerificationError);
    expect(() => verifyBlock(root, block.subarray(1))).toThrow(BlockVerificationError);
  });

  it("refuses CIDs it cannot check the way IPFS does: another hash, CIDv0, an oversized block", async () => {
    const bytes = randomBytes(100);
    const bySha512 = CID.createV1(raw.code, await sha512.digest(bytes));
    expect(() => verifyBlock(bySha512, bytes)).toThrow(BlockVerificationError);
    const v0 = CID.parse("QmbWqxBEKC3P8tqsKc98xmWNzrzDtRLMiMPL8wBuTGsMnR");
    expect(() => verifyBlock(v0, bytes)).toThrow(BlockVerificationError);
    const big = new Uint8Array(MAX_BLOCK_BYTES + 1);
    const { root } = await store(big.subarray(0, 1));
    expect(() => verifyBlock(root, big)).toThrow(/MAX_BLOCK_BYTES/);
  });
});

describe("readFile", () => {
  it("streams back the exact bytes at every size boundary", async () => {
    for (const size of [0, 1, MiB - 1, MiB, MiB + 1, 5 * MiB + 12_345]) {
      const bytes = randomBytes(size);
      const { root, blocks } = await store(bytes);
      const { fetchBlock } = fetcherOf(blocks);
      expect(Buffer.compare(await collect(readFile(root, fetchBlock)), bytes), `${size} B`).toBe(0);
    }
  });

  it("refuses a corrupted leaf before yielding any of it, after yielding the verified leaves before it", async () => {
    const bytes = randomBytes(5 * MiB);
    const { root, blocks } = await store(bytes);
    const third = [...blocks.keys()].find((cid) => {
      const block = blocks.get(cid) as Uint8Array;
      return cid !== root.toString() && Buffer.compare(block, bytes.subarray(3 * MiB, 4 * MiB)) === 0;
    }) as string;
    const corrupt = Uint8Array.from(blocks.get(third) as Uint8Array);
    corrupt[12345] = (corrupt[12345] as number) ^ 0x80;
    blocks.set(third, corrupt);

    const yielded: Uint8Array[] = [];
    const { fetchBlock } = fetcherOf(blocks);
    await expect(
      (async () => {
        for await (const part of readFile(root, fetchBlock)) yielded.push(part);
      })(),
    ).rejects.toThrow(BlockVerificationError);
    expect(Buffer.compare(Buffer.concat(yielded), bytes.subarray(0, 3 * MiB))).toBe(0);
  });

  it("refuses a corrupted root before yielding anything", async () => {
    const { root, blocks } = await store(randomBytes(2 * MiB));
    const node = Uint8Array.from(blocks.get(root.toString()) as Uint8Array);
    node[node.length - 1] = (node[node.length - 1] as number) ^ 1;
    blocks.set(root.toString(), node);
    const { fetchBlock } = fetcherOf(blocks);
    const reader = readFile(root, fetchBlock);
    await expect(reader.next()).rejects.toThrow(BlockVerificationError);
  });

  it("refuses a valid block that is not a UnixFS file", async () => {
    const { root: other, blocks } = await store(randomBytes(2 * MiB));
    // A well-formed dag-pb node whose Data is not UnixFS: hashes fine, but is no file.
    const { encode, prepare, code } = await import("@ipld/dag-pb");
    const { sha256 } = await import("multiformats/hashes/sha2");
    const bogus = encode(prepare({ Data: new Uint8Array([0xff, 0xff]), Links: [other] }));
    const bogusCid = CID.createV1(code, await sha256.digest(bogus));
    blocks.set(bogusCid.toString(), bogus);
    const { fetchBlock } = fetcherOf(blocks);
    await expect(collect(readFile(bogusCid, fetchBlock))).rejects.toThrow(FileDagError);
  });
});

describe("readRange", () => {
  it("returns the exact bytes and fetches only the root and the leaves under the range", async () => {
    const bytes = randomBytes(5 * MiB + 12_345);
    const { root, blocks } = await store(bytes);
    const leafCid = (index: number) =>
      [...blocks.keys()].find(
        (cid) =>
          cid !== root.toString() &&
          Buffer.compare(blocks.get(cid) as Uint8Array, bytes.subarray(index * MiB, (index + 1) * MiB)) === 0,
      );
    const cases: Array<[offset: number, length: number, leaves: number[]]> = [
      [2 * MiB + 10, 100, [2]],
      [MiB - 5, 10, [0, 1]],
      [MiB, MiB, [1]],
      [MiB - 1, 2 * MiB + 2, [0, 1, 2, 3]],
      [5 * MiB + 12_000, 1_000_000, [5]],
      [0, 0, []],
    ];
    for (const [offset, length, leaves] of cases) {
      const { fetchBlock, fetched } = fetcherOf(blocks);
      const got = await collect(readRange(root, offset, length, fetchBlock));
      expect(Buffer.compare(got, bytes.subarray(offset, offset + length)), `${offset}+${length}`).toBe(0);
      expect(fetched, `${offset}+${length}`).toEqual([root.toString(), ...leaves.map(leafCid)]);
    }
  });

  it("reads across a second DAG level (more than 174 leaves) fetching one path of nodes", async () => {
    // 176 MiB and 1 B: two interior nodes under the root. Zero chunks share one CID, so only the
    // few marked chunks cost memory.
    const marked = new Map([173, 174, 175].map((index) => [index, randomBytes(MiB)]));
    async function* source(): AsyncGenerator<Uint8Array> {
      const zero = new Uint8Array(MiB);
      for (let index = 0; index < 176; index++) yield marked.get(index) ?? zero;
      yield new Uint8Array([42]);
    }
    const blocks = new Map<string, Uint8Array>();
    const root = await importFile(source(), {
      onBlock: (cid, block) => {
        blocks.set(cid.toString(), block);
      },
    });
    const { fetchBlock, fetched } = fetcherOf(blocks);
    const got = await collect(readRange(root, 174 * MiB - 3, MiB + 6, fetchBlock));
    const expected = Buffer.concat([
      (marked.get(173) as Uint8Array).subarray(MiB - 3),
      (marked.get(174) as Uint8Array).subarray(0, MiB),
      (marked.get(175) as Uint8Array).subarray(0, 3),
    ]);
    expect(Buffer.compare(got, expected)).toBe(0);
    // Root, first interior node, leaf 173, second interior node, leaves 174 and 175.
    expect(fetched).toHaveLength(6);
    const tail = await collect(readRange(root, 176 * MiB, 10, fetchBlock));
    expect([...tail]).toEqual([42]);
  });

  it("refuses a range that starts past the end, or a negative one", async () => {
    const { root, blocks } = await store(randomBytes(MiB + 1));
    const { fetchBlock } = fetcherOf(blocks);
    await expect(collect(readRange(root, MiB + 2, 1, fetchBlock))).rejects.toThrow(ContentRangeError);
    await expect(collect(readRange(root, MiB + 1, 1, fetchBlock))).rejects.toThrow(ContentRangeError);
    expect(() => readRange(root, -1, 1, fetchBlock)).toThrow(ContentRangeError);
    // Reading past the end is cut at the end, as an HTTP range is.
    expect((await collect(readRange(root, MiB, 100, fetchBlock))).length).toBe(1);
  });
});
