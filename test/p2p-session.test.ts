/**
 * Several requests per stream (STORAGE_SESSION_PROTOCOL) on real libp2p over 127.0.0.1: the
 * requester's stream pool (neurons/p2p/stream-pool.ts) against the frame server
 * (neurons/p2p/server.ts), and against raw peers that reset or close a kept stream. A kept stream
 * carries successive requests, each checked like one on a new stream; a failure fails one request
 * and drops the stream; the server's bounds on kept streams and its idle close hold.
 */
import type { Libp2p, Stream } from "@libp2p/interface";
import { Keyring } from "@polkadot/keyring";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { authReady, createRequestSigner, createRequestVerifier, signRequest } from "../neurons/auth.js";
import { silentLogger } from "../neurons/logger.js";
import {
  createP2PNode,
  FrameReader,
  RequestAbortedError,
  RequestFailedError,
  STORAGE_SESSION_PROTOCOL,
  writeParts,
} from "../neurons/p2p/node.js";
import { createFrameServer, createPeerBans, type FrameServerInit } from "../neurons/p2p/server.js";
import { createStreamPool, type StreamPool } from "../neurons/p2p/stream-pool.js";
import { encodeFrameParts } from "../protocol/codec.js";
import { createEnvelope, type Envelope, ErrorCode } from "../protocol/messages.js";

const body = (chunkIndex: number) => ({ type: "retrieve" as const, storeId: "x", chunkIndex });

/** Answers NotFound, naming the chunk asked for (so a reply shows which request it answers). */
const notFound = (req: Envelope): Envelope =>
  createEnvelope(
    {
      type: "error",
      code: ErrorCode.NotFound,
      message: `no ${req.body.type === "retrieve" ? req.body.chunkIndex : "?"}`,
    },
    { requestId: req.requestId },
  );

