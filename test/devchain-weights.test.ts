/**
 * The mechanism weight calls the bittensor SDK sends (`set_mechanism_weights`,
 * `commit_mechanism_weights`, `reveal_mechanism_weights`) through @polkadot/api against the dev
 * chain: mechanism 0 is the plain weights, another mechanism fails as on subtensor, and each
 * commit-reveal error answers with subtensor's name.
 */
import { ApiPromise, WsProvider } from "@polkadot/api";
import type { SubmittableExtrinsic } from "@polkadot/api/types";
import { Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import { BN } from "@polkadot/util";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDevChain, type DevChain } from "../chain/devchain/chain.js";
import { SUBTENSOR_ERROR_NAMES } from "../chain/devchain/pallets/subtensor/error-names.js";
import { subtensorErrors } from "../chain/devchain/pallets/subtensor/module-errors.js";
import { subtensorPallets } from "../chain/devchain/pallets/subtensor/pallets.js";
import { MAX_UNREVEALED_COMMITS } from "../chain/devchain/pallets/subtensor/weights.js";
import { weightsCommitHash } from "../chain/weights.js";
import { sendTx, type TxOutcome } from "./support/devchain-tx.js";

/** Genesis creates netuid 1 with //Alice as owner coldkey and hotkey (uid 0). */
const NETUID = 1;
const TEMPO = 5;
const TAO = 1_000_000_000n;

type Tx = SubmittableExtrinsic<"promise">;

