/**
 * Every call the dev chain's metadata declares, submitted once with valid arguments (through sudo
 * where the call wants root). A handler that throws something other than a dispatch error, or an
 * event encoded with the wrong shape, surfaces as `DispatchError::Other`; no call may end so.
 * Success paths are what this exercises (an event is emitted only once every check passed), so
 * each row expects success unless it names the error the dev chain gives on purpose.
 */
import { ApiPromise, WsProvider } from "@polkadot/api";
import type { SubmittableExtrinsic } from "@polkadot/api/types";
import { Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import { u8aToHex } from "@polkadot/util";
import { blake2AsU8a, cryptoWaitReady } from "@polkadot/util-crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDevChain, type DevChain } from "../chain/devchain/chain.js";
import { subtensorPallets } from "../chain/devchain/pallets/subtensor/pallets.js";

const TAO = 1_000_000_000n;
/** The subnet register_network creates: netuid 1 exists from genesis. */
const NETUID = 2;
const TEMPO = 10;

type Tx = SubmittableExtrinsic<"promise">;

interface Keys {
  alice: KeyringPair;
  bob: KeyringPair;
  charlie: KeyringPair;
  dave: KeyringPair;
  drain: KeyringPair;
  ownerHotkey: KeyringPair;
  validator: KeyringPair;
  miner: KeyringPair;
  daveMiner: KeyringPair;
}

interface Row {
  /** `section.method` as @polkadot/api names it. */
  call: string;
  args: (keys: Keys) => unknown[];
  /** Who signs; `sudo` wraps the call in `Sudo.sudo`, signed by the sudo key. */
  signer: keyof Keys | "sudo";
  /** The error the dev chain answers on purpose (`section.Name`, or a DispatchError kind). */
  error?: string;
  /** Runs before the call is built (e.g. waiting for an epoch). */
  before?: () => Promise<void> | void;
}

function tx(api: ApiPromise, call: string, args: unknown[]): Tx {
  const [section, method] = call.split(".") as [string, string];
  const f = api.tx[section]?.[method];
  if (!f) throw new Error(`no tx ${call}`);
  return f(...args);
}

/** Every dispatch error the block's events of this transaction report, decoded to names. */
function dispatchErrors(api: ApiPromise, events: ReadonlyArray<{ event: { data: unknown[] } }>): string[] {
  const out: string[] = [];
  for (const { event } of events) {
    for (const item of event.data) {
      const v = item as { isErr?: boolean; asErr?: unknown };
      const error = (v.isErr ? v.asErr : item) as {
        isModule?: boolean;
        asModule?: unknown;
        type?: string;
      };
      if (typeof error?.isModule !== "boolean") continue;
      if (error.isModule) {
        const meta = api.registry.findMetaError(
          error.asModule as Parameters<typeof api.registry.findMetaError>[0],
        );
        out.push(`${meta.section}.${meta.name}`);
      } else out.push(error.type as string);
    }
  }
  return out;
}

function send(api: ApiPromise, transaction: Tx, signer: KeyringPair): Promise<string[]> {
  return new Promise((resolve, reject) => {
    transaction
      .signAndSend(signer, (r) => {
        // Either status carries the events; @polkadot/api may skip InBlock when Finalized follows fast.
        if (r.status.isInBlock || r.status.isFinalized) resolve(dispatchErrors(api, r.events));
        else if (r.isError) reject(new Error(`transaction ${r.status.type}`));
      })
      .catch(reject);
  });
}

describe("every dev chain call", () => {
  let chain: DevChain;
  let api: ApiPromise;
  let keys: Keys;
  const salt = [1, 2, 3];
  const mechanismSalt = [4, 5, 6];
  const epochIndex = () => chain.read<bigint>("SubtensorModule", "SubnetEpochIndex", [NETUID]);
  const uidOf = (k: KeyringPair) =>
    chain.read<number>("SubtensorModule", "Uids", [NETUID, k.publicKey]) as number;

  const admin = (method: string, ...args: unknown[]): Row => ({
    call: `adminUtils.${method}`,
    args: () => args,
    signer: "sudo",
  });

  const remark = () => tx(api, "system.remark", ["0x00"]);
  const rootCall = () => tx(api, "balances.forceSetBalance", [keys.dave.address, 2_000_000n * TAO]);

  const rows: Row[] = [
    { call: "system.remark", args: () => ["0x01"], signer: "bob" },
    { call: "system.remarkWithEvent", args: () => ["0x02"], signer: "bob" },
    { call: "timestamp.set", args: () => [Date.now()], signer: "sudo", error: "BadOrigin" },
    { call: "balances.transferAllowDeath", args: (k) => [k.drain.address, 10n * TAO], signer: "bob" },
    { call: "balances.transferKeepAlive", args: (k) => [k.dave.address, TAO], signer: "bob" },
    { call: "balances.forceTransfer", args: (k) => [k.bob.address, k.dave.address, TAO], signer: "sudo" },
    { call: "balances.forceSetBalance", args: (k) => [k.dave.address, 2_000_000n * TAO], signer: "sudo" },
    { call: "balances.transferAll", args: (k) => [k.dave.address, true], signer: "drain" },
    { call: "subtensorModule.registerNetwork", args: (k) => [k.ownerHotkey.address], signer: "alice" },
    { call: "subtensorModule.burnedRegister", args: (k) => [NETUID, k.validator.address], signer: "bob" },
    { call: "subtensorModule.burnedRegister", args: (k) => [NETUID, k.miner.address], signer: "charlie" },
    {
      call: "subtensorModule.registerLimit",
      args: (k) => [NETUID, k.daveMiner.address, 100n * TAO],
      signer: "dave",
    },
    {
      call: "subtensorModule.setSubnetIdentity",
      args: () => [NETUID, "storage", "https://github.com/x/storage", "dev@example.com", "", "", "", "", ""],
      signer: "alice",
    },
    admin("sudoSetServingRateLimit", NETUID, 50),
    admin("sudoSetWeightsVersionKey", NETUID, 0),
    admin("sudoSetWeightsSetRateLimit", NETUID, 0),
    admin("sudoSetImmunityPeriod", NETUID, 5000),
    admin("sudoSetMinAllowedWeights", NETUID, 1),
    admin("sudoSetMinAllowedUids", NETUID, 1),
    admin("sudoSetMaxAllowedUids", NETUID, 256),
    admin("sudoSetKappa", NETUID, 32767),
    admin("sudoSetActivityCutoff", NETUID, 5000),
    admin("sudoSetNetworkRegistrationAllowed", NETUID, true),
    admin("sudoSetTargetRegistrationsPerInterval", NETUID, 2),
    admin("sudoSetMinBurn", NETUID, 1_000_000n),
    admin("sudoSetMaxBurn", NETUID, 100n * TAO),
    admin("sudoSetMaxAllowedValidators", NETUID, 64),
    admin("sudoSetBondsMovingAverage", NETUID, 900_000),
    admin("sudoSetMaxRegistrationsPerBlock", NETUID, 10),
    admin("sudoSetSubnetOwnerCut", 11796),
    admin("sudoSetNetworkRateLimit", 0),
    admin("sudoSetTempo", NETUID, TEMPO),
    admin("sudoSetStakeThreshold", 0),
    admin("sudoSetCommitRevealWeightsEnabled", NETUID, false),
    admin("sudoSetLiquidAlphaEnabled", NETUID, true),
    admin("sudoSetAlphaValues", NETUID, 45875, 58982),
    admin("sudoSetCommitRevealWeightsInterval", NETUID, 1),
    admin("sudoSetBondsPenalty", NETUID, 65535),
    admin("sudoSetAlphaSigmoidSteepness", NETUID, 1000),
    admin("sudoSetYuma3Enabled", NETUID, true),
    admin("sudoSetAdminFreezeWindow", 0),
    admin("sudoSetOwnerCutEnabled", NETUID, true),
    admin("sudoSetMaxEpochsPerBlock", 10),
    {
      call: "subtensorModule.registerNetworkWithIdentity",
      args: (k) => [k.daveMiner.address, { subnetName: "second", githubRepo: "", subnetContact: "" }],
      signer: "dave",
    },
    {
      call: "subtensorModule.addStakeLimit",
      args: (k) => [k.validator.address, NETUID, 10n * TAO, 2n * TAO, false],
      signer: "bob",
    },
    {
      call: "subtensorModule.removeStakeLimit",
      args: (k) => [k.validator.address, NETUID, TAO, TAO / 2n, false],
      signer: "bob",
    },
    {
      call: "subtensorModule.addStake",
      args: (k) => [k.validator.address, NETUID, 100n * TAO],
      signer: "bob",
    },
    {
      call: "subtensorModule.setWeights",
      args: (k) => [NETUID, [uidOf(k.miner)], [65535], 0],
      signer: "validator",
      // The next epoch hands the staked validator its permit.
      before: () => void chain.newBlock(TEMPO + 1),
    },
    {
      // Mechanism 0 is the plain weights; the rate limit is 0 here, so it follows setWeights at once.
      call: "subtensorModule.setMechanismWeights",
      args: (k) => [NETUID, 0, [uidOf(k.miner)], [65535], 0],
      signer: "validator",
    },
    {
      call: "subtensorModule.serveAxon",
      args: () => [NETUID, 1, 0x0a000001, 8091, 4, 0, 0, 0],
      signer: "miner",
    },
    {
      call: "commitments.setCommitment",
      args: () => [NETUID, { fields: [{ Raw4: "0x01020304" }] }],
      signer: "miner",
    },
    { call: "subtensorModule.removeStake", args: (k) => [k.validator.address, NETUID, TAO], signer: "bob" },
    // The dev chain starts emission at registration, so a subnet is always already started.
    {
      call: "subtensorModule.startCall",
      args: () => [NETUID],
      signer: "alice",
      error: "subtensorModule.FirstEmissionBlockNumberAlreadySet",
    },
    admin("sudoSetCommitRevealWeightsEnabled", NETUID, true),
    {
      call: "subtensorModule.commitWeights",
      args: (k) => [NETUID, commitHash(k.validator, [uidOf(k.miner)], [65535], salt, 0n)],
      signer: "validator",
    },
    {
      call: "subtensorModule.revealWeights",
      args: (k) => [NETUID, [uidOf(k.miner)], [65535], salt, 0],
      signer: "validator",
      // A commit is revealed exactly the reveal period's epochs after the epoch it was made in.
      before: () => {
        const [commit] = chain.read<Array<[Uint8Array, bigint]>>("SubtensorModule", "WeightCommits", [
          NETUID,
          keys.validator.publicKey,
        ]);
        const period = chain.read<bigint>("SubtensorModule", "RevealPeriodEpochs", [NETUID]);
        while (epochIndex() < (commit as [Uint8Array, bigint])[1] + period) chain.newBlock(1);
      },
    },
    {
      call: "subtensorModule.commitMechanismWeights",
      args: (k) => [NETUID, 0, commitHash(k.validator, [uidOf(k.miner)], [65535], mechanismSalt, 0n)],
      signer: "validator",
    },
    {
      call: "subtensorModule.revealMechanismWeights",
      args: (k) => [NETUID, 0, [uidOf(k.miner)], [65535], mechanismSalt, 0],
      signer: "validator",
      before: () => {
        const [commit] = chain.read<Array<[Uint8Array, bigint]>>("SubtensorModule", "WeightCommits", [
          NETUID,
          keys.validator.publicKey,
        ]);
        const period = chain.read<bigint>("SubtensorModule", "RevealPeriodEpochs", [NETUID]);
        while (epochIndex() < (commit as [Uint8Array, bigint])[1] + period) chain.newBlock(1);
      },
    },
    {
      call: "subtensorModule.removeStakeFullLimit",
      args: (k) => [k.validator.address, NETUID, TAO],
      signer: "bob",
    },
    { call: "utility.batch", args: () => [[remark()]], signer: "bob" },
    { call: "utility.batchAll", args: () => [[remark(), remark()]], signer: "bob" },
    { call: "utility.forceBatch", args: () => [[remark()]], signer: "bob" },
    {
      call: "sudo.sudoUncheckedWeight",
      args: () => [rootCall(), { refTime: 1, proofSize: 0 }],
      signer: "alice",
    },
    { call: "sudo.sudoAs", args: (k) => [k.bob.address, remark()], signer: "alice" },
    { call: "sudo.setKey", args: (k) => [k.alice.address], signer: "alice" },
    { call: "sudo.sudo", args: () => [rootCall()], signer: "alice" },
    // Last: afterwards nothing can be sudone.
    { call: "sudo.removeKey", args: () => [], signer: "alice" },
  ];

  function commitHash(
    hotkey: KeyringPair,
    uids: number[],
    values: number[],
    s: number[],
    versionKey: bigint,
  ) {
    const encoded = api.registry
      .createType("(AccountId32, u16, Vec<u16>, Vec<u16>, Vec<u16>, u64)", [
        hotkey.address,
        NETUID,
        uids,
        values,
        s,
        versionKey,
      ])
      .toU8a();
    return u8aToHex(blake2AsU8a(encoded, 256));
  }

  beforeAll(async () => {
    await cryptoWaitReady();
    const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
    const key = (uri: string) => keyring.addFromUri(uri);
    keys = {
      alice: key("//Alice"),
      bob: key("//Bob"),
      charlie: key("//Charlie"),
      dave: key("//Dave"),
      drain: key("//Alice//drain"),
      ownerHotkey: key("//Alice//owner"),
      validator: key("//Bob//validator"),
      miner: key("//Charlie//miner"),
      daveMiner: key("//Dave//miner"),
    };
    chain = createDevChain({
      port: 0,
      mode: "instant",
      pallets: subtensorPallets(),
      // The validator and the miner pay fees for their own calls.
      accounts: [
        { address: keys.validator.address, balance: 10n * TAO },
        { address: keys.miner.address, balance: 10n * TAO },
      ],
    });
    await chain.start();
    api = await ApiPromise.create({ provider: new WsProvider(chain.endpoint), noInitWarn: true });
  });

  afterAll(async () => {
    await api?.disconnect();
    await chain?.stop();
  });

  it("has a row for every call in the metadata", () => {
    const declared = Object.entries(api.tx).flatMap(([section, methods]) =>
      Object.keys(methods).map((method) => `${section}.${method}`),
    );
    const covered = new Set(rows.map((r) => r.call).concat("sudo.sudo"));
    expect(declared.filter((c) => !covered.has(c))).toEqual([]);
  });

  it("answers each call without DispatchError::Other", { timeout: 120_000 }, async () => {
    const outcomes: Array<{ call: string; errors: string[] }> = [];
    for (const row of rows) {
      await row.before?.();
      const call = tx(api, row.call, row.args(keys));
      const errors =
        row.signer === "sudo"
          ? await send(api, tx(api, "sudo.sudo", [call]), keys.alice)
          : await send(api, call, keys[row.signer]);
      outcomes.push({ call: row.call, errors });
    }
    expect(outcomes.filter((o) => o.errors.includes("Other"))).toEqual([]);
    const expected = rows.map((r) => ({ call: r.call, errors: r.error ? [r.error] : [] }));
    expect(outcomes).toEqual(expected);
  });
});
