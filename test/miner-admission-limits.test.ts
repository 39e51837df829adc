/**
 * Each of the miner's admission and request-rate limits, pushed past with small settings over
 * real libp2p on loopback: the validators' reserved share of handshake and connection slots, the
 * request buckets per peer, per stranger's IP and per hotkey, libp2p's per-IP connection rate,
 * and the failures that ban a peer id and its IP. Strangers dial from 127.0.x.y; the validator's
 * IP is 127.0.0.1 once a request authenticated from it.
 */
import { connect, type Socket } from "node:net";
import type { Libp2p } from "@libp2p/interface";
import type { Multiaddr } from "@multiformats/multiaddr";
import { Keyring } from "@polkadot/keyring";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRequestSigner, type RequestSigner } from "../neurons/auth.js";
import { createP2PNode } from "../neurons/p2p/node.js";
import { type Envelope, ErrorCode } from "../protocol/messages.js";
import {
  type AdmissionSubnet,
  counterValue,
  createAdmissionSubnet,
  hello,
  nodeFrom,
  sleep,
  waitUntil,
} from "./support/admission-subnet.js";

let subnet: AdmissionSubnet;
/** A hotkey with no permit: its requests are refused as Unauthorized, a failure each. */
let outsider: RequestSigner;
let validatorNode: Libp2p;
const nodes: Libp2p[] = [];
const sockets: Socket[] = [];

beforeAll(async () => {
  subnet = await createAdmissionSubnet();
  outsider = createRequestSigner(new Keyring({ type: "sr25519" }).addFromUri("//Eve//outsider"));
  validatorNode = await createP2PNode();
}, 60_000);

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await Promise.all([validatorNode, ...nodes].map((node) => node?.stop()));
  subnet?.cleanUp();
});

/** A libp2p node from `source` (127.0.0.1 when absent), stopped after the file. */
async function node(source?: string): Promise<Libp2p> {
  const created = source === undefined ? await createP2PNode() : await nodeFrom(source);
  nodes.push(created);
  return created;
}

/** True when `from` holds an open connection to `target` within 5 s. */
async function dials(from: Libp2p, target: Multiaddr): Promise<boolean> {
  try {
    await from.dial(target, { signal: AbortSignal.timeout(5_000) });
    return true;
  } catch {
    return false;
  }
}

/** A raw TCP socket that never starts the handshake; `closed` turns true when the miner drops it. */
function rawSocket(target: Multiaddr, source?: string): { socket: Socket; closed: () => boolean } {
  const port = Number(target.toString().split("/")[4]);
  const socket = connect({ host: "127.0.0.1", port, ...(source ? { localAddress: source } : {}) });
  sockets.push(socket);
  let closed = false;
  socket.on("error", () => undefined);
  socket.on("close", () => {
    closed = true;
  });
  return { socket, closed: () => closed };
}

function errorCode(reply: Envelope): ErrorCode | undefined {
  return reply.body.type === "error" ? reply.body.code : undefined;
}

/**
 * The reply's error code, or "closed": a peer over a limit is answered and disconnected at once,
 * and the disconnect may beat the reply to the requester (as in test/miner.test.ts).
 */
function refusal(reply: Promise<Envelope>): Promise<ErrorCode | "closed" | undefined> {
  return reply.then(errorCode, () => "closed" as const);
}

/** True when `from` gets any reply to a request (the miner served it), false when refused. */
function served(from: Libp2p, target: Multiaddr): Promise<boolean> {
  return subnet.ask(from, target, hello, { as: outsider }).then(
    () => true,
    () => false,
  );
}

function connectedTo(from: Libp2p, peerId: string): boolean {
  return from.getConnections().some((c) => c.remotePeer.toString() === peerId && c.status === "open");
}

