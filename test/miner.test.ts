/**
 * The miner on the real parts: the embedded dev chain (a subnet with a staked validator holding a
 * permit, a permit-less hotkey and the miner registered), real libp2p over TCP on loopback and
 * real SQLite stores in a temporary folder. A registered validator stores, retrieves and
 * challenges; every kind of bad request is refused with its error code (or a closed stream), and
 * the miner keeps serving the honest validator afterwards.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Libp2p } from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";
import { Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootstrapSubnet } from "../chain/bootstrap.js";
import type { Metagraph } from "../chain/client.js";
import { createDevChain, type DevChain } from "../chain/devchain/chain.js";
import { subtensorPallets } from "../chain/devchain/pallets/subtensor/pallets.js";
import { ChainUnavailableError } from "../chain/errors.js";
import { PolkadotChainClient } from "../chain/polkadot-client.js";
import {
  authReady,
  createRequestSigner,
  createRequestVerifier,
  type RequestSigner,
  type SignRequestOptions,
  signRequest as signRequestFor,
} from "../neurons/auth.js";
import { createLogger, silentLogger } from "../neurons/logger.js";
import { createMetricsRegistry, serveMetrics } from "../neurons/metrics.js";
import { createMiner, type Miner } from "../neurons/miner/miner.js";
import { createP2PNode, PEER_KEY_FILE, readFrame, request, STORAGE_PROTOCOL } from "../neurons/p2p/node.js";
import { createFrameServer, createPeerBans } from "../neurons/p2p/server.js";
import { createStreamPool } from "../neurons/p2p/stream-pool.js";
import { createChallenge, verifyResponse } from "../protocol/challenge.js";
import { encodeFrame, FrameDecoder, signingPayload } from "../protocol/codec.js";
import { MAX_FRAME_SIZE } from "../protocol/constants.js";
import { chunkRoot } from "../protocol/merkle.js";
import { createEnvelope, type Envelope, ErrorCode, type Message } from "../protocol/messages.js";

const TAO = 1_000_000_000n;
const TEMPO = 5;
const CHUNK = 64 * 1024;

let chain: DevChain;
let client: FlakyChainClient;
let netuid: number;
let validator: KeyringPair;
let permitless: KeyringPair;
let outsider: KeyringPair;
let minerHotkey: KeyringPair;
let miner: Miner;
let validatorNode: Libp2p;
let dir: string;
const metrics = createMetricsRegistry();
/** While true, the miner's metagraph reads fail as if the chain were gone. */
let chainDown = false;

/** The real client, but its metagraph reads fail as if the chain were gone while `chainDown` is set. */
class FlakyChainClient extends PolkadotChainClient {
  override async metagraph(...args: Parameters<PolkadotChainClient["metagraph"]>): Promise<Metagraph> {
    if (chainDown) throw new ChainUnavailableError("chain unreachable (test)");
    return super.metagraph(...args);
  }
}

function settings() {
  return {
    netuid,
    dbRoot: dir,
    chunkSize: CHUNK,
    threshold: 1,
    listen: { ip: "127.0.0.1", port: 0 },
    metagraphIntervalMs: 3_600_000,
  };
}

/** Signs a request for the miner under test (every request here is addressed to it). */
function signRequest<M extends Message>(
  pair: RequestSigner,
  body: M,
  options: Partial<SignRequestOptions> = {},
): Envelope<M> {
  return signRequestFor(pair, body, { recipient: minerHotkey.address, ...options });
}

async function ask<M extends Message>(pair: KeyringPair, body: M, node = validatorNode): Promise<Envelope> {
  return request(node, multiaddr(miner.announcedAddress), signRequest(pair, body), {
    signal: AbortSignal.timeout(10_000),
  });
}

async function send(envelope: Envelope, node = validatorNode): Promise<Envelope> {
  return request(node, multiaddr(miner.announcedAddress), envelope, { signal: AbortSignal.timeout(10_000) });
}

