/**
 * The storage client (neurons/client/api.ts) against a fake gateway over real sockets
 * (test/support/fake-gateway.ts): puts and gets round-trip at the leaf boundaries, encrypted and
 * public; range reads fetch only their blocks; a tampered block, a lying gateway, a changed source
 * and a dead, failing or silent gateway are each told apart.
 */
import { randomBytes } from "node:crypto";
import { connect, createServer, type Server } from "node:net";
import type { KeyringPair } from "@polkadot/keyring/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { devKeypair } from "../chain/wallet.js";
import { createStorageClient, type StorageClient } from "../neurons/client/api.js";
import {
  CidMismatchError,
  ClientInputError,
  CorruptBlockError,
  GatewayError,
  GatewayProtocolError,
  GatewayUnavailableError,
  MissingUserSecretError,
  SourceChangedError,
} from "../neurons/client/errors.js";
import { type Gateway, MAX_JSON_RESPONSE_BYTES, readJson } from "../neurons/client/gateway-pool.js";
import { bytesSource, type PutSource } from "../neurons/client/source.js";
import { CHUNK_BYTES, importFile, MAX_BLOCK_BYTES } from "../protocol/content-id.js";
import { deriveUserSecret, encryptedSize, FILE_CRYPTO_MAGIC } from "../protocol/file-crypto.js";
import { createFakeStore, type FakeGateway, startFakeGateway } from "./support/fake-gateway.js";

const MiB = CHUNK_BYTES;

let alice: KeyringPair;
let bob: KeyringPair;
let charlie: KeyringPair;
let gateway: FakeGateway;
let client: StorageClient;
const userSecret = deriveUserSecret(randomBytes(32));
const open: FakeGateway[] = [];

async function startGateway(options: Partial<Parameters<typeof startFakeGateway>[0]> = {}) {
  const started = await startFakeGateway({ hotkey: bob, ...options });
  open.push(started);
  return started;
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of source) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** Byte equality without vitest's element-by-element diff, which takes seconds per MiB. */
function expectBytes(got: Uint8Array, want: Uint8Array, what = ""): void {
  expect(got.length, `${what} length`).toBe(want.length);
  expect(Buffer.from(got).equals(Buffer.from(want)), `${what} bytes`).toBe(true);
}

async function cidOf(bytes: Uint8Array): Promise<string> {
  return (await importFile(bytesSource(bytes).open(), { onBlock: () => undefined })).toString();
}

/** A URL nothing listens on: a gateway that is down. */
async function deadUrl(): Promise<string> {
  const dead = await startGateway();
  const url = dead.url;
  await dead.close();
  return url;
}

beforeAll(async () => {
  alice = await devKeypair("//Alice");
  bob = await devKeypair("//Bob");
  charlie = await devKeypair("//Charlie");
  gateway = await startGateway();
  client = createStorageClient({ gateway: gateway.url, hotkey: alice, userSecret });
});

afterAll(async () => {
  await Promise.all(open.map((g) => g.close()));
});

