/**
 * A subnet on the embedded dev chain, as the node tests need it: a subnet owned by //Alice with
 * a short tempo, commit-reveal off and no weights rate limit, a validator hotkey of //Bob with
 * stake and a permit, registered miner hotkeys of //Charlie, and in-process miners on loopback.
 */
import { join } from "node:path";
import { Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { bootstrapSubnet } from "../chain/bootstrap.js";
import { createDevChain, type DevChain } from "../chain/devchain/chain.js";
import { subtensorPallets } from "../chain/devchain/pallets/subtensor/pallets.js";
import { PolkadotChainClient } from "../chain/polkadot-client.js";
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
  const { netuid } = await bootstrapSubnet(client, {
    sudo: alice,
    ownerHotkey: keyring.addFromUri("//Alice//owner").address,
    hyperparameters: [
      ["sudoSetTempo", init.tempo],
      ["sudoSetCommitRevealWeightsEnabled", false],
      ["sudoSetWeightsSetRateLimit", 0],
    ],
    registrations: [
      ...[...init.validators, ...(init.unstaked ?? [])].map((hotkey) => ({ coldkey: bob, hotkey })),
      ...init.miners.map((hotkey) => ({ coldkey: charlie, hotkey })),
    ],
    stakes: init.validators.map((hotkey) => ({ coldkey: bob, hotkey, amountRao: 1_000n * TAO })),
    // The next epoch hands the staked validators their permits.
    firstEpoch: () => chain.newBlock(init.tempo + 2),
  });
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
