/**
 * `node neurons/validator.js` as an operator runs it: against the embedded dev chain, with a
 * wallet in a temporary wallet path and a real miner on loopback. It fills and challenges the
 * miner and sets weights on chain; SIGINT stops it cleanly. An unregistered or unstaked hotkey
 * ends start-up with one clear line.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Keyring } from "@polkadot/keyring";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DevChain } from "../chain/devchain/chain.js";
import type { PolkadotChainClient } from "../chain/polkadot-client.js";
import { createWallet } from "../chain/wallet.js";
import type { Miner } from "../neurons/miner/miner.js";
import { children, expectStartupFailure, runNode } from "./node-process.js";
import { type DevSubnet, startDevSubnet, startTestMiner, stopDevSubnet } from "./subnet-fixture.js";

const root = new URL("../", import.meta.url).pathname;
const TEMPO = 5;
const CHUNK = 64 * 1024;

let subnet: DevSubnet;
let chain: DevChain;
let client: PolkadotChainClient;
let netuid: number;
let miner: Miner;
let dir: string;
let walletPath: string;
let validatorAddress: string;
let minerAddress: string;

function args(wallet: string): string[] {
  return [
    "--netuid",
    String(netuid),
    "--subtensor.chain_endpoint",
    chain.endpoint,
    "--wallet.path",
    walletPath,
    "--wallet.name",
    wallet,
    "--db_root_path",
    join(dir, "validators"),
    "--chunk_size",
    String(CHUNK),
    "--neuron.challenge_interval",
    "0.2",
    "--neuron.challenge_timeout",
    "2",
    "--neuron.epoch_length",
    "1",
  ];
}

beforeAll(async () => {
  if (!existsSync(join(root, "dist/neurons/validator/cli.js"))) throw new Error("run `npm run build` first");
  dir = mkdtempSync(join(tmpdir(), "validator-process-"));
  walletPath = join(dir, "wallets");
  const wallet = await createWallet({ name: "validator", hotkey: "default", path: walletPath });
  validatorAddress = wallet.hotkey.ss58Address;
  const unstaked = await createWallet({ name: "unstaked", hotkey: "default", path: walletPath });
  await createWallet({ name: "unregistered", hotkey: "default", path: walletPath });
  const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
  const minerHotkey = keyring.addFromUri("//Charlie//miner");
  minerAddress = minerHotkey.address;
  subnet = await startDevSubnet({
    tempo: TEMPO,
    validators: [validatorAddress],
    unstaked: [unstaked.hotkey.ss58Address],
    miners: [minerAddress],
  });
  ({ chain, client, netuid } = subnet);
  miner = await startTestMiner(subnet, { hotkey: minerHotkey, dir, chunkSize: CHUNK, freeChunks: 8 });
}, 120_000);

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  await miner?.stop();
  await stopDevSubnet(subnet);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("node neurons/validator.js", () => {
  it("fills and challenges a real miner, sets weights on chain, and stops on SIGINT", async () => {
    const run = runNode("neurons/validator.js", args("validator"));
    await run.waitFor("validating");
    const graph = await waitForWeights();
    const v = graph.hotkeys.indexOf(validatorAddress);
    const m = graph.hotkeys.indexOf(minerAddress);
    expect(graph.weights?.[v]?.some(([uid]) => uid === m)).toBe(true);
    expect(miner.stores.store(validatorAddress).count()).toBeGreaterThan(0);
    run.child.kill("SIGINT");
    expect((await run.exit).code).toBe(0);
  });

  it("an unregistered hotkey exits 1 with one line", async () => {
    await expectStartupFailure(runNode("neurons/validator.js", args("unregistered")), /not registered/);
  });

  it("a hotkey without stake exits 1 with one line", async () => {
    await expectStartupFailure(runNode("neurons/validator.js", args("unstaked")), /no stake/);
  });
});

/** Produces blocks until the validator's weights row is on chain. */
async function waitForWeights() {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    chain.newBlock(1);
    const graph = await client.metagraph(netuid, { weights: true });
    const v = graph.hotkeys.indexOf(validatorAddress);
    if ((graph.weights?.[v]?.length ?? 0) > 0) return graph;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error("the validator set no weights within a minute");
}
