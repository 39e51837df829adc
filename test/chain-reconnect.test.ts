/**
 * The client survives its chain restarting: a dev chain persisted to a SQLite file stops and a new
 * one resumes from the same file on the same port; the client's WsProvider reconnects by itself
 * and answers again, at a head no lower than before. And a client pointed at a port where nothing
 * listens fails to start with ChainUnavailableError rather than hanging.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createDevChain, type DevChain } from "../chain/devchain/chain.js";
import { subtensorPallets } from "../chain/devchain/pallets/subtensor/pallets.js";
import { ChainUnavailableError } from "../chain/errors.js";
import { PolkadotChainClient } from "../chain/polkadot-client.js";

/** WsProvider retries every 2.5 s; the brief allows the client ~20 s to come back. */
const RECONNECT_DEADLINE_MS = 20_000;

/** A port that was free a moment ago: listen on 0, read the port, close. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no TCP address");
  return address.port;
}

/** Resolves when the client's socket drops (registered before the drop, so it cannot be missed). */
function disconnection(client: PolkadotChainClient): Promise<void> {
  return new Promise((resolve) => client.api.once("disconnected", () => resolve()));
}

describe("reconnecting to a restarted dev chain", () => {
  let dir: string;
  const chains: DevChain[] = [];
  const clients: PolkadotChainClient[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "chain-reconnect-"));
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) await client.stop();
    for (const chain of chains.splice(0)) await chain.stop();
    await rm(dir, { recursive: true, force: true });
  });

  function devChain(port: number, db: string): DevChain {
    const chain = createDevChain({ port, mode: "manual", pallets: subtensorPallets(), db, log: () => {} });
    chains.push(chain);
    return chain;
  }

  it("answers currentBlock again after the chain restarts on the same port and db", async () => {
    const port = await freePort();
    const db = join(dir, "chain.sqlite");
    const first = devChain(port, db);
    await first.start();
    first.newBlock(5);
    const client = new PolkadotChainClient({
      endpoint: first.endpoint,
      connectTimeoutMs: RECONNECT_DEADLINE_MS,
    });
    // Same chain, but gives up on a lost connection after 1 s.
    const impatient = new PolkadotChainClient({ endpoint: first.endpoint, connectTimeoutMs: 1_000 });
    clients.push(client, impatient);
    await client.start();
    await impatient.start();
    const oldHead = await client.currentBlock();
    expect(oldHead).toBe(5);
    const seen: number[] = [];
    const unsubscribe = await client.subscribeBlocks((n) => seen.push(n));

    const dropped = Promise.all([disconnection(client), disconnection(impatient)]);
    await first.stop();
    await dropped;
    // While nothing listens, a call waits up to connectTimeoutMs and fails with a named error.
    const err = await impatient.currentBlock().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChainUnavailableError);
    // A caller's signal ends the wait sooner than connectTimeoutMs, with the signal's reason.
    const timedOut = await client.currentBlock({ signal: AbortSignal.timeout(100) }).catch((e: unknown) => e);
    expect(timedOut).toMatchObject({ name: "TimeoutError" });

    const second = devChain(port, db);
    await second.start();
    expect(second.head.header.number).toBe(oldHead);
    // One call, no retries: it waits for WsProvider's reconnect, then answers.
    expect(await client.currentBlock()).toBeGreaterThanOrEqual(oldHead);

    // It talks to the new chain: a block made there is the client's head, and the subscription
    // made before the restart delivers it.
    second.newBlock(1);
    expect(await client.currentBlock()).toBe(oldHead + 1);
    const deadline = Date.now() + 10_000;
    while (!seen.includes(oldHead + 1) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(seen).toContain(oldHead + 1);
    unsubscribe();
  });

  it("start() against a port where nothing listens fails with ChainUnavailableError", async () => {
    const port = await freePort();
    const client = new PolkadotChainClient({ endpoint: `ws://127.0.0.1:${port}`, connectTimeoutMs: 2_000 });
    const err = await client.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ChainUnavailableError);
    expect((err as Error).name).toBe("ChainUnavailableError");
    // Nothing half-started is left behind: the client is not usable and stop() is harmless.
    expect(() => client.api).toThrow();
    await client.stop();
  }, 10_000);
});