function errorCode(reply: Envelope): number | undefined {
  return reply.body.type === "error" ? reply.body.code : undefined;
}

/** The honest validator can still read chunk 0. */
async function stillServes(): Promise<void> {
  const reply = await ask(validator, { type: "retrieve", storeId: validator.address, chunkIndex: 0 });
  expect(reply.body.type).toBe("retrieve-reply");
}

/** Writes raw bytes on a fresh stream from a throwaway peer; returns the reply or why there was none. */
async function sendRaw(bytes: Uint8Array): Promise<{ reply?: Envelope; closed: boolean }> {
  const attacker = await createP2PNode();
  try {
    const stream = await attacker.dialProtocol(multiaddr(miner.announcedAddress), STORAGE_PROTOCOL);
    try {
      stream.send(bytes);
      await stream.close().catch(() => undefined);
    } catch {
      return { closed: true };
    }
    try {
      const reply = await readFrame(stream, { signal: AbortSignal.timeout(10_000) });
      return reply ? { reply, closed: false } : { closed: true };
    } catch {
      return { closed: true };
    }
  } finally {
    await attacker.stop();
  }
}

beforeAll(async () => {
  await cryptoWaitReady();
  await authReady();
  const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
  const alice = keyring.addFromUri("//Alice");
  const bob = keyring.addFromUri("//Bob");
  const charlie = keyring.addFromUri("//Charlie");
  validator = keyring.addFromUri("//Bob//validator");
  permitless = keyring.addFromUri("//Bob//permitless");
  outsider = keyring.addFromUri("//Dave//outsider");
  minerHotkey = keyring.addFromUri("//Charlie//miner");

  chain = createDevChain({ port: 0, mode: "instant", pallets: subtensorPallets() });
  await chain.start();
  client = new FlakyChainClient({ endpoint: chain.endpoint });
  await client.start();
  ({ netuid } = await bootstrapSubnet(client, {
    sudo: alice,
    ownerHotkey: keyring.addFromUri("//Alice//owner").address,
    hyperparameters: [["sudoSetTempo", TEMPO]],
    registrations: [
      { coldkey: bob, hotkey: validator.address },
      { coldkey: bob, hotkey: permitless.address },
      { coldkey: charlie, hotkey: minerHotkey.address },
    ],
    stakes: [{ coldkey: bob, hotkey: validator.address, amountRao: 1_000n * TAO }],
    firstEpoch: () => chain.newBlock(TEMPO * 2 + 2),
  }));
  const graph = await client.metagraph(netuid);
  expect(graph.validatorPermit[graph.hotkeys.indexOf(validator.address)]).toBe(true);
  expect(graph.validatorPermit[graph.hotkeys.indexOf(permitless.address)]).toBe(false);

  dir = mkdtempSync(join(tmpdir(), "miner-test-"));
  miner = createMiner({
    settings: settings(),
    chain: client,
    hotkey: minerHotkey,
    metrics,
    // A fixed 1 MiB of free space: a 16-chunk budget (plus the miner's own files), split by stake.
    freeBytes: () => 16 * CHUNK,
  });
  await miner.start();
  validatorNode = await createP2PNode();
}, 60_000);

