/**
 * The full subnet bootstrap on the embedded dev chain, through the project's ChainClient and a
 * plain @polkadot/api client, over real WebSocket JSON-RPC: register a subnet, set its
 * hyperparameters, register a validator and 20 miners, stake, serve axons and commitments, set
 * weights, cross two tempos, and check that incentive follows the weights and dividends go to the
 * validator. Then every failure path returns its named error.
 */
import { ApiPromise, WsProvider } from "@polkadot/api";
import { Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDevChain, type DevChain } from "../chain/devchain/chain.js";
import { subtensorPallets } from "../chain/devchain/pallets/subtensor/pallets.js";
import { ChainModuleError, TransactionRejectedError } from "../chain/errors.js";
import { PolkadotChainClient } from "../chain/polkadot-client.js";
import { submitWeights } from "../chain/weights.js";
import { toU16Weights } from "../protocol/scoring.js";

const TAO = 1_000_000_000n;
const TEMPO = 10;
const MINERS = 20;

let chain: DevChain;
let client: PolkadotChainClient;
let api: ApiPromise;
let alice: KeyringPair;
let ownerHotkey: KeyringPair;
let validatorColdkey: KeyringPair;
let validatorHotkey: KeyringPair;
let minerColdkey: KeyringPair;
let minerHotkeys: KeyringPair[];
let netuid: number;

/** Produces blocks until the subnet has run `count` more epochs. */
async function crossEpochs(count: number, tempo = TEMPO): Promise<void> {
  const before = Number((await api.query.subtensorModule!.subnetEpochIndex!(netuid)).toString());
  for (let i = 0; i < tempo * (count + 1) + 2; i++) {
    chain.newBlock(1);
    const now = Number((await api.query.subtensorModule!.subnetEpochIndex!(netuid)).toString());
    if (now >= before + count) return;
  }
  throw new Error("epochs did not run");
}

async function expectModuleError(promise: Promise<unknown>, section: string, error: string): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ChainModuleError);
  expect((err as ChainModuleError).section).toBe(section);
  expect((err as ChainModuleError).error).toBe(error);
}

beforeAll(async () => {
  await cryptoWaitReady();
  const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
  alice = keyring.addFromUri("//Alice");
  ownerHotkey = keyring.addFromUri("//Alice//owner-hot");
  validatorColdkey = keyring.addFromUri("//Bob");
  validatorHotkey = keyring.addFromUri("//Bob//validator");
  minerColdkey = keyring.addFromUri("//Charlie");
  minerHotkeys = Array.from({ length: MINERS }, (_, i) => keyring.addFromUri(`//Charlie//miner${i}`));
  chain = createDevChain({ port: 0, mode: "instant", pallets: subtensorPallets() });
  await chain.start();
  client = new PolkadotChainClient({ endpoint: chain.endpoint });
  await client.start();
  api = await ApiPromise.create({ provider: new WsProvider(chain.endpoint), noInitWarn: true });
}, 60_000);

afterAll(async () => {
  await client?.stop();
  await api?.disconnect();
  await chain?.stop();
});

