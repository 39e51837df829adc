/**
 * A subnet on the embedded dev chain, as the node tests need it: a subnet owned by //Alice with
 * a short tempo, commit-reveal off and no weights rate limit, a validator hotkey of //Bob with
 * stake and a permit, registered miner hotkeys of //Charlie, and in-process miners on loopback.
 */
import { join } from "node:path";
import { Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { PolkadotChainClient } from "../chain/client.js";
import { createDevChain, type DevChain } from "../chain/devchain/chain.js";
import { subtensorPallets } from "../chain/devchain/pallets/subtensor/pallets.js";
import { authReady } from "../neurons/auth.js";
import type { MetricsRegistry } from "../neurons/metrics.js";
import { createMiner, type Miner, type MinerBehaviour } from "../neurons/miner/miner.js";

export const TAO = 1_000_000_000n;

export interface DevSubnet {
  chain: DevChain;
  client: PolkadotChainClient;
  netuid: number;
  tempo: number;
  keyring: Keyring;
  alice: KeyringPair;
}

export interface DevSubnetInit {
  tempo: number;
  /** Validator hotkey addresses to register (paid by //Bob) and stake 1000 TAO each. */
  validators: string[];
  /** Other hotkey addresses to register (paid by //Bob): no stake. */
  unstaked?: string[];
  /** Miner hotkey addresses to register (paid by //Charlie). */
  miners: string[];
}

/** Starts the dev chain and bootstraps the subnet; after it the validators hold permits. */
export async function startDevSubnet(init: DevSubnetInit): Promise<DevSubnet> {
  await cryptoWaitReady();
  await authReady();
  const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
  const alice = keyring.addFromUri("//Alice");
  const bob = keyring.addFromUri("//Bob");
  const charlie = keyring.addFromUri("//Charlie");
  const chain = createDevChain({ port: 0, mode: "instant", pallets: subtensorPallets() });
  await chain.start();
  const client = new PolkadotChainClient({ endpoint: chain.endpoint });
  await client.start();
  const netuid = await client.registerNetwork(alice, keyring.addFromUri("//Alice//owner").address);
  await client.sudoAdmin(alice, "sudoSetTempo", [netuid, init.tempo]);
  await client.sudoAdmin(alice, "sudoSetCommitRevealWeightsEnabled", [netuid, false]);
  await client.sudoAdmin(alice, "sudoSetWeightsSetRateLimit", [netuid, 0]);
  for (const v of init.validators) await client.burnedRegister(bob, netuid, v);
  for (const u of init.unstaked ?? []) await client.burnedRegister(bob, netuid, u);
  for (const m of init.miners) await client.burnedRegister(charlie, netuid, m);
  for (const v of init.validators) await client.addStake(bob, v, netuid, 1_000n * TAO);
  // The next epoch hands the staked validators their permits.
  chain.newBlock(init.tempo + 2);
  return { chain, client, netuid, tempo: init.tempo, keyring, alice };
}

export async function stopDevSubnet(subnet: DevSubnet | undefined): Promise<void> {
  await subnet?.client.stop();
  await subnet?.chain.stop();
}

/** An in-process miner on 127.0.0.1 with a fixed amount of free space, started. */
export async function startTestMiner(
  subnet: DevSubnet,
  init: {
    hotkey: KeyringPair;
    dir: string;
    chunkSize: number;
    freeChunks: number;
    behaviour?: MinerBehaviour;
    metrics?: MetricsRegistry;
  },
): Promise<Miner> {
  const miner = createMiner({
    ...(init.behaviour ? { behaviour: init.behaviour } : {}),
    ...(init.metrics ? { metrics: init.metrics } : {}),
    settings: {
      netuid: subnet.netuid,
      dbRoot: join(init.dir, "miners"),
      chunkSize: init.chunkSize,
      threshold: 1,
      listen: { ip: "127.0.0.1", port: 0 },
      metagraphIntervalMs: 3_600_000,
    },
    chain: subnet.client,
    hotkey: init.hotkey,
    freeBytes: () => init.freeChunks * init.chunkSize,
  });
  await miner.start();
  return miner;
}