describe("mechanism weight calls", () => {
  let chain: DevChain;
  let api: ApiPromise;
  let alice: KeyringPair;
  let miners: KeyringPair[];

  function call(name: string, ...args: unknown[]): Tx {
    const [section, method] = name.split(".") as [string, string];
    const f = api.tx[section]?.[method];
    if (!f) throw new Error(`no tx ${name}`);
    return f(...args);
  }
  const read = <V>(item: string, keys: unknown[]) => chain.read<V>("SubtensorModule", item, keys);
  const weightsOf = (uid: number) => read<Array<[number, number]>>("Weights", [NETUID, uid]);

  const send = (tx: Tx, signer: KeyringPair): Promise<TxOutcome> => sendTx(api, tx, signer);

  const sudo = (tx: Tx) => send(call("sudo.sudo", tx), alice);
  const setCommitReveal = (on: boolean) =>
    sudo(call("adminUtils.sudoSetCommitRevealWeightsEnabled", NETUID, on));

  const commitHash = (uids: number[], values: number[], salt: number[], versionKey: bigint): string =>
    weightsCommitHash(api, alice.address, NETUID, uids, values, salt, versionKey);

  /** Advances blocks until the subnet's epoch index reaches `target`. */
  function advanceToEpoch(target: bigint) {
    while (read<bigint>("SubnetEpochIndex", [NETUID]) < target) chain.newBlock(1);
  }

  beforeAll(async () => {
    await cryptoWaitReady();
    const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
    alice = keyring.addFromUri("//Alice");
    miners = ["//Alice//m1", "//Alice//m2"].map((uri) => keyring.addFromUri(uri));
    chain = createDevChain({ port: 0, mode: "instant", pallets: subtensorPallets() });
    await chain.start();
    api = await ApiPromise.create({ provider: new WsProvider(chain.endpoint), noInitWarn: true });
    for (const m of miners) await send(call("subtensorModule.burnedRegister", NETUID, m.address), alice);
    await send(call("subtensorModule.addStake", alice.address, NETUID, 10n * TAO), alice);
    await sudo(call("adminUtils.sudoSetTempo", NETUID, TEMPO));
  });

  afterAll(async () => {
    await api?.disconnect();
    await chain?.stop();
  });

  it("declares subtensor's argument shapes", () => {
    const args = (method: string) =>
      api.tx.subtensorModule?.[method]?.meta.args.map((a) => `${a.name.toString()}:${a.type.toString()}`);
    expect(args("setMechanismWeights")).toEqual([
      "netuid:u16",
      "mecid:u8",
      "dests:Vec<u16>",
      "weights:Vec<u16>",
      "versionKey:u64",
    ]);
    expect(args("commitMechanismWeights")).toEqual(["netuid:u16", "mecid:u8", "commitHash:H256"]);
    expect(args("revealMechanismWeights")).toEqual([
      "netuid:u16",
      "mecid:u8",
      "uids:Vec<u16>",
      "values:Vec<u16>",
      "salt:Vec<u16>",
      "versionKey:u64",
    ]);
    expect(call("subtensorModule.setMechanismWeights", 1, 0, [], [], 0).callIndex).toEqual(
      new Uint8Array([7, 119]),
    );
    expect(call("subtensorModule.commitMechanismWeights", 1, 0, new Uint8Array(32)).callIndex).toEqual(
      new Uint8Array([7, 115]),
    );
    expect(call("subtensorModule.revealMechanismWeights", 1, 0, [], [], [], 0).callIndex).toEqual(
      new Uint8Array([7, 116]),
    );
  });

  it("lists every SubtensorModule error densely at subtensor's index (decoders index by position)", () => {
    expect(subtensorErrors.map((e) => e.name)).toEqual([...SUBTENSOR_ERROR_NAMES]);
    expect(subtensorErrors.map((e) => e.index)).toEqual(SUBTENSOR_ERROR_NAMES.map((_, i) => i));
    const at = (index: number) => api.registry.findMetaError({ index: new BN(7), error: new BN(index) });
    expect(at(79).name).toBe("RevealTooEarly");
    expect(at(79).docs).toEqual(["Attempted to reveal weights too early."]);
    expect(at(74).name).toBe("MechanismDoesNotExist");
    expect(at(145).name).toBe("DynamicTempoBlockedByCommitReveal");
  });

  it("starts a subnet with commit-reveal off, genesis and registered alike", async () => {
    expect(read<boolean>("CommitRevealWeightsEnabled", [NETUID])).toBe(false);
    await send(call("subtensorModule.registerNetwork", miners[0]?.address), alice);
    expect(read<boolean>("CommitRevealWeightsEnabled", [2])).toBe(false);
  });

  it("sets mechanism 0's weights as set_weights does, and holds the rate limit", async () => {
    const out = await send(
      call("subtensorModule.setMechanismWeights", NETUID, 0, [1, 2], [100, 50], 0),
      alice,
    );
    expect(out.errors).toEqual([]);
    expect(out.events).toContain("subtensorModule.WeightsSet");
    expect(weightsOf(0)).toEqual([
      [1, 65535],
      [2, 32767],
    ]);
    // The default WeightsSetRateLimit (100 blocks) refuses a second set in the pool.
    await expect(
      send(call("subtensorModule.setMechanismWeights", NETUID, 0, [1], [1], 0), alice),
    ).rejects.toThrow(/1010.*Custom error: 6/);
    await sudo(call("adminUtils.sudoSetWeightsSetRateLimit", NETUID, 0));
  });

  it("refuses a mechanism the subnet does not have, a subnet that does not exist and mismatched vectors", async () => {
    const set = await send(call("subtensorModule.setMechanismWeights", NETUID, 1, [1], [1], 0), alice);
    expect(set.errors).toEqual(["subtensorModule.MechanismDoesNotExist"]);
    const missing = await send(call("subtensorModule.setMechanismWeights", 77, 0, [1], [1], 0), alice);
    // subtensor checks commit-reveal first, and a netuid never created has the storage default (on).
    expect(missing.errors).toEqual(["subtensorModule.CommitRevealEnabled"]);
    const commitMissing = await send(
      call("subtensorModule.commitMechanismWeights", 77, 0, commitHash([1], [1], [1], 0n)),
      alice,
    );
    expect(commitMissing.errors).toEqual(["subtensorModule.MechanismDoesNotExist"]);
    const mismatched = await send(
      call("subtensorModule.setMechanismWeights", NETUID, 0, [1, 2], [1], 0),
      alice,
    );
    expect(mismatched.errors).toEqual(["subtensorModule.WeightVecNotEqualSize"]);
  });

  it("refuses commit and reveal while commit-reveal is off, and a direct set while it is on", async () => {
    const hash = commitHash([1], [1], [9], 0n);
    const commit = await send(call("subtensorModule.commitMechanismWeights", NETUID, 0, hash), alice);
    expect(commit.errors).toEqual(["subtensorModule.CommitRevealDisabled"]);
    const reveal = await send(
      call("subtensorModule.revealMechanismWeights", NETUID, 0, [1], [1], [9], 0),
      alice,
    );
    expect(reveal.errors).toEqual(["subtensorModule.CommitRevealDisabled"]);
    await setCommitReveal(true);
    const set = await send(call("subtensorModule.setMechanismWeights", NETUID, 0, [1], [1], 0), alice);
    expect(set.errors).toEqual(["subtensorModule.CommitRevealEnabled"]);
  });

  it("commits and reveals mechanism 0's weights, with subtensor's errors on the way", async () => {
    const [uids, values, salt] = [
      [1, 2],
      [10, 40],
      [7, 7, 7],
    ];
    const hash = commitHash(uids, values, salt, 0n);
    const other = await send(call("subtensorModule.commitMechanismWeights", NETUID, 1, hash), alice);
    expect(other.errors).toEqual(["subtensorModule.MechanismDoesNotExist"]);

    const commit = await send(call("subtensorModule.commitMechanismWeights", NETUID, 0, hash), alice);
    expect(commit.errors).toEqual([]);
    expect(commit.events).toContain("subtensorModule.WeightsCommitted");
    const [[, commitEpoch]] = read<Array<[Uint8Array, bigint]>>("WeightCommits", [
      NETUID,
      alice.publicKey,
    ]) as [[Uint8Array, bigint]];

    const reveal = () => call("subtensorModule.revealMechanismWeights", NETUID, 0, uids, values, salt, 0);
    const early = await send(reveal(), alice);
    expect(early.errors).toEqual(["subtensorModule.RevealTooEarly"]);

    advanceToEpoch(commitEpoch + read<bigint>("RevealPeriodEpochs", [NETUID]));
    const wrong = await send(
      call("subtensorModule.revealMechanismWeights", NETUID, 0, uids, [10, 41], salt, 0),
      alice,
    );
    expect(wrong.errors).toEqual(["subtensorModule.InvalidRevealCommitHashNotMatch"]);
    const elsewhere = await send(
      call("subtensorModule.revealMechanismWeights", NETUID, 1, uids, values, salt, 0),
      alice,
    );
    expect(elsewhere.errors).toEqual(["subtensorModule.NoWeightsCommitFound"]);

    const done = await send(reveal(), alice);
    expect(done.errors).toEqual([]);
    expect(done.events).toEqual(
      expect.arrayContaining(["subtensorModule.WeightsSet", "subtensorModule.WeightsRevealed"]),
    );
    expect(weightsOf(0)).toEqual([
      [1, 16383],
      [2, 65535],
    ]);
    expect(read("WeightCommits", [NETUID, alice.publicKey])).toBeUndefined();
  });

  it("reveals a plain commit_weights commit through reveal_mechanism_weights (one storage index)", async () => {
    const [uids, values, salt] = [[2], [1], [3]];
    const commit = await send(
      call("subtensorModule.commitWeights", NETUID, commitHash(uids, values, salt, 0n)),
      alice,
    );
    expect(commit.errors).toEqual([]);
    const [[, commitEpoch]] = read<Array<[Uint8Array, bigint]>>("WeightCommits", [
      NETUID,
      alice.publicKey,
    ]) as [[Uint8Array, bigint]];
    advanceToEpoch(commitEpoch + read<bigint>("RevealPeriodEpochs", [NETUID]));
    const reveal = await send(
      call("subtensorModule.revealMechanismWeights", NETUID, 0, uids, values, salt, 0),
      alice,
    );
    expect(reveal.errors).toEqual([]);
    expect(weightsOf(0)).toEqual([[2, 65535]]);
  });

  it(`holds at most ${MAX_UNREVEALED_COMMITS} unrevealed commits per hotkey`, async () => {
    const commit = (i: number) =>
      send(call("subtensorModule.commitMechanismWeights", NETUID, 0, commitHash([1], [1], [i], 0n)), alice);
    // A long tempo keeps every commit unexpired while the eleven blocks go by.
    await sudo(call("adminUtils.sudoSetTempo", NETUID, 100));
    for (let i = 0; i < MAX_UNREVEALED_COMMITS; i++) expect((await commit(i)).errors).toEqual([]);
    expect((await commit(MAX_UNREVEALED_COMMITS)).errors).toEqual([
      "subtensorModule.TooManyUnrevealedCommits",
    ]);
    expect(read<unknown[]>("WeightCommits", [NETUID, alice.publicKey])).toHaveLength(MAX_UNREVEALED_COMMITS);
    await setCommitReveal(false);
  });
});