afterAll(async () => {
  await validatorNode?.stop();
  await miner?.stop();
  await client?.stop();
  await chain?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("miner start-up", () => {
  it("publishes its multiaddr with peer id as a commitment and serves an axon", async () => {
    expect(miner.announcedAddress).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3/);
    const commitments = await client.commitments(netuid);
    expect(new TextDecoder().decode(commitments.get(minerHotkey.address))).toBe(miner.announcedAddress);
    const graph = await client.metagraph(netuid);
    const axon = graph.axons[graph.hotkeys.indexOf(minerHotkey.address)];
    // Loopback is never published as an axon ip.
    expect(axon).toMatchObject({ ip: "0.0.0.0", port: Number(miner.announcedAddress.split("/")[4]) });
  });

  it("allows exactly the hotkeys with a validator permit", () => {
    expect(miner.validators.has(validator.address)).toBe(true);
    expect(miner.validators.has(permitless.address)).toBe(false);
    expect(miner.validators.has(minerHotkey.address)).toBe(false);
  });

  it("keeps its libp2p identity in a 0600 key file beside the stores", () => {
    const file = join(dir, String(netuid), minerHotkey.address, PEER_KEY_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });
});

describe("serving a registered validator", () => {
  const chunks = [randomBytes(CHUNK), randomBytes(CHUNK), randomBytes(CHUNK / 2 + 7)];

  it("answers hello with the validator's capacity", async () => {
    const reply = await ask(validator, {
      type: "hello",
      role: "validator",
      protocolVersion: 1,
      softwareVersion: "test",
      chunkSize: CHUNK,
      leafSize: 1024,
      capacity: null,
      nonce: new Uint8Array(32).fill(7),
      proof: null,
    });
    expect(reply.body).toMatchObject({ type: "hello", role: "miner", chunkSize: CHUNK, leafSize: 1024 });
    if (reply.body.type !== "hello") return;
    expect(reply.body.capacity?.budgetBytes).toBeGreaterThan(3 * CHUNK);
    expect(reply.body.capacity?.chunkCount).toBe(0);
  });

  it("stores chunks and acknowledges each with its Merkle root", async () => {
    for (const [chunkIndex, data] of chunks.entries()) {
      const reply = await ask(validator, { type: "store", storeId: validator.address, chunkIndex, data });
      expect(reply.body).toMatchObject({ type: "store-ack", storeId: validator.address, chunkIndex });
      if (reply.body.type === "store-ack")
        expect(Buffer.from(reply.body.root)).toEqual(Buffer.from(chunkRoot(data)));
    }
    expect(miner.stores.store(validator.address).count()).toBe(3);
  });

  it("retrieves chunks byte for byte, and NotFound for a missing one", async () => {
    for (const [chunkIndex, data] of chunks.entries()) {
      const reply = await ask(validator, { type: "retrieve", storeId: validator.address, chunkIndex });
      expect(reply.body.type).toBe("retrieve-reply");
      if (reply.body.type === "retrieve-reply") expect(Buffer.from(reply.body.data)).toEqual(data);
    }
    const missing = await ask(validator, { type: "retrieve", storeId: validator.address, chunkIndex: 99 });
    expect(errorCode(missing)).toBe(ErrorCode.NotFound);
  });

  it("answers challenges with proofs that verify", async () => {
    const roots = chunks.map((c) => chunkRoot(c));
    for (let round = 0; round < 3; round++) {
      const challenge = createChallenge({
        storeId: validator.address,
        chunkCount: chunks.length,
        leafCount: (i) => Math.ceil((chunks[i] as Buffer).length / 1024),
        chunksPerChallenge: 2,
        leavesPerChunk: round + 1,
        nonce: randomBytes(32),
        now: Date.now(),
        ttlMs: 10_000,
      });
      const reply = await ask(validator, { type: "challenge", challenge });
      expect(reply.body.type).toBe("proof");
      if (reply.body.type !== "proof") return;
      const result = verifyResponse(challenge, reply.body.response, {
        rootOf: (i) => roots[i],
        now: Date.now(),
      });
      expect(result).toEqual({ ok: true });
    }
    expect(await metrics.render()).toMatch(/^miner_challenges_answered_total 3$/m);
  });

  it("refuses a challenge for a chunk it does not hold", async () => {
    const challenge = {
      storeId: validator.address,
      chunks: [{ chunkIndex: 42, leafIndices: [0] }],
      nonce: randomBytes(32),
      deadline: Date.now() + 10_000,
    };
    const reply = await ask(validator, { type: "challenge", challenge });
    expect(errorCode(reply)).toBe(ErrorCode.NotFound);
    expect(await metrics.render()).toMatch(/^miner_challenges_failed_total 1$/m);
  });

  it("reports evictions since a sequence number", async () => {
    const reply = await ask(validator, { type: "evictions", storeId: validator.address, sinceSeq: 0 });
    expect(reply.body).toMatchObject({ type: "evictions-reply", evicted: [] });
  });

  it("exports Prometheus metrics for stored chunks, bytes and latency", async () => {
    const text = await metrics.render();
    expect(text).toContain(`miner_chunks_stored{validator="${validator.address}"} 3`);
    expect(text).toContain(
      `miner_stored_bytes{validator="${validator.address}"} ${CHUNK * 2 + CHUNK / 2 + 7}`,
    );
    expect(text).toMatch(/miner_request_duration_seconds_count\{type="store"\} 3/);
  });

  it("serves a validator's successive requests on one kept stream, authenticating each", async () => {
    const connection = await validatorNode.dial(multiaddr(miner.announcedAddress));
    const pool = createStreamPool(validatorNode);
    try {
      const retrieve = { type: "retrieve" as const, storeId: validator.address, chunkIndex: 0 };
      for (let i = 0; i < 3; i++) {
        const reply = await pool.request(connection.remotePeer, signRequest(validator, retrieve));
        expect(reply.body.type).toBe("retrieve-reply");
      }
      expect(pool.streamsOpened).toBe(1);
      expect(await metrics.render()).toMatch(/miner_streams_kept 1/);
      // The same signed request again on the kept stream: refused as a replay, like on a new one.
      const signed = signRequest(validator, retrieve);
      expect((await pool.request(connection.remotePeer, signed)).body.type).toBe("retrieve-reply");
      expect(errorCode(await pool.request(connection.remotePeer, signed))).toBe(ErrorCode.Replay);
    } finally {
      pool.close();
    }
  });
});

describe("refusing bad requests", () => {
  const retrieve = () => ({ type: "retrieve" as const, storeId: validator.address, chunkIndex: 0 });

  it("refuses an unregistered hotkey", async () => {
    const reply = await ask(outsider, { type: "retrieve", storeId: outsider.address, chunkIndex: 0 });
    expect(errorCode(reply)).toBe(ErrorCode.Unauthorized);
    await stillServes();
  });

  it("refuses a registered hotkey without a validator permit", async () => {
    const reply = await ask(permitless, {
      type: "store",
      storeId: permitless.address,
      chunkIndex: 0,
      data: randomBytes(10),
    });
    expect(errorCode(reply)).toBe(ErrorCode.Unauthorized);
    await stillServes();
  });

  it("refuses an unsigned request", async () => {
    const reply = await send(createEnvelope(retrieve()));
    expect(errorCode(reply)).toBe(ErrorCode.Unauthorized);
  });

  it("refuses a bad signature", async () => {
    const envelope = signRequest(validator, retrieve());
    envelope.signature = Uint8Array.from(envelope.signature);
    envelope.signature[5] = (envelope.signature[5] as number) ^ 1;
    expect(errorCode(await send(envelope))).toBe(ErrorCode.BadSignature);
    // A valid signature by someone else over the validator's sender field fails too.
    const forged = signRequest(validator, retrieve());
    forged.signature = outsider.sign(new Uint8Array(8));
    expect(errorCode(await send(forged))).toBe(ErrorCode.BadSignature);
    await stillServes();
  });

  it("refuses a replayed nonce", async () => {
    const envelope = signRequest(validator, retrieve());
    expect((await send(envelope)).body.type).toBe("retrieve-reply");
    expect(errorCode(await send(envelope))).toBe(ErrorCode.Replay);
    await stillServes();
  });

  it("refuses a stale or future timestamp", async () => {
    const stale = signRequest(validator, retrieve(), { now: Date.now() - 60_000 });
    expect(errorCode(await send(stale))).toBe(ErrorCode.StaleTimestamp);
    const future = signRequest(validator, retrieve(), { now: Date.now() + 60_000 });
    expect(errorCode(await send(future))).toBe(ErrorCode.StaleTimestamp);
    await stillServes();
  });

  it("refuses access to another validator's store", async () => {
    const reply = await ask(validator, { type: "retrieve", storeId: permitless.address, chunkIndex: 0 });
    expect(errorCode(reply)).toBe(ErrorCode.Unauthorized);
  });

  it("refuses an oversized frame before reading it, and disconnects the sender", async () => {
    const prefix = new Uint8Array(4 + 1024);
    new DataView(prefix.buffer).setUint32(0, 2 * MAX_FRAME_SIZE);
    const { reply, closed } = await sendRaw(prefix);
    if (!closed) expect(errorCode(reply as Envelope)).toBe(ErrorCode.FrameTooLarge);
    expect(await metrics.render()).toMatch(/miner_peers_refused_total\{reason="frame-size"\} 1/);
    await stillServes();
  });

  it("answers random bytes with an error (or a closed stream) and keeps serving", async () => {
    for (let i = 0; i < 5; i++) {
      const bytes = randomBytes(16 + i * 300);
      // A plausible length prefix so the body is parsed, not just the prefix refused.
      new DataView(bytes.buffer, bytes.byteOffset).setUint32(0, bytes.length - 4);
      const { reply, closed } = await sendRaw(bytes);
      if (!closed) expect(reply?.body.type).toBe("error");
    }
    const garbage = await sendRaw(randomBytes(64));
    if (!garbage.closed) expect(garbage.reply?.body.type).toBe("error");
    await stillServes();
  });

  it("refuses a frame of another protocol version with UnsupportedVersion", async () => {
    const frame = encodeFrame(signRequest(validator, retrieve()));
    frame[4] = 99;
    const { reply, closed } = await sendRaw(frame);
    expect(closed).toBe(false);
    expect(errorCode(reply as Envelope)).toBe(ErrorCode.UnsupportedVersion);
  });

  it("refuses stores past the validator's budget with OverBudget", async () => {
    const budget = miner.stores.budget(validator.address);
    expect(budget).toBeGreaterThan(3);
    for (let chunkIndex = 3; chunkIndex < budget; chunkIndex++) {
      const reply = await ask(validator, {
        type: "store",
        storeId: validator.address,
        chunkIndex,
        data: randomBytes(100),
      });
      expect(reply.body.type).toBe("store-ack");
    }
    const over = await ask(validator, {
      type: "store",
      storeId: validator.address,
      chunkIndex: budget,
      data: randomBytes(100),
    });
    expect(errorCode(over)).toBe(ErrorCode.OverBudget);
    // Overwriting a stored chunk still fits.
    const again = await ask(validator, {
      type: "store",
      storeId: validator.address,
      chunkIndex: 3,
      data: randomBytes(100),
    });
    expect(again.body.type).toBe("store-ack");
    await stillServes();
  });
});

describe("a lost chain", () => {
  it("keeps serving with the last known validators while metagraph reads fail", async () => {
    chainDown = true;
    try {
      await expect(miner.refreshMetagraph()).rejects.toBeInstanceOf(ChainUnavailableError);
      expect(miner.validators.has(validator.address)).toBe(true);
      await stillServes();
    } finally {
      chainDown = false;
    }
    await miner.refreshMetagraph();
    expect(miner.validators.has(validator.address)).toBe(true);
  });
});

describe("observability", () => {
  it("serves the metrics in Prometheus text format over HTTP", async () => {
    const server = await serveMetrics(metrics, { port: 0, host: "127.0.0.1" });
    try {
      const response = await fetch(`http://127.0.0.1:${server.port}/metrics`);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = await response.text();
      expect(text).toContain("# TYPE miner_request_duration_seconds histogram");
      expect(text).toMatch(/miner_requests_total\{type="retrieve",outcome="ok"\} \d+/);
      expect((await fetch(`http://127.0.0.1:${server.port}/other`)).status).toBe(404);
    } finally {
      await server.stop();
    }
  });

  it("writes one JSON object per log line, filtered by level", () => {
    const lines: string[] = [];
    const log = createLogger({ level: "info", write: (line) => lines.push(line), fields: { node: "miner" } });
    log.debug("hidden");
    log.child({ peer: "p" }).warn("limit", { stake: 5n, key: Uint8Array.of(1, 255) });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] as string)).toMatchObject({
      level: "warn",
      msg: "limit",
      node: "miner",
      peer: "p",
      stake: "5",
      key: "01ff",
    });
  });
});