const messageOf = (reply: Envelope) => (reply.body.type === "error" ? reply.body.message : reply.body.type);
const codeOf = (reply: Envelope) => (reply.body.type === "error" ? reply.body.code : undefined);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` holds (at most 5 s): stream closes travel asynchronously. */
async function eventually(check: () => boolean): Promise<void> {
  const until = Date.now() + 5_000;
  while (!check() && Date.now() < until) await sleep(20);
  expect(check()).toBe(true);
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function node(init: Parameters<typeof createP2PNode>[0] = {}): Promise<Libp2p> {
  const created = await createP2PNode(init);
  cleanups.push(() => created.stop());
  return created;
}

/** A frame server answering `notFound` unless told otherwise; counts what it handled. */
async function server(
  init: Partial<FrameServerInit> = {},
): Promise<{ node: Libp2p; handled: Envelope[]; server: ReturnType<typeof createFrameServer> }> {
  const bans = createPeerBans();
  const serverNode = await node({ denyPeer: bans.isBanned });
  const handled: Envelope[] = [];
  const { handle, ...rest } = init;
  const frameServer = createFrameServer({
    node: serverNode,
    bans,
    log: silentLogger(),
    handle: async (req, context) => {
      handled.push(req);
      return handle ? handle(req, context) : notFound(req);
    },
    ...rest,
  });
  await frameServer.start();
  cleanups.push(() => frameServer.stop());
  return { node: serverNode, handled, server: frameServer };
}

/** A requester node dialled to `target`, with a stream pool. */
async function requester(target: Libp2p, init: Parameters<typeof createStreamPool>[1] = {}) {
  const clientNode = await node();
  await clientNode.dial(target.getMultiaddrs()[0]!);
  const pool: StreamPool = createStreamPool(clientNode, init);
  cleanups.push(() => pool.close());
  return { node: clientNode, pool, peer: target.peerId };
}

/**
 * A raw session peer: answers each request on a stream like the frame server, except that
 * `misbehave` may reset the stream (before answering) or close it without reading the request.
 */
async function rawSessionPeer(
  misbehave: (requestNumber: number) => "answer" | "reset" | "close-unread",
): Promise<{ node: Libp2p; served: number[] }> {
  const peerNode = await node();
  const served: number[] = [];
  let requests = 0;
  await peerNode.handle(STORAGE_SESSION_PROTOCOL, (stream: Stream) => {
    const reader = new FrameReader(stream);
    void (async () => {
      while (await reader.waitForData(AbortSignal.timeout(10_000))) {
        const action = misbehave(++requests);
        if (action === "close-unread") {
          await stream.close();
          return;
        }
        const frame = await reader.read({ signal: AbortSignal.timeout(5_000) });
        if (frame === undefined) return;
        if (action === "reset") {
          stream.abort(new Error("reset by the test peer"));
          return;
        }
        served.push(requests);
        await writeParts(stream, encodeFrameParts(notFound(frame.envelope)));
      }
      await stream.close().catch(() => undefined);
    })().catch(() => stream.abort(new Error("test peer failed")));
  });
  return { node: peerNode, served };
}

beforeAll(async () => {
  await cryptoWaitReady();
  await authReady();
});

describe("a kept stream", () => {
  it("carries successive requests, one stream for all of them", async () => {
    const { node: serverNode, handled, server: frameServer } = await server();
    const { pool, peer } = await requester(serverNode);
    for (let i = 0; i < 5; i++) {
      const reply = await pool.request(peer, createEnvelope(body(i), { requestId: i + 1 }));
      expect(reply.requestId).toBe(i + 1);
      expect(messageOf(reply)).toBe(`no ${i}`);
    }
    expect(handled).toHaveLength(5);
    expect(pool.streamsOpened).toBe(1);
    expect(pool.keptStreams).toBe(1);
    await eventually(() => frameServer.keptStreams === 1 && frameServer.activeStreams === 0);
  });

  it("checks every request on it like one on a new stream: a replayed signed request is refused", async () => {
    const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
    const validator = keyring.addFromUri("//Alice//session-test");
    const miner = keyring.addFromUri("//Bob//session-test");
    const verifier = createRequestVerifier({ isAllowed: () => true, recipient: miner.address });
    const { node: serverNode, server: frameServer } = await server({
      handle: (req, { body: encoded }) => {
        const auth = verifier.verify(req, encoded);
        return auth.ok
          ? notFound(req)
          : createEnvelope(
              { type: "error", code: auth.code, message: auth.reason },
              { requestId: req.requestId },
            );
      },
    });
    const { pool, peer } = await requester(serverNode);
    const signer = createRequestSigner(validator);
    const signed = signRequest(signer, body(1), { recipient: miner.address, requestId: 7 });
    expect(codeOf(await pool.request(peer, signed))).toBe(ErrorCode.NotFound);
    expect(codeOf(await pool.request(peer, signed))).toBe(ErrorCode.Replay);
    // A request that failed authentication does not keep its stream.
    await eventually(() => frameServer.keptStreams === 0);
    const fresh = signRequest(signer, body(2), { recipient: miner.address, requestId: 8 });
    expect(codeOf(await pool.request(peer, fresh))).toBe(ErrorCode.NotFound);
    expect(pool.streamsOpened).toBe(2);
  });

  it("is rate limited per peer like new streams: over the rate, RateLimited, disconnected and banned", async () => {
    const { node: serverNode } = await server({ limits: { requestsPerSecond: 0.001, burst: 3 } });
    const { node: clientNode, pool, peer } = await requester(serverNode);
    for (let i = 0; i < 3; i++) {
      expect(codeOf(await pool.request(peer, createEnvelope(body(i))))).toBe(ErrorCode.NotFound);
    }
    expect(pool.streamsOpened).toBe(1);
    const limited = await pool.request(peer, createEnvelope(body(3))).then(codeOf, () => "closed");
    expect([ErrorCode.RateLimited, "closed"]).toContain(limited);
    await eventually(() => clientNode.getConnections(serverNode.peerId).length === 0);
    await expect(pool.request(peer, createEnvelope(body(4)))).rejects.toBeInstanceOf(Error);
  });

  it("is not kept for a sender that did not authenticate (checkSender refused it)", async () => {
    const {
      node: serverNode,
      handled,
      server: frameServer,
    } = await server({
      checkSender: () => ({ ok: false, code: ErrorCode.Unauthorized, reason: "not a validator" }),
    });
    const { pool, peer } = await requester(serverNode);
    for (let i = 0; i < 3; i++) {
      // A stranger's small frame is still read and handed to the handler (which authenticates).
      const reply = await pool.request(peer, createEnvelope(body(i)));
      expect(messageOf(reply)).toBe(`no ${i}`);
    }
    expect(handled).toHaveLength(3);
    expect(frameServer.keptStreams).toBe(0);
    expect(pool.streamsOpened).toBe(3);
  });
});

describe("requests sent back to back on one stream", () => {
  it("are served in turn, each frame read and checked on its own", async () => {
    const { node: serverNode, handled } = await server({ limits: { maxFrameSize: 4_096 } });
    const clientNode = await node();
    const stream = await clientNode.dialProtocol(serverNode.getMultiaddrs()[0]!, STORAGE_SESSION_PROTOCOL);
    const frames = [1, 2, 3].map((i) => encodeFrameParts(createEnvelope(body(i), { requestId: i })));
    const joined = Buffer.concat(frames.flat());
    // All three frames in one write: the server reads the first, answers it, then the next.
    stream.send(joined);
    const reader = new FrameReader(stream);
    const replies: Envelope[] = [];
    for (let i = 0; i < 3; i++) {
      const frame = await reader.read({ signal: AbortSignal.timeout(5_000) });
      if (frame !== undefined) replies.push(frame.envelope);
    }
    expect(replies.map((r) => r.requestId)).toEqual([1, 2, 3]);
    expect(handled.map((r) => r.requestId)).toEqual([1, 2, 3]);
    // An oversize frame after them is refused like one on a new stream (FrameTooLarge).
    const big = encodeFrameParts(
      createEnvelope({ type: "store", storeId: "x", chunkIndex: 0, data: new Uint8Array(8_192) }),
    );
    stream.send(Buffer.concat(big));
    const refused = await reader.read({ signal: AbortSignal.timeout(5_000) }).catch(() => undefined);
    if (refused !== undefined) expect(codeOf(refused.envelope)).toBe(ErrorCode.FrameTooLarge);
    await eventually(() => clientNode.getConnections(serverNode.peerId).length === 0);
    stream.abort(new Error("done"));
  });
});

describe("a malformed frame on a kept stream", () => {
  it("gets the error a new stream gets, and the stream is not kept for another request", async () => {
    const { node: serverNode, handled, server: frameServer } = await server();
    const clientNode = await node();
    const stream = await clientNode.dialProtocol(serverNode.getMultiaddrs()[0]!, STORAGE_SESSION_PROTOCOL);
    const reader = new FrameReader(stream);
    stream.send(Buffer.concat(encodeFrameParts(createEnvelope(body(1), { requestId: 1 }))));
    const first = await reader.read({ signal: AbortSignal.timeout(5_000) });
    expect(first?.envelope.requestId).toBe(1);
    // The second frame claims another protocol version (the byte after the length prefix).
    const bad = Buffer.concat(encodeFrameParts(createEnvelope(body(2), { requestId: 2 })));
    bad[4] = 0xee;
    stream.send(bad);
    const refused = await reader.read({ signal: AbortSignal.timeout(5_000) });
    expect(refused === undefined ? undefined : codeOf(refused.envelope)).toBe(ErrorCode.UnsupportedVersion);
    expect(await reader.read({ signal: AbortSignal.timeout(5_000) }).catch(() => undefined)).toBeUndefined();
    expect(handled.map((r) => r.requestId)).toEqual([1]);
    await eventually(() => frameServer.keptStreams === 0);
  });
});

describe("a failure on a kept stream", () => {
  it("fails only the request a reset cut, and the next request opens a new stream", async () => {
    const peerNode = await rawSessionPeer((n) => (n === 2 ? "reset" : "answer"));
    const { pool, peer } = await requester(peerNode.node);
    expect(messageOf(await pool.request(peer, createEnvelope(body(1))))).toBe("no 1");
    await expect(pool.request(peer, createEnvelope(body(2)))).rejects.toBeInstanceOf(RequestFailedError);
    expect(pool.keptStreams).toBe(0);
    expect(messageOf(await pool.request(peer, createEnvelope(body(3))))).toBe("no 3");
    expect(pool.streamsOpened).toBe(2);
    expect(peerNode.served).toEqual([1, 3]);
  });

  it("fails only a request past its deadline, and the server keeps serving the peer", async () => {
    const { node: serverNode, server: frameServer } = await server({
      handle: async (req) => {
        if (req.body.type === "retrieve" && req.body.chunkIndex === 2) await sleep(1_000);
        return notFound(req);
      },
    });
    const { pool, peer } = await requester(serverNode);
    expect(codeOf(await pool.request(peer, createEnvelope(body(1))))).toBe(ErrorCode.NotFound);
    await expect(
      pool.request(peer, createEnvelope(body(2)), { signal: AbortSignal.timeout(200) }),
    ).rejects.toBeInstanceOf(RequestAbortedError);
    expect(messageOf(await pool.request(peer, createEnvelope(body(3))))).toBe("no 3");
    expect(pool.streamsOpened).toBe(2);
    await eventually(() => frameServer.activeStreams === 0);
  });

  it("sends a request again on a new stream when the peer closed the kept stream without reading it", async () => {
    const peerNode = await rawSessionPeer((n) => (n === 2 ? "close-unread" : "answer"));
    const { pool, peer } = await requester(peerNode.node);
    expect(messageOf(await pool.request(peer, createEnvelope(body(1))))).toBe("no 1");
    expect(messageOf(await pool.request(peer, createEnvelope(body(2))))).toBe("no 2");
    expect(pool.streamsOpened).toBe(2);
    // Served once: the closed stream never read it.
    expect(peerNode.served).toEqual([1, 3]);
  });

  it("falls back to a stream per request with a peer that serves only the one-shot protocol", async () => {
    const { node: serverNode, handled } = await server({ sessionProtocol: false });
    const { pool, peer } = await requester(serverNode);
    for (let i = 0; i < 3; i++) {
      expect(messageOf(await pool.request(peer, createEnvelope(body(i))))).toBe(`no ${i}`);
    }
    expect(handled).toHaveLength(3);
    expect(pool.streamsOpened).toBe(3);
    expect(pool.keptStreams).toBe(0);
  });
});

describe("the server's bounds on kept streams", () => {
  it("keeps at most maxKeptStreamsPerPeer of one peer's streams and closes the rest after their answer", async () => {
    const {
      node: serverNode,
      handled,
      server: frameServer,
    } = await server({
      limits: { maxKeptStreamsPerPeer: 1 },
      handle: async (req) => {
        await sleep(100);
        return notFound(req);
      },
    });
    const { pool, peer } = await requester(serverNode, { maxKeptPerPeer: 3 });
    // Three at once take three streams; the server keeps one of them.
    const replies = await Promise.all([1, 2, 3].map((i) => pool.request(peer, createEnvelope(body(i)))));
    expect(replies.map(messageOf)).toEqual(["no 1", "no 2", "no 3"]);
    expect(pool.streamsOpened).toBe(3);
    await eventually(() => frameServer.keptStreams === 1);
    // The requester's streams the server closed are not used again, and nothing is served twice.
    for (let i = 4; i <= 9; i++) {
      expect(messageOf(await pool.request(peer, createEnvelope(body(i))))).toBe(`no ${i}`);
    }
    expect(handled).toHaveLength(9);
    await eventually(() => frameServer.keptStreams === 1);
  });

  it("keeps at most maxKeptStreams across peers", async () => {
    const { node: serverNode, server: frameServer } = await server({ limits: { maxKeptStreams: 1 } });
    const first = await requester(serverNode);
    const second = await requester(serverNode);
    expect(codeOf(await first.pool.request(first.peer, createEnvelope(body(1))))).toBe(ErrorCode.NotFound);
    await eventually(() => frameServer.keptStreams === 1);
    expect(codeOf(await second.pool.request(second.peer, createEnvelope(body(2))))).toBe(ErrorCode.NotFound);
    await sleep(200);
    expect(frameServer.keptStreams).toBe(1);
    // The second peer's stream was closed after its answer; its next request opens another.
    expect(codeOf(await second.pool.request(second.peer, createEnvelope(body(3))))).toBe(ErrorCode.NotFound);
    expect(second.pool.streamsOpened).toBe(2);
  });

  it("closes a kept stream idle for keptStreamIdleMs; the requester's next request opens a new one", async () => {
    const {
      node: serverNode,
      handled,
      server: frameServer,
    } = await server({
      limits: { keptStreamIdleMs: 200 },
    });
    const { pool, peer } = await requester(serverNode, { idleMs: 60_000 });
    expect(codeOf(await pool.request(peer, createEnvelope(body(1))))).toBe(ErrorCode.NotFound);
    await eventually(() => frameServer.keptStreams === 0);
    expect(codeOf(await pool.request(peer, createEnvelope(body(2))))).toBe(ErrorCode.NotFound);
    expect(pool.streamsOpened).toBe(2);
    expect(handled).toHaveLength(2);
  });

  it("lets the requester close its idle streams first (idleMs), which frees the server's slot", async () => {
    const { node: serverNode, server: frameServer } = await server();
    const { pool, peer } = await requester(serverNode, { idleMs: 500 });
    expect(codeOf(await pool.request(peer, createEnvelope(body(1))))).toBe(ErrorCode.NotFound);
    await eventually(() => frameServer.keptStreams === 1);
    await eventually(() => pool.keptStreams === 0 && frameServer.keptStreams === 0);
  });
});