describe("the validators' reserved share", () => {
  it("lets a validator's IP through handshake slots strangers filled, up to reservedPending", async () => {
    const { miner, target, metrics } = await subnet.startMiner({
      admission: { maxPending: 2, reservedPending: 2, handshakeTimeoutMs: 20_000 },
    });
    try {
      // 127.0.0.1 becomes a validator's IP.
      expect((await subnet.ask(validatorNode, target, hello)).body.type).toBe("hello");
      const strangers = [rawSocket(target, "127.0.5.1"), rawSocket(target, "127.0.5.2")];
      await sleep(300);
      const third = rawSocket(target, "127.0.5.3");
      expect(await waitUntil(third.closed, 3_000)).toBe(true);
      expect(strangers.some((s) => s.closed())).toBe(false);
      expect(counterValue(await metrics.render(), "miner_connections_refused_total", "pending")).toBe(1);

      // Strangers' share full: a validator's new dial still gets in.
      const fresh = await node();
      expect((await subnet.ask(fresh, target, hello)).body.type).toBe("hello");

      // Past the reserved share a validator's IP is refused too. libp2p's own pending cap is the
      // sum of both shares, so the strangers leave first for the refusal to be the reserved one.
      for (const { socket } of strangers) socket.destroy();
      await sleep(300);
      const held = [rawSocket(target), rawSocket(target)];
      await sleep(300);
      const past = rawSocket(target);
      expect(await waitUntil(past.closed, 3_000)).toBe(true);
      expect(held.some((s) => s.closed())).toBe(false);
      expect(counterValue(await metrics.render(), "miner_connections_refused_total", "reserved")).toBe(1);
    } finally {
      await miner.stop();
    }
  });

  it("lets a validator's IP open connections past strangers' cap, up to reservedConnections", async () => {
    const { miner, target, metrics } = await subnet.startMiner({
      admission: { maxConnections: 2, reservedConnections: 3, unauthenticatedIdleMs: 60_000 },
    });
    try {
      expect((await subnet.ask(validatorNode, target, hello)).body.type).toBe("hello");
      const strangers = [await node("127.0.6.1"), await node("127.0.6.2")];
      for (const stranger of strangers) expect(await dials(stranger, target)).toBe(true);
      expect(await dials(await node("127.0.6.3"), target)).toBe(false);
      expect(counterValue(await metrics.render(), "miner_connections_refused_total", "connections")).toBe(1);

      // The validator's connection and two more from its IP: the reserved share of 3.
      for (let i = 0; i < 2; i++) expect(await dials(await node(), target)).toBe(true);

      // libp2p's own connection cap is the sum of both shares: the strangers leave first so
      // that the refusal below is the reserved share's.
      for (const stranger of strangers) await stranger.stop();
      await waitUntil(() => !strangers.some((s) => connectedTo(s, miner.peerId)), 3_000);
      await sleep(300);
      expect(await dials(await node(), target)).toBe(false);
      expect(counterValue(await metrics.render(), "miner_connections_refused_total", "reserved")).toBe(1);
    } finally {
      await miner.stop();
    }
  });
});

describe("request rate buckets", () => {
  // A rate of 0.01/s refills one token in 100 s: nothing refills while a test runs, so the
  // bursts alone decide.
  const limits = { requestsPerSecond: 0.01, burst: 3 };

  it("refuses a peer's request past its burst as RateLimited", async () => {
    const { miner, target, metrics } = await subnet.startMiner({ limits });
    try {
      // From the validator's IP (no per-IP bucket) with a key that has no permit (no hotkey
      // bucket): only the peer's bucket counts.
      expect((await subnet.ask(validatorNode, target, hello)).body.type).toBe("hello");
      const peer = await node();
      for (let i = 0; i < 3; i++) {
        expect(errorCode(await subnet.ask(peer, target, hello, { as: outsider }))).toBe(
          ErrorCode.Unauthorized,
        );
      }
      expect([ErrorCode.RateLimited, "closed"]).toContain(
        await refusal(subnet.ask(peer, target, hello, { as: outsider })),
      );
      expect(counterValue(await metrics.render(), "miner_peers_refused_total", "rate")).toBe(1);
    } finally {
      await miner.stop();
    }
  });

  it("shares one bucket among a stranger's IP's peer ids", async () => {
    const { miner, target, metrics } = await subnet.startMiner({ limits });
    try {
      const first = await node("127.0.7.1");
      const second = await node("127.0.7.1");
      for (const peer of [first, first, second]) {
        expect(errorCode(await subnet.ask(peer, target, hello, { as: outsider }))).toBe(
          ErrorCode.Unauthorized,
        );
      }
      // A new peer id with a full bucket of its own, from the same IP.
      const third = await node("127.0.7.1");
      expect([ErrorCode.RateLimited, "closed"]).toContain(
        await refusal(subnet.ask(third, target, hello, { as: outsider })),
      );
      expect(counterValue(await metrics.render(), "miner_peers_refused_total", "rate")).toBe(1);
      // Another IP has its own bucket.
      const elsewhere = await node("127.0.7.2");
      expect(errorCode(await subnet.ask(elsewhere, target, hello, { as: outsider }))).toBe(
        ErrorCode.Unauthorized,
      );
    } finally {
      await miner.stop();
    }
  });

  it("shares one bucket among a hotkey's peer ids", async () => {
    const { miner, target } = await subnet.startMiner({ limits });
    try {
      const first = await node();
      for (let i = 0; i < 2; i++) expect((await subnet.ask(first, target, hello)).body.type).toBe("hello");
      const second = await node();
      expect((await subnet.ask(second, target, hello)).body.type).toBe("hello");
      // The hotkey spent its burst of 3 across two peer ids; a third, with a full bucket of its
      // own, from the validator's IP (no per-IP bucket), is refused for the hotkey.
      const third = await node();
      const reply = await subnet.ask(third, target, hello);
      expect(errorCode(reply)).toBe(ErrorCode.RateLimited);
      expect(reply.body.type === "error" ? reply.body.message : "").toMatch(/hotkey/);
    } finally {
      await miner.stop();
    }
  });
});