describe("put and get", () => {
  for (const size of [0, 1, MiB - 1, MiB, MiB + 1]) {
    for (const isPublic of [false, true]) {
      it(`round-trips ${size} bytes ${isPublic ? "public" : "encrypted"}`, async () => {
        const bytes = randomBytes(size);
        const info = await client.put(bytesSource(bytes), { public: isPublic });
        expect(info.public).toBe(isPublic);
        expect(info.owner).toBe(alice.address);
        if (isPublic) {
          // A public file is named by the IPFS CID of its plaintext, and stored as it is.
          expect(info.cid).toBe(await cidOf(bytes));
          expect(info.size).toBe(size);
        } else {
          expect(info.size).toBe(encryptedSize(size));
          // The gateway never sees plaintext: a one-leaf file is its encrypted header and block.
          const stored = gateway.store.blocks.get(info.cid);
          if (info.cid.startsWith("bafk"))
            expectBytes(stored?.subarray(0, 4) ?? new Uint8Array(), FILE_CRYPTO_MAGIC);
        }
        expectBytes(await collect(client.get(info.cid)), bytes);
      });
    }
  }

  it("encrypts each put under a fresh salt: the same bytes twice are two files", async () => {
    const bytes = randomBytes(100);
    const first = await client.put(bytesSource(bytes));
    const second = await client.put(bytesSource(bytes));
    expect(first.cid).not.toBe(second.cid);
  });

  it("reports progress for hashing, uploading and downloading", async () => {
    const bytes = randomBytes(2 * MiB + 3);
    const phases = new Map<string, { bytes: number; total: number | undefined }>();
    const info = await client.put(bytesSource(bytes), {
      public: true,
      onProgress: (p) => phases.set(p.phase, { bytes: p.bytes, total: p.total }),
    });
    await collect(client.get(info.cid, { onProgress: (p) => phases.set(p.phase, p) }));
    expect(phases.get("hash")).toEqual({ bytes: bytes.length, total: bytes.length });
    expect(phases.get("upload")).toEqual({ bytes: bytes.length, total: bytes.length });
    expect(phases.get("download")).toMatchObject({ bytes: bytes.length, total: bytes.length });
  });

  it("sends a TTL and refuses one that is not a positive integer", async () => {
    const info = await client.put(bytesSource(randomBytes(10)), { ttlSeconds: 3600 });
    expect(info.expiresAt).not.toBeNull();
    await expect(client.put(bytesSource(randomBytes(1)), { ttlSeconds: 0 })).rejects.toThrow(
      ClientInputError,
    );
    await expect(client.put(bytesSource(randomBytes(1)), { ttlSeconds: 1.5 })).rejects.toThrow(
      ClientInputError,
    );
  });

  it("needs a user secret for private files only", async () => {
    const noSecret = createStorageClient({ gateway: gateway.url, hotkey: alice });
    await expect(noSecret.put(bytesSource(randomBytes(5)))).rejects.toThrow(MissingUserSecretError);
    const bytes = randomBytes(5);
    const info = await noSecret.put(bytesSource(bytes), { public: true });
    expectBytes(await collect(noSecret.get(info.cid)), bytes);
  });

  it("fails when the source changes between hashing and sending", async () => {
    let opens = 0;
    const shifty: PutSource = {
      async *open() {
        opens++;
        yield new Uint8Array(1000).fill(opens);
      },
      size: async () => 1000,
    };
    await expect(client.put(shifty, { public: true })).rejects.toThrow(SourceChangedError);
    opens = 0;
    const growing: PutSource = {
      async *open() {
        opens++;
        yield new Uint8Array(opens === 1 ? 10 : 20);
      },
      size: async () => undefined,
    };
    await expect(client.put(growing, { public: true })).rejects.toThrow(SourceChangedError);
    // Nothing of either became visible, and the connection is still good for the next request.
    expect(await client.list()).not.toContainEqual(expect.objectContaining({ size: 1000 }));
  });
});

describe("range reads", () => {
  const size = 3 * MiB + 7;
  const bytes = randomBytes(size);
  const ranges: [number, number][] = [
    [0, 0],
    [0, 1],
    [5, 100],
    [MiB - 90, 200],
    [MiB - 3, MiB + 6],
    [2 * MiB + 100, 5000],
    [size - 10, 10],
    [size - 10, 1000],
    [0, size],
    [size, 0],
  ];
  for (const isPublic of [true, false]) {
    it(`reads ranges of a ${isPublic ? "public" : "encrypted"} file`, async () => {
      const info = await client.put(bytesSource(bytes), { public: isPublic });
      for (const [offset, length] of ranges) {
        const got = await collect(client.get(info.cid, { range: { offset, length } }));
        expectBytes(got, bytes.subarray(offset, offset + length), `${offset}+${length}`);
      }
      await expect(collect(client.get(info.cid, { range: { offset: size + 1, length: 1 } }))).rejects.toThrow(
        ClientInputError,
      );
    });
  }

  it("fetches only the blocks a range needs", async () => {
    const info = await client.put(bytesSource(bytes), { public: true });
    const leaves = [0, 1, 2, 3].map(async (i) => cidOf(bytes.subarray(i * MiB, (i + 1) * MiB)));
    const leafCids = await Promise.all(leaves);
    gateway.requests.length = 0;
    await collect(client.get(info.cid, { range: { offset: 2 * MiB + 5, length: 10 } }));
    const blocks = gateway.requests.filter((r) => r.startsWith("GET /ipfs/"));
    expect(blocks).toEqual([`GET /ipfs/${info.cid}?format=raw`, `GET /ipfs/${leafCids[2]}?format=raw`]);
  });

  it("fetches the header's leaf and the range's leaves of an encrypted file, each once", async () => {
    const info = await client.put(bytesSource(bytes));
    gateway.requests.length = 0;
    await collect(client.get(info.cid, { range: { offset: 2 * MiB + 5, length: 10 } }));
    const blocks = gateway.requests.filter((r) => r.startsWith("GET /ipfs/"));
    // The root, leaf 0 (the header) and the one leaf holding the range.
    expect(blocks).toHaveLength(3);
    expect(new Set(blocks).size).toBe(3);
  });
});