describe("restart", () => {
  it("keeps the peer id and every stored chunk", async () => {
    const peerId = miner.peerId;
    const before = await ask(validator, { type: "retrieve", storeId: validator.address, chunkIndex: 1 });
    const port = Number(miner.announcedAddress.split("/")[4]);
    await miner.stop();
    miner = createMiner({
      settings: { ...settings(), listen: { ip: "127.0.0.1", port } },
      chain: client,
      hotkey: minerHotkey,
      freeBytes: () => 16 * CHUNK,
    });
    await miner.start();
    expect(miner.peerId).toBe(peerId);
    // Same address: nothing to publish again (the chain rate-limits both transactions).
    expect(miner.announced).toBe(true);
    const after = await ask(validator, { type: "retrieve", storeId: validator.address, chunkIndex: 1 });
    expect(after.body).toEqual(before.body);
  });
});

describe("request verifier", () => {
  it("checks the allowed set, the recipient, the clock window, the signature and the nonce", () => {
    let clock = 1_000_000;
    const verifier = createRequestVerifier({
      isAllowed: (h) => h === validator.address,
      recipient: minerHotkey.address,
      windowMs: 30_000,
      maxNonces: 3,
      now: () => clock,
    });
    const body = { type: "retrieve" as const, storeId: validator.address, chunkIndex: 0 };
    const first = signRequest(validator, body, { now: clock });
    expect(verifier.verify(first)).toEqual({ ok: true, hotkey: validator.address });
    expect(verifier.verify(first)).toMatchObject({ ok: false, code: ErrorCode.Replay });
    expect(verifier.verify(signRequest(outsider, body, { now: clock }))).toMatchObject({
      ok: false,
      code: ErrorCode.Unauthorized,
    });
    expect(verifier.verify(signRequest(validator, body, { now: clock - 30_001 }))).toMatchObject({
      code: ErrorCode.StaleTimestamp,
    });
    // A request signed for another miner is refused before its signature is checked.
    expect(
      verifier.verify(signRequest(validator, body, { now: clock, recipient: outsider.address })),
    ).toMatchObject({ code: ErrorCode.WrongRecipient });
    // The cache is bounded: when full of live nonces, new requests are refused, never forgotten.
    expect(verifier.verify(signRequest(validator, body, { now: clock })).ok).toBe(true);
    expect(verifier.verify(signRequest(validator, body, { now: clock })).ok).toBe(true);
    expect(verifier.verify(signRequest(validator, body, { now: clock }))).toMatchObject({
      code: ErrorCode.RateLimited,
    });
    // Past twice the window the old nonces expire and room frees up.
    clock += 60_001;
    expect(verifier.verify(signRequest(validator, body, { now: clock })).ok).toBe(true);
    expect(verifier.rememberedNonces).toBe(1);
  });

  it("checks the signature over the body bytes as they arrived, when given them", () => {
    const verifier = createRequestVerifier({ isAllowed: () => true, recipient: minerHotkey.address });
    const body = { type: "retrieve" as const, storeId: validator.address, chunkIndex: 0 };
    const [arrived] = new FrameDecoder().pushFrames(encodeFrame(signRequest(validator, body)));
    if (arrived === undefined) throw new Error("no frame decoded");
    expect(verifier.verify(arrived.envelope, arrived.body)).toEqual({ ok: true, hotkey: validator.address });
    const other = new FrameDecoder().pushFrames(
      encodeFrame(signRequest(validator, { ...body, chunkIndex: 1 })),
    );
    expect(verifier.verify(signRequest(validator, body), other[0]?.body)).toMatchObject({
      ok: false,
      code: ErrorCode.BadSignature,
    });
  });
});

