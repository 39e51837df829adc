/**
 * What the Python tools (bittensor SDK, btcli) need of the dev chain beyond @polkadot/api: metadata
 * V15 with the runtime-API section, the RPC spellings py-substrate-interface uses, and subtensor's
 * runtime APIs, checked against the same chain's storage as @polkadot/api reads it.
 */
import { ApiPromise, WsProvider } from "@polkadot/api";
import { Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import { Metadata, TypeRegistry } from "@polkadot/types";
import { u8aToHex } from "@polkadot/util";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { createDevChain, type DevChain } from "../chain/devchain/chain.js";
import { subtensorPallets } from "../chain/devchain/pallets/subtensor/pallets.js";

/** One raw JSON-RPC call over a fresh WebSocket, as a non-polkadot client sends it. */
async function rawCall(
  endpoint: string,
  method: string,
  params: unknown[],
): Promise<{ result?: unknown; error?: { message: string } }> {
  const ws = new WebSocket(endpoint);
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  try {
    ws.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }));
    const reply = await new Promise<string>((resolve) => ws.once("message", (m) => resolve(String(m))));
    return JSON.parse(reply);
  } finally {
    ws.close();
  }
}

describe("devchain for the bittensor SDK and btcli", () => {
  let chain: DevChain;
  let api: ApiPromise;
  let alice: KeyringPair;
  let minerHotkey: KeyringPair;

  beforeAll(async () => {
    await cryptoWaitReady();
    const keyring = new Keyring({ type: "sr25519" });
    alice = keyring.addFromUri("//Alice");
    minerHotkey = keyring.addFromUri("//Alice//miner");
    chain = createDevChain({ port: 0, mode: "instant", pallets: subtensorPallets() });
    await chain.start();
    api = await ApiPromise.create({ provider: new WsProvider(chain.endpoint), noInitWarn: true });
    await new Promise<void>((resolve, reject) => {
      const register = api.tx.subtensorModule?.burnedRegister;
      if (!register) return reject(new Error("no burnedRegister"));
      register(1, minerHotkey.address)
        .signAndSend(alice, (r) => {
          if (r.status.isFinalized) resolve();
        })
        .catch(reject);
    });
  });

  afterAll(async () => {
    await api?.disconnect();
    await chain?.stop();
  });

  it("offers metadata V14 and V15, and @polkadot/api picks V15", async () => {
    const versions = await rawCall(chain.endpoint, "state_call", ["Metadata_metadata_versions", "0x"]);
    expect(versions.result).toBe(u8aToHex(new Uint8Array([8, 14, 0, 0, 0, 15, 0, 0, 0])));
    expect(api.runtimeMetadata.version).toBe(15);
    const apis = api.runtimeMetadata.asV15.apis.map((a) => a.name.toString());
    expect(apis).toEqual(
      expect.arrayContaining([
        "Core",
        "Metadata",
        "TransactionPaymentApi",
        "NeuronInfoRuntimeApi",
        "SubnetInfoRuntimeApi",
      ]),
    );
    // The V15 registry extends V14's: every V14 type keeps its id and shape.
    const v14 = new Metadata(new TypeRegistry(), chain.runtime.metadata).asV14.lookup.types.toJSON();
    const v15 = api.runtimeMetadata.asV15.lookup.types.toJSON() as unknown[];
    expect(v15.slice(0, (v14 as unknown[]).length)).toEqual(v14);
    // @polkadot/api now builds api.call from these declarations; fee estimation goes through them.
    const info = await api.tx.balances?.transferKeepAlive?.(minerHotkey.address, 1n).paymentInfo(alice);
    expect(info?.partialFee.toBigInt()).toBeGreaterThan(0n);
  });

  it("answers an unknown metadata version with None and an unknown runtime API with an error", async () => {
    expect(
      (await rawCall(chain.endpoint, "state_call", ["Metadata_metadata_at_version", "0x10000000"])).result,
    ).toBe("0x00");
    const missing = await rawCall(chain.endpoint, "state_call", [
      "NeuronInfoRuntimeApi_no_such_method",
      "0x",
    ]);
    expect(missing.error?.message).toContain(
      "Exported method NeuronInfoRuntimeApi_no_such_method is not found",
    );
    const trailing = await rawCall(chain.endpoint, "state_call", [
      "NeuronInfoRuntimeApi_get_neurons_lite",
      "0x010000",
    ]);
    expect(trailing.error?.message).toContain("bytes left after the arguments");
  });

  it("accepts account_nextIndex and state_call data without 0x or empty, as py-substrate-interface sends them", async () => {
    const viaSystem = await rawCall(chain.endpoint, "system_accountNextIndex", [alice.address]);
    const viaAccount = await rawCall(chain.endpoint, "account_nextIndex", [alice.address]);
    expect(viaAccount.result).toBe(viaSystem.result);
    expect(viaAccount.result).toBe(1);
    const bare = await rawCall(chain.endpoint, "state_call", ["Metadata_metadata_versions", ""]);
    expect(bare.result).toBe(u8aToHex(new Uint8Array([8, 14, 0, 0, 0, 15, 0, 0, 0])));
    const noPrefix = await rawCall(chain.endpoint, "state_call", [
      "NeuronInfoRuntimeApi_get_neurons_lite",
      "0100",
    ]);
    const withPrefix = await rawCall(chain.endpoint, "state_call", [
      "NeuronInfoRuntimeApi_get_neurons_lite",
      "0x0100",
    ]);
    expect(noPrefix.result).toBe(withPrefix.result);
    const bad = await rawCall(chain.endpoint, "state_call", ["NeuronInfoRuntimeApi_get_neurons_lite", "zz"]);
    expect(bad.error).toBeDefined();
  });

  it("reports neurons through NeuronInfoRuntimeApi as storage holds them", async () => {
    const call = api.call.neuronInfoRuntimeApi;
    const lite = (await call?.getNeuronsLite?.(1))?.toJSON() as Array<Record<string, unknown>>;
    const n = Number((await api.query.subtensorModule?.subnetworkN?.(1))?.toString());
    expect(lite).toHaveLength(n);
    expect(n).toBe(2);
    for (const [uid, neuron] of lite.entries()) {
      const hotkey = (await api.query.subtensorModule?.keys?.(1, uid))?.toString();
      const coldkey = (await api.query.subtensorModule?.owner?.(hotkey))?.toString();
      expect(neuron).toMatchObject({
        uid,
        netuid: 1,
        hotkey,
        coldkey,
        rank: 0,
        trust: 0,
        pruningScore: 65535,
      });
    }
    expect(lite[1]?.hotkey).toBe(minerHotkey.address);
    const full = (await call?.getNeuron?.(1, 1))?.toJSON() as Record<string, unknown>;
    expect(full).toMatchObject({ uid: 1, hotkey: minerHotkey.address, weights: [], bonds: [] });
    expect((await call?.getNeuronLite?.(1, 7))?.toJSON()).toBeNull();
    expect((await call?.getNeuronsLite?.(42))?.toJSON()).toEqual([]);
  });

  it("reports a subnet's per-uid state through SubnetInfoRuntimeApi.get_subnet_state", async () => {
    const state = (await api.call.subnetInfoRuntimeApi?.getSubnetState?.(1))?.toJSON() as Record<
      string,
      unknown[]
    >;
    expect(state.hotkeys).toEqual([alice.address, minerHotkey.address]);
    expect(state.alphaStake).toHaveLength(2);
    expect(state.totalStake).toEqual(state.alphaStake);
    expect((await api.call.subnetInfoRuntimeApi?.getSubnetState?.(42))?.toJSON()).toBeNull();
  });

  it("reports subnets through get_all_dynamic_info and prices them 1:1 through SwapRuntimeApi", async () => {
    const all = (await api.call.subnetInfoRuntimeApi?.getAllDynamicInfo?.())?.toJSON() as Array<
      Record<string, unknown>
    >;
    expect(all.map((d) => d.netuid)).toEqual([0, 1]);
    const one = (await api.call.subnetInfoRuntimeApi?.getDynamicInfo?.(1))?.toJSON() as Record<
      string,
      unknown
    >;
    expect(one).toEqual(all[1]);
    const owner = (await api.query.subtensorModule?.subnetOwner?.(1))?.toString();
    expect(one).toMatchObject({ netuid: 1, ownerColdkey: owner, tempo: 100, subnetIdentity: null });
    expect((await api.call.subnetInfoRuntimeApi?.getDynamicInfo?.(42))?.toJSON()).toBeNull();
    const swap = api.call.swapRuntimeApi;
    expect((await swap?.currentAlphaPrice?.(1))?.toString()).toBe("1000000000");
    expect((await swap?.currentAlphaPriceAll?.())?.toJSON()).toEqual([
      { netuid: 0, price: 1_000_000_000 },
      { netuid: 1, price: 1_000_000_000 },
    ]);
    expect((await swap?.simSwapTaoForAlpha?.(1, 5_000_000_000n))?.toJSON()).toMatchObject({
      taoAmount: 5_000_000_000,
      alphaAmount: 5_000_000_000,
      taoFee: 0,
    });
  });

  it("reports the metagraph through get_metagraph and only the asked fields through get_selective_mechagraph", async () => {
    const info = api.call.subnetInfoRuntimeApi;
    const full = (await info?.getMetagraph?.(1))?.toJSON() as Record<string, unknown>;
    expect(full).toMatchObject({
      netuid: 1,
      numUids: 2,
      tempo: 100,
      hotkeys: [alice.address, minerHotkey.address],
    });
    expect((await info?.getMechagraph?.(1, 0))?.toJSON()).toEqual(full);
    expect((await info?.getMechagraph?.(1, 1))?.toJSON()).toBeNull();
    // Index 52 is hotkeys, 8 is tempo (the Metagraph field order); netuid always comes back.
    const some = (await info?.getSelectiveMechagraph?.(1, 0, [8, 52]))?.toJSON() as Record<string, unknown>;
    expect(some).toMatchObject({ netuid: 1, tempo: 100, hotkeys: full.hotkeys, name: null, coldkeys: null });
    const owned = (await api.query.subtensorModule?.ownedHotkeys?.(alice.address))?.toJSON();
    expect(owned).toEqual([alice.address, minerHotkey.address]);
  });
});