describe("verification and fallback", () => {
  it("detects a tampered block", async () => {
    const store = createFakeStore();
    const honest = await startGateway({ store });
    const bytes = randomBytes(MiB + 10);
    const info = await createStorageClient({ gateway: honest.url, hotkey: alice, userSecret }).put(
      bytesSource(bytes),
      { public: true },
    );
    const tampering = await startGateway({
      store,
      tamper: (cid, block) =>
        cid === info.cid ? block : Uint8Array.from(block, (b, i) => (i === 7 ? b ^ 1 : b)),
    });
    const fooled = createStorageClient({ gateway: tampering.url, hotkey: alice, userSecret });
    await expect(collect(fooled.get(info.cid))).rejects.toThrow(CorruptBlockError);
    await expect(collect(fooled.get(info.cid, { range: { offset: MiB, length: 3 } }))).rejects.toThrow(
      CorruptBlockError,
    );
    // An oversized block is refused before it is all read.
    const bloating = await startGateway({
      store,
      tamper: (cid, block) => (cid === info.cid ? block : new Uint8Array(MAX_BLOCK_BYTES + 1)),
    });
    const bloated = createStorageClient({ gateway: bloating.url, hotkey: alice, userSecret });
    await expect(collect(bloated.get(info.cid))).rejects.toThrow(GatewayProtocolError);
    // A tampered block is fetched again from the next gateway, which sends it intact.
    const gateways: Gateway[] = [{ url: tampering.url }, { url: honest.url }];
    const both = createStorageClient({
      gateway: async function* () {
        yield* gateways;
      },
      hotkey: alice,
      userSecret,
    });
    expectBytes(await collect(both.get(info.cid)), bytes);
  });

  it("falls back to the next gateway when one is down, failing or silent", async () => {
    const store = createFakeStore();
    const failing = await startGateway({ store, failWith: 503 });
    const silent = await startGateway({ store, stall: true });
    const good = await startGateway({ store });
    const urls = [await deadUrl(), failing.url, silent.url, good.url];
    const fallback = createStorageClient({
      gateway: async function* () {
        for (const url of urls) yield { url };
      },
      hotkey: alice,
      userSecret,
      timeoutMs: 300,
    });
    const bytes = randomBytes(MiB + 1);
    const info = await fallback.put(bytesSource(bytes));
    expectBytes(await collect(fallback.get(info.cid)), bytes);
    expect((await fallback.info()).url).toBe(good.url);
    expect((await fallback.list()).map((f) => f.cid)).toContain(info.cid);
  });

  it("finds a file on the gateway that stored it, after one that does not know it", async () => {
    const first = await startGateway();
    const second = await startGateway();
    const bytes = randomBytes(MiB + 3);
    const info = await createStorageClient({ gateway: second.url, hotkey: alice, userSecret }).put(
      bytesSource(bytes),
    );
    const both = createStorageClient({
      gateway: async function* () {
        yield { url: first.url };
        yield { url: second.url };
      },
      hotkey: alice,
      userSecret,
    });
    expectBytes(await collect(both.get(info.cid)), bytes);
    expect(await both.remove(info.cid)).toEqual({ cid: info.cid, removed: true });
    // Unknown everywhere: a 404, after asking both.
    first.requests.length = 0;
    await expect(both.status(info.cid)).rejects.toMatchObject({ status: 404 });
    expect(first.requests).toEqual([`GET /v1/files/${info.cid}/status`]);
  });

  it("sends a put again on a fresh connection when the gateway resets it, once", async () => {
    // A TCP proxy in front of the gateway that resets the connections of the first `resets` puts
    // as their request arrives (a keep-alive connection the server closed as the request went out).
    const proxyTo = async (resets: number): Promise<{ url: string; server: Server; reset: () => number }> => {
      let done = 0;
      const target = new URL(gateway.url);
      const server = createServer((socket) => {
        const upstream = connect(Number(target.port), target.hostname);
        upstream.on("error", () => socket.destroy());
        socket.on("error", () => upstream.destroy());
        upstream.pipe(socket);
        socket.on("data", (data) => {
          if (done < resets && data.toString("latin1").includes("POST /v1/files")) {
            done++;
            upstream.destroy();
            socket.resetAndDestroy();
            return;
          }
          upstream.write(data);
        });
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const { port } = server.address() as { port: number };
      return { url: `http://127.0.0.1:${port}`, server, reset: () => done };
    };
    const bytes = randomBytes(MiB + 5);
    const once = await proxyTo(1);
    try {
      const viaProxy = createStorageClient({ gateway: once.url, hotkey: alice, userSecret });
      const info = await viaProxy.put(bytesSource(bytes), { public: true });
      expect(once.reset()).toBe(1);
      expectBytes(await collect(client.get(info.cid)), bytes);
    } finally {
      once.server.close();
    }
    const always = await proxyTo(Number.POSITIVE_INFINITY);
    try {
      const viaProxy = createStorageClient({ gateway: always.url, hotkey: alice, userSecret });
      await expect(viaProxy.put(bytesSource(bytes), { public: true })).rejects.toThrow(
        GatewayUnavailableError,
      );
      expect(always.reset()).toBe(2);
    } finally {
      always.server.close();
    }
  });

  it("says no gateway answered when none did", async () => {
    const down = createStorageClient({ gateway: await deadUrl(), hotkey: alice, userSecret });
    await expect(down.list()).rejects.toThrow(GatewayUnavailableError);
    const failing = await startGateway({ failWith: 503 });
    const refused = createStorageClient({ gateway: failing.url, hotkey: alice, userSecret });
    await expect(refused.list()).rejects.toMatchObject({ status: 503, code: "failing" });
  });

  it("waits out a 429 and asks the same gateway again, a bounded number of times", async () => {
    const limited = await startGateway({ rateLimitNext: 3 });
    const patient = createStorageClient({ gateway: limited.url, hotkey: alice, userSecret });
    const bytes = randomBytes(MiB + 1);
    const info = await patient.put(bytesSource(bytes));
    limited.options.rateLimitNext = 2;
    expectBytes(await collect(patient.get(info.cid)), bytes);
    const impatient = createStorageClient({
      gateway: limited.url,
      hotkey: alice,
      userSecret,
      rateLimitRetries: 2,
    });
    limited.options.rateLimitNext = 3;
    await expect(impatient.list()).rejects.toMatchObject({ status: 429, code: "rate_limited" });
    // A gateway asking for a wait longer than MAX_RETRY_AFTER_MS is not waited for.
    limited.options.rateLimitNext = 1;
    limited.options.retryAfter = 3600;
    await expect(patient.list()).rejects.toMatchObject({ status: 429, retryAfterMs: 3_600_000 });
  });

  it("fails loudly when the gateway names the file by another CID", async () => {
    const liar = await startGateway({ lieAboutCid: await cidOf(new Uint8Array([1, 2, 3])) });
    const lied = createStorageClient({ gateway: liar.url, hotkey: alice, userSecret });
    await expect(lied.put(bytesSource(randomBytes(10)), { public: true })).rejects.toThrow(CidMismatchError);
  });
});

describe("answer caps", () => {
  it("refuses a JSON answer past MAX_JSON_RESPONSE_BYTES, declared or not", async () => {
    const big = new Uint8Array(MAX_JSON_RESPONSE_BYTES + 1).fill(0x20);
    const declared = new Response(big, { headers: { "content-length": String(big.length) } });
    await expect(readJson("gw", declared)).rejects.toThrow(GatewayProtocolError);
    const streamed = new Response(
      new ReadableStream({
        start(controller) {
          controller.enqueue(big.subarray(0, MAX_JSON_RESPONSE_BYTES));
          controller.enqueue(big.subarray(0, 1));
          controller.close();
        },
      }),
    );
    await expect(readJson("gw", streamed)).rejects.toThrow(GatewayProtocolError);
    expect(await readJson("gw", new Response('{"ok":true}'))).toEqual({ ok: true });
  });
});

describe("list, status, remove", () => {
  it("lists, reports and removes the signer's files", async () => {
    const own = await startGateway();
    const mine = createStorageClient({ gateway: own.url, hotkey: alice, userSecret });
    const theirs = createStorageClient({ gateway: own.url, hotkey: charlie, userSecret });
    const a = await mine.put(bytesSource(randomBytes(10)));
    const b = await mine.put(bytesSource(randomBytes(20)), { public: true });
    await theirs.put(bytesSource(randomBytes(30)));
    expect((await mine.list()).map((f) => f.cid)).toEqual([b.cid, a.cid]);
    const status = await mine.status(a.cid);
    expect(status).toMatchObject({ cid: a.cid, health: 4, pieces: { lost: 0 } });
    // Another user's private file is not visible, a public one is.
    await expect(theirs.status(a.cid)).rejects.toMatchObject({ status: 404 });
    expect((await theirs.status(b.cid)).cid).toBe(b.cid);
    await expect(theirs.remove(b.cid)).rejects.toThrow(GatewayError);
    expect(await mine.remove(a.cid)).toEqual({ cid: a.cid, removed: true });
    await expect(collect(mine.get(a.cid))).rejects.toMatchObject({ status: 404, code: "not_found" });
    await expect(mine.status("not-a-cid")).rejects.toThrow(ClientInputError);
    expect(await mine.info()).toMatchObject({ hotkey: bob.address, url: own.url });
  });
});
