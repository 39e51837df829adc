/**
 * The dev chain's JSON-RPC server under hostile clients (issue 14): each attack that once crashed,
 * froze or bloated the chain, run against a real dev chain on loopback, bounded in count and time.
 */
import { ApiPromise, WsProvider } from "@polkadot/api";
import { Keyring } from "@polkadot/keyring";
import { hexToU8a } from "@polkadot/util";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { createDevChain, DEFAULT_POOL_LIMITS, type DevChain } from "../chain/devchain/chain.js";
import { subtensorPallets } from "../chain/devchain/pallets/subtensor/pallets.js";
import {
  DEFAULT_RPC_LIMITS,
  INVALID_REQUEST,
  METHOD_NOT_FOUND,
  OVERSIZED_REQUEST,
  OVERSIZED_RESPONSE,
  TOO_BIG_BATCH_REQUEST,
  TOO_BIG_BATCH_RESPONSE,
  TOO_MANY_SUBSCRIPTIONS,
} from "../chain/devchain/rpc-server.js";

type Reply = { id?: unknown; result?: unknown; error?: { code: number; message: string } };

const BLOCK_MS = 100;
/** A block late by this much means the chain's thread was held; far above any scheduling jitter. */
const FROZEN_MS = 2_000;

const httpOf = (endpoint: string) => endpoint.replace(/^ws/, "http");