describe("connections per IP per second", () => {
  it("refuses an IP's connections past connectionsPerIpPerSecond, not another IP's", async () => {
    const { miner, target } = await subnet.startMiner({
      admission: { connectionsPerIpPerSecond: 3, handshakeTimeoutMs: 20_000 },
    });
    try {
      const burst = Array.from({ length: 10 }, () => rawSocket(target, "127.0.8.1"));
      await sleep(1_000);
      const kept = burst.filter((s) => !s.closed()).length;
      // At most the 3 of one second; at least one, or nothing would show the rest were refused
      // for the rate rather than for everything.
      expect(kept).toBeLessThanOrEqual(3);
      expect(kept).toBeGreaterThan(0);
      const other = rawSocket(target, "127.0.8.2");
      await sleep(500);
      expect(other.closed()).toBe(false);
    } finally {
      await miner.stop();
    }
  });
});

describe("failures that ban", () => {
  const admission = { maxFailures: 3, failureWindowMs: 60_000 };

  it("bans the peer id and the IP at the maxFailures-th failure, not before", async () => {
    const { miner, target, metrics } = await subnet.startMiner({ admission });
    try {
      const offender = await node("127.0.9.1");
      for (let i = 0; i < 2; i++) {
        expect(errorCode(await subnet.ask(offender, target, hello, { as: outsider }))).toBe(
          ErrorCode.Unauthorized,
        );
      }
      // Two failures: still connected, and the IP still admits a new peer id.
      await sleep(300);
      expect(connectedTo(offender, miner.peerId)).toBe(true);
      const neighbour = await node("127.0.9.1");
      expect(await dials(neighbour, target)).toBe(true);

      // The third bans both: the offender and its neighbour are cut off, a new peer id from the
      // IP is refused, the offender cannot come back.
      await subnet.ask(offender, target, hello, { as: outsider }).catch(() => undefined);
      expect(
        await waitUntil(
          () => !connectedTo(offender, miner.peerId) && !connectedTo(neighbour, miner.peerId),
          5_000,
        ),
      ).toBe(true);
      expect(await dials(await node("127.0.9.1"), target)).toBe(false);
      expect(await served(offender, target)).toBe(false);
      expect(
        counterValue(await metrics.render(), "miner_connections_refused_total", "banned"),
      ).toBeGreaterThanOrEqual(1);
      // Another IP is untouched.
      expect(await dials(await node("127.0.9.2"), target)).toBe(true);
    } finally {
      await miner.stop();
    }
  });

  it("bans only the peer id on an IP that hosts a validator", async () => {
    const { miner, target } = await subnet.startMiner({ admission });
    try {
      expect((await subnet.ask(validatorNode, target, hello)).body.type).toBe("hello");
      const offender = await node();
      for (let i = 0; i < 2; i++) {
        expect(errorCode(await subnet.ask(offender, target, hello, { as: outsider }))).toBe(
          ErrorCode.Unauthorized,
        );
      }
      await subnet.ask(offender, target, hello, { as: outsider }).catch(() => undefined);
      expect(await waitUntil(() => !connectedTo(offender, miner.peerId), 5_000)).toBe(true);
      expect(await served(offender, target)).toBe(false);
      // The validator and a new peer id on its IP are still served.
      expect(connectedTo(validatorNode, miner.peerId)).toBe(true);
      expect((await subnet.ask(validatorNode, target, hello)).body.type).toBe("hello");
      expect((await subnet.ask(await node(), target, hello)).body.type).toBe("hello");
    } finally {
      await miner.stop();
    }
  });
});