describe("subnet bootstrap on the dev chain", () => {
  it("registers a subnet owned by the caller, with the owner hotkey as uid 0", async () => {
    netuid = await client.registerNetwork(alice, ownerHotkey.address);
    expect(netuid).toBeGreaterThanOrEqual(2);
    expect(await client.subnetExists(netuid)).toBe(true);
    expect(await client.uidOf(netuid, ownerHotkey.address)).toBe(0);
    const owner = await api.query.subtensorModule!.subnetOwner!(netuid);
    expect(owner.toString()).toBe(alice.address);
  });

  it("sets hyperparameters through sudo", async () => {
    await client.sudoAdmin(alice, "sudoSetTempo", [netuid, TEMPO]);
    await client.sudoAdmin(alice, "sudoSetCommitRevealWeightsEnabled", [netuid, false]);
    await client.sudoAdmin(alice, "sudoSetWeightsSetRateLimit", [netuid, 0]);
    await client.sudoAdmin(alice, "sudoSetMaxAllowedValidators", [netuid, 8]);
    const hp = await client.hyperparameters(netuid);
    expect(hp.tempo).toBe(TEMPO);
    expect(hp.commitRevealWeightsEnabled).toBe(false);
    expect(hp.weightsSetRateLimit).toBe(0);
    expect(hp.maxAllowedValidators).toBe(8);
  });

  it("registers a validator and 20 miners, stakes, serves axons and commitments", async () => {
    expect(await client.burnedRegister(validatorColdkey, netuid, validatorHotkey.address)).toBe(1);
    for (const [i, hotkey] of minerHotkeys.entries()) {
      expect(await client.burnedRegister(minerColdkey, netuid, hotkey.address)).toBe(i + 2);
    }
    await client.addStake(validatorColdkey, validatorHotkey.address, netuid, 1_000n * TAO);
    for (const [i, hotkey] of minerHotkeys.slice(0, 3).entries()) {
      await client.serveAxon(hotkey, netuid, {
        version: 1,
        ip: `10.0.0.${i + 1}`,
        port: 8091,
        ipType: 4,
        protocol: 0,
      });
      await client.setCommitment(hotkey, netuid, new TextEncoder().encode(`/ip4/10.0.0.${i + 1}/tcp/8091`));
    }
    const graph = await client.metagraph(netuid);
    expect(graph.n).toBe(MINERS + 2);
    expect(graph.hotkeys[1]).toBe(validatorHotkey.address);
    expect(graph.coldkeys[1]).toBe(validatorColdkey.address);
    expect(graph.stake[1]).toBe(1_000n * TAO);
    expect(graph.axons[2]).toMatchObject({ ip: "10.0.0.1", port: 8091, ipType: 4 });
    expect(graph.axons[10]).toBeNull();
    const commitments = await client.commitments(netuid);
    expect(new TextDecoder().decode(commitments.get(minerHotkeys[1]!.address))).toBe(
      "/ip4/10.0.0.2/tcp/8091",
    );
  });

  it("gives the staked validator a permit at the next epoch", async () => {
    await crossEpochs(1);
    const graph = await client.metagraph(netuid);
    expect(graph.validatorPermit[1]).toBe(true);
  });

  it("pays incentive in the order of the weights and dividends to the validator", async () => {
    const uids = minerHotkeys.map((_, i) => i + 2);
    const weights = uids.map((_, i) => (i + 1) * 1000);
    await client.setWeights(validatorHotkey, netuid, uids, weights, 0n);
    const stored = await api.query.subtensorModule!.weights!(netuid, 1);
    expect((stored as unknown as unknown[]).length).toBe(MINERS);
    await crossEpochs(2);
    const graph = await client.metagraph(netuid, { weights: true });
    const incentive = uids.map((uid) => graph.incentive[uid] as number);
    for (let i = 1; i < incentive.length; i++)
      expect(incentive[i]).toBeGreaterThan(incentive[i - 1] as number);
    expect(graph.dividends[1]).toBeGreaterThan(0);
    expect(graph.emission[1]).toBeGreaterThan(0n);
    expect(graph.emission[MINERS + 1]).toBeGreaterThan(graph.emission[2] as bigint);
    // The validator's stake grew by its dividends; a miner's by its incentive.
    expect(graph.stake[1]).toBeGreaterThan(1_000n * TAO);
    expect(graph.stake[MINERS + 1]).toBeGreaterThan(0n);
    expect(graph.weights?.[1]?.length).toBe(MINERS);
    // The validator now holds bonds in the miners it weighted.
    const bonds = (await api.query.subtensorModule!.bonds!(netuid, 1)).toJSON() as [number, number][];
    expect(bonds.length).toBe(MINERS);
  });

  it("reads the same metagraph through a plain ApiPromise", async () => {
    const incentive = (await api.query.subtensorModule!.incentive!(netuid)).toJSON() as number[];
    const graph = await client.metagraph(netuid);
    expect(incentive).toEqual(graph.incentive);
    const n = await api.query.subtensorModule!.subnetworkN!(netuid);
    expect(Number(n.toString())).toBe(MINERS + 2);
  });
});

describe("submitWeights", () => {
  it("normalises scores, respects the rate limit and commits when commit-reveal is on", async () => {
    const scores = new Array<number>(MINERS + 2).fill(0);
    scores[5] = 1;
    scores[6] = 3;
    const set = await submitWeights(client, validatorHotkey, netuid, toU16Weights(scores));
    expect(set).toMatchObject({ kind: "set", uids: [5, 6], weights: [21845, 65535] });
    await client.sudoAdmin(alice, "sudoSetWeightsSetRateLimit", [netuid, 1000]);
    const limited = await submitWeights(client, validatorHotkey, netuid, toU16Weights(scores));
    expect(limited.kind).toBe("rate-limited");
    await client.sudoAdmin(alice, "sudoSetWeightsSetRateLimit", [netuid, 0]);
    expect((await submitWeights(client, validatorHotkey, netuid, toU16Weights([0, 0]))).kind).toBe(
      "nothing-to-set",
    );
  });
});

