/**
 * Conformance of the dev chain's hand-built metadata with an independent, maintained codec:
 * polkadot-api's `@polkadot-api/substrate-bindings` decodes the V14 and V15 bytes a running dev
 * chain serves over RPC, finds what the chain declares, and re-encodes them to the same bytes (so
 * ours are canonical SCALE, not merely decodable).
 */

import { u8aToHex } from "@polkadot/util";
import {
  Bytes,
  metadata as metadataCodec,
  Option,
  u32,
  type V14,
  type V15,
} from "@polkadot-api/substrate-bindings";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { createDevChain, type DevChain } from "../chain/devchain/chain.js";
import { subtensorPallets } from "../chain/devchain/pallets/subtensor/pallets.js";

/** "meta" read as a little-endian u32. */
const METADATA_MAGIC = 0x6174656d;

/** subtensor's pallet indices (its `construct_runtime!`), which the dev chain keeps. */
const SUBTENSOR_PALLET_INDICES: Record<string, number> = {
  System: 0,
  Timestamp: 2,
  Balances: 5,
  TransactionPayment: 6,
  SubtensorModule: 7,
  Utility: 11,
  Sudo: 12,
  Commitments: 18,
  AdminUtils: 19,
};

/** Runtime APIs and methods the bittensor SDK and btcli call through `state_call` (issue 17). */
const TOOL_RUNTIME_APIS: Record<string, string[]> = {
  Core: ["version"],
  Metadata: ["metadata", "metadata_at_version", "metadata_versions"],
  AccountNonceApi: ["account_nonce"],
  TransactionPaymentApi: ["query_info", "query_fee_details"],
  NeuronInfoRuntimeApi: ["get_neurons_lite", "get_neuron", "get_neurons"],
  SubnetInfoRuntimeApi: [
    "get_subnet_state",
    "get_metagraph",
    "get_selective_metagraph",
    "get_dynamic_info",
    "get_all_dynamic_info",
    "get_subnet_hyperparams_v2",
    "get_subnet_hyperparams_v3",
  ],
  StakeInfoRuntimeApi: ["get_stake_info_for_coldkey", "get_stake_info_for_coldkeys"],
  SubnetRegistrationRuntimeApi: ["get_network_registration_cost"],
  SwapRuntimeApi: ["current_alpha_price", "sim_swap_tao_for_alpha", "sim_swap_alpha_for_tao"],
};

const OPTIONAL_OPAQUE_METADATA = Option(Bytes());

async function rpc(endpoint: string, method: string, params: unknown[]): Promise<unknown> {
  const ws = new WebSocket(endpoint);
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  try {
    ws.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }));
    const reply = JSON.parse(
      await new Promise<string>((resolve) => ws.once("message", (m) => resolve(String(m)))),
    ) as { result?: unknown; error?: { message: string } };
    if (reply.error) throw new Error(`${method}: ${reply.error.message}`);
    return reply.result;
  } finally {
    ws.close();
  }
}

/** `Metadata_metadata_at_version(version)` over `state_call`: the opaque bytes, or undefined. */
async function metadataAtVersion(endpoint: string, version: number): Promise<Uint8Array | undefined> {
  const result = await rpc(endpoint, "state_call", [
    "Metadata_metadata_at_version",
    u8aToHex(u32.enc(version)),
  ]);
  return OPTIONAL_OPAQUE_METADATA.dec(result as string);
}

type Lookup = V14["lookup"];

/** The variant names of lookup type `id`, in index order, as `index:name`. */
function variantsOf(lookup: Lookup, id: number | undefined): string[] {
  const entry = lookup[id ?? -1];
  if (entry?.id !== id || entry?.def.tag !== "variant") throw new Error(`type ${id} is not a variant`);
  return entry.def.value.map((v) => `${v.index}:${v.name}`);
}

