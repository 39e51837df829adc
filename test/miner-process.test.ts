/**
 * `node neurons/miner.js` as an operator runs it: against the embedded dev chain on a port, with
 * a wallet in a temporary wallet path. It publishes its multiaddr; a validator stores a burst of
 * chunks and the miner is killed with SIGKILL in the middle; after a restart every acknowledged
 * chunk is served byte-identical and proves, and the peer id is unchanged. Start-up failures
 * (missing wallet, unreachable chain, unregistered hotkey) each exit non-zero with one clear line.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Libp2p } from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";
import { Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootstrapSubnet } from "../chain/bootstrap.js";
import { createDevChain, type DevChain } from "../chain/devchain/chain.js";
import { subtensorPallets } from "../chain/devchain/pallets/subtensor/pallets.js";
import { PolkadotChainClient } from "../chain/polkadot-client.js";
import { createWallet } from "../chain/wallet.js";
import { authReady, signRequest } from "../neurons/auth.js";
import { createP2PNode, request } from "../neurons/p2p/node.js";
import { createChallenge, verifyResponse } from "../protocol/challenge.js";
import { chunkRoot } from "../protocol/merkle.js";
import type { Envelope, Message } from "../protocol/messages.js";
import { children, expectStartupFailure, freePort, runNode } from "./node-process.js";

const root = new URL("../", import.meta.url).pathname;
const TAO = 1_000_000_000n;
const TEMPO = 5;
const CHUNK = 64 * 1024;

let chain: DevChain;
let client: PolkadotChainClient;
let netuid: number;
let validator: KeyringPair;
let validatorNode: Libp2p;
let walletPath: string;
let dbRoot: string;
let minerAddress: string;
/** The miner's hotkey (ss58): every request here is addressed to it. */
let minerHotkeyAddress: string;

function baseArgs(wallet: string, port: number): string[] {
  return [
    "--netuid",
    String(netuid),
    "--subtensor.chain_endpoint",
    chain.endpoint,
    "--wallet.path",
    walletPath,
    "--wallet.name",
    wallet,
    "--wallet.hotkey",
    "default",
    "--db_root_path",
    dbRoot,
    "--axon.ip",
    "127.0.0.1",
    "--axon.port",
    String(port),
    "--chunk_size",
    String(CHUNK),
    "--threshold",
    "0.01",
  ];
}

async function ask<M extends Message>(body: M): Promise<Envelope> {
  return request(
    validatorNode,
    multiaddr(minerAddress),
    signRequest(validator, body, { recipient: minerHotkeyAddress }),
    {
      signal: AbortSignal.timeout(10_000),
    },
  );
}

beforeAll(async () => {
  await cryptoWaitReady();
  await authReady();
  if (!existsSync(join(root, "dist/neurons/miner/cli.js"))) throw new Error("run `npm run build` first");
  const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
  const alice = keyring.addFromUri("//Alice");
  const bob = keyring.addFromUri("//Bob");
  validator = keyring.addFromUri("//Bob//validator");
  chain = createDevChain({ port: 0, mode: "instant", pallets: subtensorPallets() });
  await chain.start();
  client = new PolkadotChainClient({ endpoint: chain.endpoint });
  await client.start();
  ({ netuid } = await bootstrapSubnet(client, {
    sudo: alice,
    ownerHotkey: keyring.addFromUri("//Alice//owner").address,
    hyperparameters: [["sudoSetTempo", TEMPO]],
    registrations: [{ coldkey: bob, hotkey: validator.address }],
    stakes: [{ coldkey: bob, hotkey: validator.address, amountRao: 1_000n * TAO }],
    firstEpoch: () => chain.newBlock(TEMPO * 2 + 2),
  }));

  walletPath = mkdtempSync(join(tmpdir(), "miner-wallets-"));
  dbRoot = mkdtempSync(join(tmpdir(), "miner-db-"));
  const miner = await createWallet({ name: "miner", hotkey: "default", path: walletPath });
  await client.burnedRegister(keyring.addFromUri("//Charlie"), netuid, miner.hotkey.ss58Address);
  minerHotkeyAddress = miner.hotkey.ss58Address;
  await createWallet({ name: "unregistered", hotkey: "default", path: walletPath });
  validatorNode = await createP2PNode();
}, 60_000);