async function post(endpoint: string, body: string): Promise<{ status: number; json: unknown }> {
  const res = await fetch(httpOf(endpoint), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
  const text = await res.text();
  return { status: res.status, json: text === "" ? null : JSON.parse(text) };
}

/** A WebSocket client that collects every message it gets. */
async function connect(
  endpoint: string,
): Promise<{ ws: WebSocket; messages: unknown[]; closed: Promise<void> }> {
  const ws = new WebSocket(endpoint, { maxPayload: 256 * 1024 * 1024 });
  const messages: unknown[] = [];
  ws.on("message", (data) => messages.push(JSON.parse(data.toString())));
  const closed = new Promise<void>((resolve) => ws.once("close", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  return { ws, messages, closed };
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Watches block production from the chain's side: the longest gap between two new heads. */
function watchBlocks(chain: DevChain): { longestGapMs: () => number; blocks: () => number } {
  let last = Date.now();
  let longest = 0;
  let count = 0;
  let previous = chain.head.header.number;
  const timer = setInterval(() => {
    const n = chain.head.header.number;
    const now = Date.now();
    if (n !== previous) {
      longest = Math.max(longest, now - last);
      last = now;
      previous = n;
      count++;
    }
  }, 10);
  timer.unref();
  return {
    longestGapMs: () => Math.max(longest, Date.now() - last),
    blocks: () => count,
  };
}

describe("dev chain RPC limits (default caps)", () => {
  let chain: DevChain;

  beforeAll(async () => {
    chain = createDevChain({
      port: 0,
      mode: "interval",
      blockTimeMs: BLOCK_MS,
      pallets: subtensorPallets(),
      log: () => {},
    });
    await chain.start();
  });

  afterAll(async () => {
    await chain?.stop();
  });

  it("refuses an id nested 100,000 arrays deep and keeps running", async () => {
    const id = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
    const { status, json } = await post(
      chain.endpoint,
      `{"jsonrpc":"2.0","id":${id},"method":"system_health"}`,
    );
    expect(status).toBe(200);
    expect(json).toMatchObject({ id: null, error: { code: INVALID_REQUEST } });
    const ok = await post(chain.endpoint, '{"jsonrpc":"2.0","id":1,"method":"chain_getHeader"}');
    expect(ok.json).toMatchObject({ id: 1, result: { number: expect.any(String) } });
  });

  it("answers ids of every valid kind and refuses objects and booleans as ids", async () => {
    for (const id of ['"a"', "7", "null"]) {
      const { json } = await post(chain.endpoint, `{"jsonrpc":"2.0","id":${id},"method":"system_name"}`);
      expect(json).toMatchObject({ id: JSON.parse(id), result: expect.any(String) });
    }
    for (const id of ["{}", "true", '{"__proto__":1}']) {
      const { json } = await post(chain.endpoint, `{"jsonrpc":"2.0","id":${id},"method":"system_name"}`);
      expect(json).toMatchObject({ id: null, error: { code: INVALID_REQUEST } });
    }
  });

  it("looks methods up among its own names only", async () => {
    for (const method of ["__proto__", "constructor", "hasOwnProperty", "toString", "valueOf"]) {
      const { json } = await post(chain.endpoint, JSON.stringify({ jsonrpc: "2.0", id: 1, method }));
      expect(json).toMatchObject({ id: 1, error: { code: METHOD_NOT_FOUND } });
    }
  });

  it("refuses a 300,000-call batch whole while blocks keep their pace", async () => {
    const watch = watchBlocks(chain);
    // Compact calls (the server does not insist on "jsonrpc"), so the batch stays under the
    // request size cap and meets the batch cap.
    const calls = Array.from({ length: 300_000 }, (_, i) => `{"id":${i},"method":"system_health"}`);
    const { json } = await post(chain.endpoint, `[${calls.join(",")}]`);
    expect(json).toMatchObject({ id: null, error: { code: TOO_BIG_BATCH_REQUEST } });
    // A batch at the cap is served, yielding to block production as it goes.
    const atCap = calls.slice(0, DEFAULT_RPC_LIMITS.maxBatchLength);
    const served = await post(chain.endpoint, `[${atCap.join(",")}]`);
    expect(served.json).toHaveLength(DEFAULT_RPC_LIMITS.maxBatchLength);
    await new Promise((r) => setTimeout(r, 5 * BLOCK_MS));
    expect(watch.blocks()).toBeGreaterThan(0);
    expect(watch.longestGapMs()).toBeLessThan(FROZEN_MS);
  });

  it("refuses a batch whose replies would exceed the response cap (1,000 × state_getMetadata)", async () => {
    const single = await post(chain.endpoint, '{"jsonrpc":"2.0","id":1,"method":"state_getMetadata"}');
    const size = JSON.stringify(single.json).length;
    expect(size * 1000).toBeGreaterThan(DEFAULT_RPC_LIMITS.maxResponseBytes);
    const calls = Array.from(
      { length: 1000 },
      (_, i) => `{"jsonrpc":"2.0","id":${i},"method":"state_getMetadata"}`,
    );
    const { json } = await post(chain.endpoint, `[${calls.join(",")}]`);
    expect(json).toMatchObject({ id: null, error: { code: TOO_BIG_BATCH_RESPONSE } });
  });

  it("answers a request over the size cap with 413 and -32007", async () => {
    const body = `{"jsonrpc":"2.0","id":1,"method":"system_name","params":["${"x".repeat(DEFAULT_RPC_LIMITS.maxRequestBytes)}"]}`;
    const { status, json } = await post(chain.endpoint, body);
    expect(status).toBe(413);
    expect(json).toMatchObject({ error: { code: OVERSIZED_REQUEST } });
  });

  it("opens at most the per-connection cap of subscriptions out of 6,000 asked, and blocks keep their pace", async () => {
    const client = await connect(chain.endpoint);
    const watch = watchBlocks(chain);
    try {
      for (let batch = 0; batch < 6; batch++) {
        const calls = Array.from(
          { length: 1000 },
          (_, i) => `{"jsonrpc":"2.0","id":${batch * 1000 + i},"method":"chain_subscribeNewHeads"}`,
        );
        client.ws.send(`[${calls.join(",")}]`);
      }
      const replies = () =>
        client.messages
          .flatMap((m) => (Array.isArray(m) ? (m as Reply[]) : []))
          .filter((r) => r.id !== undefined);
      await waitFor(() => replies().length === 6000, 30_000);
      const opened = replies().filter((r) => typeof r.result === "string");
      const refused = replies().filter((r) => r.error?.code === TOO_MANY_SUBSCRIPTIONS);
      expect(opened).toHaveLength(DEFAULT_RPC_LIMITS.maxSubscriptionsPerConnection);
      expect(refused).toHaveLength(6000 - DEFAULT_RPC_LIMITS.maxSubscriptionsPerConnection);
      const start = chain.head.header.number;
      await waitFor(() => chain.head.header.number >= start + 3, 10_000);
      expect(watch.longestGapMs()).toBeLessThan(FROZEN_MS);
    } finally {
      client.ws.close();
      await client.closed;
    }
  });

  it("serves a flood of 400 calls on one connection, reading at most its in-flight cap at a time", async () => {
    const client = await connect(chain.endpoint);
    try {
      const n = 400;
      for (let i = 0; i < n; i++)
        client.ws.send(JSON.stringify({ jsonrpc: "2.0", id: i, method: "state_getMetadata" }));
      await waitFor(() => client.messages.length === n, 30_000);
      const ids = (client.messages as Reply[]).filter((m) => typeof m.result === "string").map((m) => m.id);
      expect(new Set(ids).size).toBe(n);
    } finally {
      client.ws.close();
      await client.closed;
    }
  });
});

describe("dev chain RPC limits (small caps)", () => {
  let chain: DevChain;

  beforeAll(async () => {
    chain = createDevChain({
      port: 0,
      mode: "interval",
      blockTimeMs: BLOCK_MS,
      log: () => {},
      rpcLimits: {
        maxConnections: 3,
        maxSendBufferBytes: 256 * 1024,
        maxSubscriptionsPerConnection: 1024,
        maxResponseBytes: 16 * 1024,
      },
    });
    await chain.start();
  });

  afterAll(async () => {
    await chain?.stop();
  });

  it("answers a single call whose reply is over the response cap with -32008", async () => {
    const { json } = await post(chain.endpoint, '{"jsonrpc":"2.0","id":5,"method":"state_getMetadata"}');
    expect(json).toMatchObject({ id: 5, error: { code: OVERSIZED_RESPONSE } });
    const small = await post(chain.endpoint, '{"jsonrpc":"2.0","id":6,"method":"system_name"}');
    expect(small.json).toMatchObject({ id: 6, result: expect.any(String) });
  });

  it("refuses WebSocket connections past the cap with 503 and takes new ones once a slot frees", async () => {
    const clients = await Promise.all([0, 1, 2].map(() => connect(chain.endpoint)));
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(chain.endpoint);
      ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      ws.on("open", () => resolve(101));
      ws.on("error", () => {});
    });
    expect(status).toBe(503);
    const first = clients[0];
    if (!first) throw new Error("no client");
    first.ws.close();
    await first.closed;
    await new Promise((r) => setTimeout(r, 50));
    const again = await connect(chain.endpoint);
    for (const c of [...clients.slice(1), again]) {
      c.ws.close();
      await c.closed;
    }
  });

  it("closes a client that stops reading its notifications", async () => {
    const client = await connect(chain.endpoint);
    // Four batches of 200: each batch's replies stay under this chain's small response cap.
    for (let batch = 0; batch < 4; batch++) {
      const calls = Array.from(
        { length: 200 },
        (_, i) => `{"jsonrpc":"2.0","id":${batch * 200 + i},"method":"chain_subscribeNewHeads"}`,
      );
      client.ws.send(`[${calls.join(",")}]`);
    }
    await waitFor(() => client.messages.length > 0, 10_000);
    // Stop reading: the kernel's buffers fill, then the server's send buffer passes its cap and
    // the server drops the connection. Once reading again, the client sees the close.
    const socket = (client.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause();
    await new Promise((r) => setTimeout(r, 6_000));
    socket.resume();
    let closed = false;
    void client.closed.then(() => (closed = true));
    await waitFor(() => closed, 20_000);
    expect(closed).toBe(true);
    // The chain still serves others.
    const { json } = await post(chain.endpoint, '{"jsonrpc":"2.0","id":1,"method":"system_health"}');
    expect(json).toMatchObject({ id: 1, result: expect.any(Object) });
  });
});

describe("dev chain transaction pool limits", () => {
  let chain: DevChain;
  let api: ApiPromise;

  beforeAll(async () => {
    await cryptoWaitReady();
    chain = createDevChain({
      port: 0,
      mode: "manual",
      log: () => {},
      poolLimits: { futureLifetimeBlocks: 5 },
    });
    await chain.start();
    api = await ApiPromise.create({ provider: new WsProvider(chain.endpoint), noInitWarn: true });
  });

  afterAll(async () => {
    await api?.disconnect();
    await chain?.stop();
  });

  it("holds at most its cap of future-nonce transactions and drops them once they outlive their lifetime", async () => {
    const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
    const alice = keyring.addFromUri("//Alice");
    const bob = keyring.addFromUri("//Bob");
    const transfer = api.tx.balances?.transferKeepAlive;
    if (!transfer) throw new Error("no balances.transferKeepAlive");
    const attempts = DEFAULT_POOL_LIMITS.maxFutureTransactions + 100;
    let accepted = 0;
    let dropped = 0;
    for (let i = 0; i < attempts; i++) {
      // Nonces far ahead of Alice's (0): every one waits for an earlier nonce.
      const signed = await transfer(bob.address, 1n).signAsync(alice, { nonce: 1000 + i, era: 0 });
      try {
        chain.submit(hexToU8a(signed.toHex()));
        accepted++;
      } catch (e) {
        expect(e).toMatchObject({ code: 1016 });
        dropped++;
      }
    }
    expect(accepted).toBe(DEFAULT_POOL_LIMITS.maxFutureTransactions);
    expect(dropped).toBe(100);
    // The refusal travels as Substrate's RPC error 1016.
    const extra = await transfer(bob.address, 1n).signAsync(alice, { nonce: 5000, era: 0 });
    const { json } = await post(
      chain.endpoint,
      JSON.stringify({ jsonrpc: "2.0", id: 1, method: "author_submitExtrinsic", params: [extra.toHex()] }),
    );
    expect(json).toMatchObject({ id: 1, error: { code: 1016 } });
    // A ready transaction still gets in while the future queue is full.
    const ready = await transfer(bob.address, 1n).signAsync(alice, { nonce: 0, era: 0 });
    chain.submit(hexToU8a(ready.toHex()));
    chain.newBlock(1);
    expect(chain.pendingExtrinsics).toHaveLength(DEFAULT_POOL_LIMITS.maxFutureTransactions);
    chain.newBlock(6);
    expect(chain.pendingExtrinsics).toHaveLength(0);
  });
});