describe("dev chain metadata against @polkadot-api/substrate-bindings", () => {
  let chain: DevChain;
  let bytes14: Uint8Array;
  let bytes15: Uint8Array;
  let v14: V14;
  let v15: V15;

  beforeAll(async () => {
    chain = createDevChain({ port: 0, mode: "manual", pallets: subtensorPallets(), log: () => {} });
    await chain.start();
    bytes14 = (await metadataAtVersion(chain.endpoint, 14)) as Uint8Array;
    bytes15 = (await metadataAtVersion(chain.endpoint, 15)) as Uint8Array;
    const decoded14 = metadataCodec.dec(bytes14);
    const decoded15 = metadataCodec.dec(bytes15);
    expect(decoded14.magicNumber).toBe(METADATA_MAGIC);
    expect(decoded15.magicNumber).toBe(METADATA_MAGIC);
    if (decoded14.metadata.tag !== "v14") throw new Error(`V14 request answered ${decoded14.metadata.tag}`);
    if (decoded15.metadata.tag !== "v15") throw new Error(`V15 request answered ${decoded15.metadata.tag}`);
    v14 = decoded14.metadata.value;
    v15 = decoded15.metadata.value;
  });

  afterAll(async () => {
    await chain?.stop();
  });

  it("serves V14 from state_getMetadata too, and nothing for versions it does not build", async () => {
    expect(await rpc(chain.endpoint, "state_getMetadata", [])).toBe(u8aToHex(bytes14));
    expect(await metadataAtVersion(chain.endpoint, 16)).toBeUndefined();
  });

  it("re-encodes to the same bytes (canonical SCALE)", () => {
    expect(
      u8aToHex(metadataCodec.enc({ magicNumber: METADATA_MAGIC, metadata: { tag: "v14", value: v14 } })),
    ).toBe(u8aToHex(bytes14));
    expect(
      u8aToHex(metadataCodec.enc({ magicNumber: METADATA_MAGIC, metadata: { tag: "v15", value: v15 } })),
    ).toBe(u8aToHex(bytes15));
  });

  it("has a lookup whose ids are positions, and V15 only appends to V14's", () => {
    for (const lookup of [v14.lookup, v15.lookup])
      expect(lookup.map((t) => t.id)).toEqual(lookup.map((_, i) => i));
    expect(v15.lookup.slice(0, v14.lookup.length)).toEqual(v14.lookup);
  });

  it("lists subtensor's pallets at subtensor's indices", () => {
    for (const meta of [v14, v15]) {
      const indices = Object.fromEntries(meta.pallets.map((p) => [p.name, p.index]));
      expect(indices).toEqual(SUBTENSOR_PALLET_INDICES);
      expect(meta.pallets.map((p) => p.name)).toEqual(chain.runtime.pallets.map((p) => p.name));
    }
  });

  it("declares every SubtensorModule call and error the runtime dispatches", () => {
    const subtensor = chain.runtime.pallets.find((p) => p.name === "SubtensorModule");
    const calls = (subtensor?.calls ?? []).map((c) => `${c.index}:${c.name}`);
    const errors = (subtensor?.errors ?? []).map((e, i) => `${e.index ?? i}:${e.name}`);
    expect(calls.length).toBeGreaterThan(0);
    expect(errors.length).toBeGreaterThan(0);
    for (const meta of [v14, v15]) {
      const pallet = meta.pallets.find((p) => p.name === "SubtensorModule");
      expect(variantsOf(meta.lookup, pallet?.calls).sort()).toEqual([...calls].sort());
      expect(variantsOf(meta.lookup, pallet?.errors).sort()).toEqual([...errors].sort());
      const callNames = variantsOf(meta.lookup, pallet?.calls).map((c) => c.split(":")[1]);
      expect(callNames).toEqual(
        expect.arrayContaining(["burned_register", "set_weights", "add_stake", "remove_stake", "serve_axon"]),
      );
    }
  });

  it("has V15's runtime-API section with the APIs the tools call and every method the chain answers", () => {
    const apis = Object.fromEntries(v15.apis.map((a) => [a.name, a.methods.map((m) => m.name)]));
    for (const [name, methods] of Object.entries(TOOL_RUNTIME_APIS)) {
      expect(apis[name], name).toBeDefined();
      expect(apis[name], name).toEqual(expect.arrayContaining(methods));
    }
    expect(v15.apis.map((a) => [a.name, a.methods.map((m) => m.name)])).toEqual(
      chain.runtime.runtimeApis.map((a) => [a.name, a.methods.map((m) => m.name)]),
    );
    for (const api of v15.apis)
      for (const m of api.methods)
        for (const id of [m.output, ...m.inputs.map((i) => i.type)]) expect(v15.lookup[id]?.id).toBe(id);
  });

  it("has V15 outer enums with one variant per pallet that has calls, events or errors", () => {
    const withCalls = v15.pallets.filter((p) => p.calls !== undefined).map((p) => `${p.index}:${p.name}`);
    const withEvents = v15.pallets.filter((p) => p.events !== undefined).map((p) => `${p.index}:${p.name}`);
    const withErrors = v15.pallets.filter((p) => p.errors !== undefined).map((p) => `${p.index}:${p.name}`);
    expect(variantsOf(v15.lookup, v15.outerEnums.call)).toEqual(withCalls);
    expect(variantsOf(v15.lookup, v15.outerEnums.event)).toEqual(withEvents);
    expect(variantsOf(v15.lookup, v15.outerEnums.error)).toEqual(withErrors);
    expect(v15.extrinsic.call).toBe(v15.outerEnums.call);
    expect(v15.extrinsic.signedExtensions.map((e) => e.identifier)).toEqual(
      v14.extrinsic.signedExtensions.map((e) => e.identifier),
    );
  });
});