describe("failure paths return their named errors", () => {
  it("a wrong weights version key fails with IncorrectWeightVersionKey", async () => {
    await client.sudoAdmin(alice, "sudoSetWeightsVersionKey", [netuid, 7]);
    await expectModuleError(
      client.setWeights(validatorHotkey, netuid, [2, 3], [1, 1], 1n),
      "subtensorModule",
      "IncorrectWeightVersionKey",
    );
    await client.sudoAdmin(alice, "sudoSetWeightsVersionKey", [netuid, 0]);
  });

  it("weights from a hotkey without a permit fail with NeuronNoValidatorPermit", async () => {
    await expectModuleError(
      client.setWeights(minerHotkeys[0]!, netuid, [3, 4], [1, 1], 0n),
      "subtensorModule",
      "NeuronNoValidatorPermit",
    );
  });

  it("duplicate uids fail with DuplicateUids", async () => {
    await expectModuleError(
      client.setWeights(validatorHotkey, netuid, [2, 2], [1, 1], 0n),
      "subtensorModule",
      "DuplicateUids",
    );
  });

  it("setting weights too fast is rejected before inclusion (Custom error 6)", async () => {
    await client.sudoAdmin(alice, "sudoSetWeightsSetRateLimit", [netuid, 1000]);
    const err = await client.setWeights(validatorHotkey, netuid, [2, 3], [1, 1], 0n).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransactionRejectedError);
    expect(String((err as Error).message)).toMatch(/Custom error: 6/);
    await client.sudoAdmin(alice, "sudoSetWeightsSetRateLimit", [netuid, 0]);
  });

  it("registering twice or on a closed subnet fails with its own error", async () => {
    await expectModuleError(
      client.burnedRegister(minerColdkey, netuid, minerHotkeys[0]!.address),
      "subtensorModule",
      "HotKeyAlreadyRegisteredInSubNet",
    );
    await client.sudoAdmin(alice, "sudoSetNetworkRegistrationAllowed", [netuid, false]);
    await expectModuleError(
      client.burnedRegister(minerColdkey, netuid, alice.address),
      "subtensorModule",
      "SubNetRegistrationDisabled",
    );
  });

  it("registering past a full subnet's limit fails with NoNeuronIdAvailable", async () => {
    const small = await client.registerNetwork(alice, alice.address);
    await client.sudoAdmin(alice, "sudoSetMinAllowedUids", [small, 1]);
    await client.sudoAdmin(alice, "sudoSetMaxAllowedUids", [small, 1]);
    await expectModuleError(
      client.burnedRegister(minerColdkey, small, minerHotkeys[0]!.address),
      "subtensorModule",
      "NoNeuronIdAvailable",
    );
  });

  it("admin setters check their bounds and origin", async () => {
    await expectModuleError(
      client.sudoAdmin(alice, "sudoSetMaxAllowedValidators", [netuid, 1000]),
      "adminUtils",
      "MaxValidatorsLargerThanMaxUIds",
    );
    const err = await client.setWeights(validatorHotkey, 999, [0], [1], 0n).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChainModuleError);
  });

  it("commit-reveal: commit, reveal in the next epoch, weights stored", async () => {
    await client.sudoAdmin(alice, "sudoSetCommitRevealWeightsEnabled", [netuid, true]);
    // A longer tempo restarts the epoch cycle now, so no epoch falls between commit and early reveal.
    await client.sudoAdmin(alice, "sudoSetTempo", [netuid, 100]);
    await expectModuleError(
      client.setWeights(validatorHotkey, netuid, [2, 3], [1, 1], 0n),
      "subtensorModule",
      "CommitRevealEnabled",
    );
    const committed = await submitWeights(client, validatorHotkey, netuid, toU16Weights([0, 0, 1, 3]));
    expect(committed.kind).toBe("committed");
    const pending = await client.commitWeights(validatorHotkey, netuid, [2, 3], [10, 20], 0n, [1, 2, 3]);
    await expectModuleError(
      client.revealWeights(validatorHotkey, pending),
      "subtensorModule",
      "RevealTooEarly",
    );
    await crossEpochs(1, 100);
    await client.revealWeights(validatorHotkey, pending);
    const row = (await api.query.subtensorModule!.weights!(netuid, 1)).toJSON() as [number, number][];
    expect(row).toEqual([
      [2, 32767],
      [3, 65535],
    ]);
  });
});