describe("request signer", () => {
  it("signs with the sr25519 WebAssembly, verifiable by the miner and by the pair", () => {
    const signer = createRequestSigner(validator);
    expect(signer).not.toBe(validator);
    const envelope = signRequest(signer, { type: "retrieve", storeId: validator.address, chunkIndex: 1 });
    const verifier = createRequestVerifier({ isAllowed: () => true, recipient: minerHotkey.address });
    expect(verifier.verify(envelope)).toEqual({ ok: true, hotkey: validator.address });
    expect(validator.verify(signingPayload(envelope), envelope.signature, validator.publicKey)).toBe(true);
  });
});

describe("per-peer limits", () => {
  it("answers a peer over its request rate with RateLimited, disconnects and bans it", async () => {
    const bans = createPeerBans();
    const serverNode = await createP2PNode({ denyPeer: bans.isBanned });
    const clientNode = await createP2PNode();
    const server = createFrameServer({
      node: serverNode,
      bans,
      log: silentLogger(),
      limits: { requestsPerSecond: 0.001, burst: 3 },
      handle: (req) =>
        createEnvelope(
          { type: "error", code: ErrorCode.NotFound, message: "ok" },
          { requestId: req.requestId },
        ),
    });
    await server.start();
    try {
      const target = serverNode.getMultiaddrs()[0]!;
      const body = { type: "retrieve" as const, storeId: "x", chunkIndex: 0 };
      for (let i = 0; i < 3; i++) {
        const reply = await request(clientNode, target, createEnvelope(body, { requestId: i }));
        expect(errorCode(reply)).toBe(ErrorCode.NotFound);
      }
      const limited = await request(clientNode, target, createEnvelope(body)).then(
        (reply) => errorCode(reply),
        () => "closed",
      );
      expect([ErrorCode.RateLimited, "closed"]).toContain(limited);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(clientNode.getConnections(serverNode.peerId)).toHaveLength(0);
      // Banned for a while: it cannot come back at once.
      expect(bans.isBanned(clientNode.peerId.toString())).toBe(true);
      await expect(request(clientNode, target, createEnvelope(body))).rejects.toBeInstanceOf(Error);
    } finally {
      await server.stop();
      await clientNode.stop();
      await serverNode.stop();
    }
  });

  it("disconnects a peer that opens too many streams at once", async () => {
    const serverNode = await createP2PNode();
    const clientNode = await createP2PNode();
    const server = createFrameServer({
      node: serverNode,
      log: silentLogger(),
      limits: { maxStreamsPerPeer: 2 },
      handle: (req) =>
        createEnvelope(
          { type: "error", code: ErrorCode.NotFound, message: "ok" },
          { requestId: req.requestId },
        ),
    });
    await server.start();
    try {
      const target = serverNode.getMultiaddrs()[0]!;
      // Streams that never send their request hold their slot.
      const idle = [
        await clientNode.dialProtocol(target, STORAGE_PROTOCOL),
        await clientNode.dialProtocol(target, STORAGE_PROTOCOL),
      ];
      await new Promise((resolve) => setTimeout(resolve, 100));
      // The refusal may land before or after protocol negotiation completes.
      const reply = await clientNode
        .dialProtocol(target, STORAGE_PROTOCOL)
        .then((third) => readFrame(third, { signal: AbortSignal.timeout(5_000) }))
        .catch(() => undefined);
      if (reply) expect(errorCode(reply)).toBe(ErrorCode.RateLimited);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(clientNode.getConnections(serverNode.peerId)).toHaveLength(0);
      for (const s of idle) s.abort(new Error("done"));
    } finally {
      await server.stop();
      await clientNode.stop();
      await serverNode.stop();
    }
  });
});
