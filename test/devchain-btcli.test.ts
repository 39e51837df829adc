/**
 * The calls and runtime APIs btcli's builder commands use (`subnets create`, `subnets register`,
 * `stake add`/`remove` in their default safe modes, `stake list`, `wallet overview`,
 * `subnets hyperparameters`), through @polkadot/api: subtensor's names, errors and events, and
 * answers that agree with storage.
 */
import { ApiPromise, WsProvider } from "@polkadot/api";
import { Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDevChain, type DevChain } from "../chain/devchain/chain.js";
import { subtensorPallets } from "../chain/devchain/pallets/subtensor/pallets.js";
import { sendTx } from "./support/devchain-tx.js";

const TAO = 1_000_000_000n;
/** The dev chain's price of one alpha, in rao: stake converts 1:1. */
const PRICE = TAO;

const send = sendTx;

describe("dev chain calls and runtime APIs btcli's builder commands use", () => {
  let chain: DevChain;
  let api: ApiPromise;
  let alice: KeyringPair;
  let bob: KeyringPair;
  let ownerHotkey: KeyringPair;
  let validator: KeyringPair;
  let netuid: number;
  const tx = (method: string, ...args: unknown[]) => {
    const f = api.tx.subtensorModule?.[method];
    if (!f) throw new Error(`no subtensorModule.${method}`);
    return f(...args);
  };
  const stake = async (hotkey: KeyringPair, coldkey: KeyringPair) => {
    const info = await api.call.stakeInfoRuntimeApi?.getStakeInfoForHotkeyColdkeyNetuid?.(
      hotkey.address,
      coldkey.address,
      netuid,
    );
    return BigInt((info?.toJSON() as { stake?: number } | undefined)?.stake ?? Number.NaN);
  };

  beforeAll(async () => {
    await cryptoWaitReady();
    const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
    alice = keyring.addFromUri("//Alice");
    bob = keyring.addFromUri("//Bob");
    ownerHotkey = keyring.addFromUri("//Alice//owner");
    validator = keyring.addFromUri("//Bob//validator");
    chain = createDevChain({ port: 0, mode: "instant", pallets: subtensorPallets() });
    await chain.start();
    api = await ApiPromise.create({ provider: new WsProvider(chain.endpoint), noInitWarn: true });
  });

  afterAll(async () => {
    await api?.disconnect();
    await chain?.stop();
  });

  it("creates a subnet with its identity through register_network_with_identity", async () => {
    const identity = {
      subnetName: "storage",
      githubRepo: "https://github.com/x/storage",
      subnetContact: "dev@x",
    };
    const tooLong = { ...identity, subnetName: "n".repeat(257) };
    const refused = await send(api, tx("registerNetworkWithIdentity", ownerHotkey.address, tooLong), alice);
    expect(refused.errors).toEqual(["subtensorModule.InvalidIdentity"]);

    const made = await send(api, tx("registerNetworkWithIdentity", ownerHotkey.address, identity), alice);
    expect(made.errors).toEqual([]);
    expect(made.events).toEqual(
      expect.arrayContaining(["subtensorModule.NetworkAdded", "subtensorModule.SubnetIdentitySet"]),
    );
    netuid = Number((await api.query.subtensorModule?.totalNetworks?.())?.toString()) - 1;
    const stored = (await api.query.subtensorModule?.subnetIdentitiesV3?.(netuid))?.toHuman();
    expect(stored).toMatchObject({ subnetName: "storage", githubRepo: identity.githubRepo, subnetUrl: "" });
    const info = (await api.call.subnetInfoRuntimeApi?.getDynamicInfo?.(netuid))?.toHuman() as Record<
      string,
      unknown
    >;
    expect((info.subnetIdentity as Record<string, unknown>).subnetName).toBe("storage");

    const notOwner = await send(
      api,
      tx("setSubnetIdentity", netuid, "mine", "", "", "", "", "", "", ""),
      bob,
    );
    expect(notOwner.errors).toEqual(["subtensorModule.NotSubnetOwner"]);
    expect(
      (await send(api, tx("setSubnetIdentity", netuid, "renamed", "", "", "", "", "", "", ""), alice)).errors,
    ).toEqual([]);
    expect((await api.query.subtensorModule?.subnetIdentitiesV3?.(netuid))?.toHuman()).toMatchObject({
      subnetName: "renamed",
    });
  });

  it("registers through register_limit only when the burn is within the limit", async () => {
    const burn = BigInt((await api.query.subtensorModule?.burn?.(netuid))?.toString() ?? "0");
    const below = await send(api, tx("registerLimit", netuid, validator.address, burn / 2n), bob);
    expect(below.errors).toEqual(["subtensorModule.RegistrationPriceLimitExceeded"]);
    expect((await send(api, tx("registerLimit", 4242, validator.address, burn), bob)).errors).toEqual([
      "subtensorModule.SubnetNotExists",
    ]);
    expect((await send(api, tx("registerLimit", 0, validator.address, burn), bob)).errors).toEqual([
      "subtensorModule.RegistrationNotPermittedOnRootSubnet",
    ]);
    const done = await send(api, tx("registerLimit", netuid, validator.address, burn), bob);
    expect(done.errors).toEqual([]);
    expect(done.events).toContain("subtensorModule.NeuronRegistered");
    expect((await api.query.subtensorModule?.uids?.(netuid, validator.address))?.toJSON()).toBe(1);
  });

  it("fills add_stake_limit at the 1:1 price and refuses a limit below it", async () => {
    const order = (limit: bigint, partial: boolean) =>
      tx("addStakeLimit", validator.address, netuid, 50n * TAO, limit, partial);
    expect((await send(api, order(PRICE - 1n, false), bob)).errors).toEqual([
      "subtensorModule.SlippageTooHigh",
    ]);
    // A partial order the limit cuts to nothing is below the minimum stake.
    expect((await send(api, order(PRICE - 1n, true), bob)).errors).toEqual(["subtensorModule.AmountTooLow"]);
    expect(
      (await send(api, tx("addStakeLimit", validator.address, 4242, 50n * TAO, PRICE, false), bob)).errors,
    ).toEqual(["subtensorModule.SubnetNotExists"]);
    expect(await stake(validator, bob)).toBe(0n);

    const filled = await send(api, order(PRICE + PRICE / 20n, false), bob);
    expect(filled.errors).toEqual([]);
    expect(filled.events).toContain("subtensorModule.StakeAdded");
    expect(await stake(validator, bob)).toBe(50n * TAO);
  });

  it("sells through remove_stake_limit at a limit at or under the price, and all through remove_stake_full_limit", async () => {
    const order = (amount: bigint, limit: bigint, partial: boolean) =>
      tx("removeStakeLimit", validator.address, netuid, amount, limit, partial);
    expect((await send(api, order(5n * TAO, PRICE + 1n, false), bob)).errors).toEqual([
      "subtensorModule.SlippageTooHigh",
    ]);
    expect((await send(api, order(500n * TAO, PRICE, false), bob)).errors).toEqual([
      "subtensorModule.NotEnoughStakeToWithdraw",
    ]);
    // A partial order with the limit above the price executes nothing and is not an error.
    const none = await send(api, order(5n * TAO, PRICE + 1n, true), bob);
    expect(none.errors).toEqual([]);
    expect(none.events).not.toContain("subtensorModule.StakeRemoved");
    expect(await stake(validator, bob)).toBe(50n * TAO);

    const sold = await send(api, order(5n * TAO, PRICE - PRICE / 20n, false), bob);
    expect(sold.errors).toEqual([]);
    expect(sold.events).toContain("subtensorModule.StakeRemoved");
    expect(await stake(validator, bob)).toBe(45n * TAO);

    expect(
      (await send(api, tx("removeStakeFullLimit", validator.address, netuid, PRICE + 1n), bob)).errors,
    ).toEqual(["subtensorModule.SlippageTooHigh"]);
    expect(
      (await send(api, tx("removeStakeFullLimit", validator.address, netuid, null), bob)).errors,
    ).toEqual([]);
    expect(await stake(validator, bob)).toBe(0n);
    // Stake back for the reads below.
    expect(
      (await send(api, tx("addStakeLimit", validator.address, netuid, 20n * TAO, PRICE, false), bob)).errors,
    ).toEqual([]);
  });

  it("reports stake through StakeInfoRuntimeApi as the Alpha shares hold it", async () => {
    const call = api.call.stakeInfoRuntimeApi;
    const mine = (await call?.getStakeInfoForColdkey?.(bob.address))?.toJSON() as Array<
      Record<string, unknown>
    >;
    expect(mine).toEqual([
      {
        hotkey: validator.address,
        coldkey: bob.address,
        netuid,
        stake: Number(20n * TAO),
        locked: 0,
        emission: 0,
        taoEmission: 0,
        drain: 0,
        isRegistered: true,
      },
    ]);
    const both = (await call?.getStakeInfoForColdkeys?.([bob.address, alice.address]))?.toJSON();
    // The subnet owner's hotkey earns the owner cut from registration on, so Alice has stake too.
    const owners = (await call?.getStakeInfoForColdkey?.(alice.address))?.toJSON() as unknown[];
    expect(owners).toEqual([expect.objectContaining({ hotkey: ownerHotkey.address, netuid })]);
    expect(both).toEqual([
      [bob.address, mine],
      [alice.address, owners],
    ]);
    const one = (
      await call?.getStakeInfoForHotkeyColdkeyNetuid?.(ownerHotkey.address, bob.address, netuid)
    )?.toJSON();
    expect(one).toMatchObject({ stake: 0, isRegistered: true });
    const availability = (await call?.getStakeAvailabilityForColdkeys?.([bob.address], null))?.toJSON();
    expect(availability).toEqual({
      [bob.address]: { [netuid]: { total: Number(20n * TAO), locked: 0, available: Number(20n * TAO) } },
    });
    expect(
      (
        await call?.getStakeFee?.([validator.address, netuid], bob.address, null, bob.address, TAO)
      )?.toString(),
    ).toBe("0");
    expect((await call?.getColdkeyLock?.(bob.address, netuid))?.toJSON()).toBeNull();
    expect((await call?.getMostConvictedHotkeyOnSubnet?.(netuid))?.toJSON()).toBeNull();
    expect((await api.call.delegateInfoRuntimeApi?.getDelegated?.(bob.address))?.toJSON()).toEqual([]);
  });

  it("reports hyperparameters through get_subnet_hyperparams_v2 and _v3 as storage holds them", async () => {
    const info = api.call.subnetInfoRuntimeApi;
    const q = api.query.subtensorModule as NonNullable<typeof api.query.subtensorModule>;
    const read = async (name: string) => (await q[name]?.(netuid))?.toJSON();
    const v2 = (await info?.getSubnetHyperparamsV2?.(netuid))?.toJSON() as Record<string, unknown>;
    expect(v2).toMatchObject({
      tempo: await read("tempo"),
      kappa: await read("kappa"),
      immunityPeriod: await read("immunityPeriod"),
      minBurn: await read("minBurn"),
      maxBurn: await read("maxBurn"),
      maxValidators: await read("maxAllowedValidators"),
      commitRevealWeightsEnabled: await read("commitRevealWeightsEnabled"),
      yumaVersion: (await read("yuma3On")) ? 3 : 2,
      subnetIsActive: true,
      userLiquidityEnabled: false,
    });
    const v3 = (await info?.getSubnetHyperparamsV3?.(netuid))?.toHuman() as Array<{
      name: string;
      value: Record<string, string>;
    }>;
    const byName = Object.fromEntries(v3.map((e) => [e.name, e.value]));
    expect(byName.tempo).toEqual({ U16: String(await read("tempo")) });
    expect(byName.min_burn).toEqual({ TaoBalance: (await q.minBurn?.(netuid))?.toHuman() });
    expect(byName.commit_reveal_weights_enabled).toEqual({ Bool: await read("commitRevealWeightsEnabled") });
    expect(Object.keys(byName)).toEqual(expect.arrayContaining(Object.keys(v2).map(snake).filter(inV3)));
    expect((await info?.getSubnetHyperparamsV2?.(4242))?.toJSON()).toBeNull();
    expect((await info?.getSubnetHyperparamsV3?.(4242))?.toJSON()).toBeNull();
    const next = Number((await info?.getNextEpochStartBlock?.(netuid))?.toString());
    expect(next).toBe(Number(await read("lastEpochBlock")) + Number(await read("tempo")));
  });

  it("declares every SubtensorModule error densely, with docs, so clients can resolve them by position", () => {
    const pallet = api.registry.metadata.pallets.find((p) => p.name.toString() === "SubtensorModule");
    const errors = api.registry.lookup.getSiType(pallet?.errors.unwrap().type as never).def.asVariant
      .variants;
    expect(errors.map((v) => v.index.toNumber())).toEqual(errors.map((_, i) => i));
    expect(errors.filter((v) => v.docs.length === 0).map((v) => v.name.toString())).toEqual([]);
  });
});

/** camelCase (as @polkadot/api shows fields) back to the Rust snake_case names v3 uses. */
function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** V2 fields subtensor's v3 list no longer carries (proof-of-work and retired knobs). */
function inV3(name: string): boolean {
  return ![
    "rho",
    "min_difficulty",
    "max_difficulty",
    "adjustment_interval",
    "adjustment_alpha",
    "difficulty",
  ].includes(name);
}