afterAll(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await validatorNode?.stop();
  await client?.stop();
  await chain?.stop();
  for (const dir of [walletPath, dbRoot]) if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("node neurons/miner.js", () => {
  it("survives SIGKILL during a burst of stores: every acknowledged chunk is served and proves", async () => {
    const port = await freePort();
    const first = runNode("neurons/miner.js", baseArgs("miner", port));
    // Wait until it has published its address.
    const deadline = Date.now() + 30_000;
    let commitment: Uint8Array | undefined;
    while (commitment === undefined && Date.now() < deadline) {
      const all = await client.commitments(netuid);
      commitment = [...all.values()].find((c) => new TextDecoder().decode(c).includes(`/tcp/${port}/p2p/`));
      if (commitment === undefined) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(commitment, first.stderr()).toBeDefined();
    minerAddress = new TextDecoder().decode(commitment);
    expect(minerAddress).toMatch(new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/${port}/p2p/12D3`));

    // A burst of stores, four in flight; SIGKILL after the 12th acknowledgement.
    const acked = new Map<number, Buffer>();
    let next = 0;
    let killed = false;
    const worker = async () => {
      while (next < 200) {
        const chunkIndex = next++;
        const data = randomBytes(CHUNK - (chunkIndex % 3) * 1000);
        try {
          const reply = await ask({ type: "store", storeId: validator.address, chunkIndex, data });
          if (reply.body.type !== "store-ack") continue;
          expect(Buffer.from(reply.body.root)).toEqual(Buffer.from(chunkRoot(data)));
          acked.set(chunkIndex, data);
          if (acked.size === 12 && !killed) {
            killed = true;
            first.child.kill("SIGKILL");
          }
        } catch {
          if (killed) return;
        }
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    expect(killed).toBe(true);
    expect((await first.exit).signal).toBe("SIGKILL");
    expect(acked.size).toBeGreaterThanOrEqual(12);

    const second = runNode("neurons/miner.js", baseArgs("miner", port));
    const serving = await second.waitFor("miner serving");
    expect(serving.announced).toBe(minerAddress);
    for (const [chunkIndex, data] of acked) {
      const reply = await ask({ type: "retrieve", storeId: validator.address, chunkIndex });
      expect(reply.body.type).toBe("retrieve-reply");
      if (reply.body.type === "retrieve-reply") expect(Buffer.from(reply.body.data).equals(data)).toBe(true);
    }
    const indices = [...acked.keys()].sort((a, b) => a - b);
    const challenge = createChallenge({
      storeId: validator.address,
      chunkCount: indices.length,
      leafCount: (position) => Math.ceil((acked.get(indices[position] as number) as Buffer).length / 1024),
      chunksPerChallenge: indices.length,
      leavesPerChunk: 2,
      nonce: randomBytes(32),
      now: Date.now(),
      ttlMs: 10_000,
    });
    // Map the challenge's positions onto the acknowledged indices.
    challenge.chunks = challenge.chunks.map((c) => ({ ...c, chunkIndex: indices[c.chunkIndex] as number }));
    const reply = await ask({ type: "challenge", challenge });
    expect(reply.body.type).toBe("proof");
    if (reply.body.type === "proof") {
      const result = verifyResponse(challenge, reply.body.response, {
        rootOf: (i) => chunkRoot(acked.get(i) as Buffer),
        now: Date.now(),
      });
      expect(result).toEqual({ ok: true });
    }

    // A clean shutdown on SIGTERM exits 0.
    second.child.kill("SIGTERM");
    expect((await second.exit).code).toBe(0);
    expect(second.stderr()).toContain('"msg":"stopped"');
  });
});

// Each of these waits mostly on a child's start-up; run them side by side.
describe.concurrent("node neurons/miner.js start-up", () => {
  it("registers the hotkey with --register, then shuts down cleanly on SIGINT", async () => {
    const fresh = await createWallet({ name: "fresh", hotkey: "default", path: walletPath });
    await client.transfer(
      new Keyring({ type: "sr25519" }).addFromUri("//Alice"),
      fresh.coldkey.ss58Address,
      100n * TAO,
    );
    const run = runNode("neurons/miner.js", [...baseArgs("fresh", await freePort()), "--register"]);
    await run.waitFor("miner serving");
    expect(await client.uidOf(netuid, fresh.hotkey.ss58Address)).toBeGreaterThan(0);
    run.child.kill("SIGINT");
    expect((await run.exit).code).toBe(0);
  });

  it("exits 1 with one line when the wallet is missing", async () => {
    const run = runNode("neurons/miner.js", baseArgs("nobody", await freePort()));
    await expectStartupFailure(run, /not found.*npm run wallet -- create --wallet.name nobody/);
  });

  it("exits 1 with the wallet's line, not waiting out an unreachable chain it was connecting to", async () => {
    // The hotkey loads while the chain connects; a missing wallet stops the connecting at once.
    const args = baseArgs("nobody", await freePort());
    args[args.indexOf("--subtensor.chain_endpoint") + 1] = `ws://127.0.0.1:${await freePort()}`;
    const run = runNode("neurons/miner.js", [...args, "--subtensor.timeout", "600"]);
    await expectStartupFailure(run, /not found.*npm run wallet -- create --wallet.name nobody/);
  }, 60_000);

  it("exits 1 with one line when the chain is unreachable", async () => {
    const port = await freePort();
    const args = baseArgs("miner", await freePort());
    args[args.indexOf("--subtensor.chain_endpoint") + 1] = `ws://127.0.0.1:${port}`;
    const run = runNode("neurons/miner.js", [...args, "--subtensor.timeout", "2"]);
    await expectStartupFailure(run, /cannot reach the chain at ws:\/\/127\.0\.0\.1:\d+ within 2 s/);
  });

  it("exits 1 with one line saying how to register an unregistered hotkey", async () => {
    const run = runNode("neurons/miner.js", baseArgs("unregistered", await freePort()));
    await expectStartupFailure(run, /is not registered on subnet \d+; pass --register/);
  });
});
