/**
 * The chain over a runner's channel (sim/ipc-chain-client.ts): a node process's calls answered by
 * the simulator's client. Here the channel is structured clone and a turn of the event loop, as
 * Node's IPC channel with `serialization: "advanced"` is, and the simulator's client the
 * in-memory chain.
 */
import { Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { bootstrapSubnet } from "../chain/bootstrap.js";
import type { ChainClient } from "../chain/client.js";
import { ChainError, ChainModuleError } from "../chain/errors.js";
import { answerChainCall, createIpcChainClient, IPC_CHAIN_ENDPOINT } from "../sim/ipc-chain-client.js";
import { MemoryChainClient } from "./support/memory-chain-client.js";

let chain: MemoryChainClient;
let netuid: number;
let miner: KeyringPair;
let stranger: KeyringPair;

/** A client whose calls cross a channel to `chain`, which signs with the keys `held` names. */
function overChannel(held: readonly KeyringPair[]): ChainClient {
  const { client, answer } = createIpcChainClient((call) => {
    const sent = structuredClone(call);
    setImmediate(async () => {
      const reply = await answerChainCall(sent, chain, (address) => held.find((p) => p.address === address));
      setImmediate(() => answer(structuredClone(reply)));
    });
  });
  return client;
}

beforeAll(async () => {
  await cryptoWaitReady();
  const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
  miner = keyring.addFromUri("//Ipc//miner");
  stranger = keyring.addFromUri("//Ipc//stranger");
  chain = new MemoryChainClient();
  ({ netuid } = await bootstrapSubnet(chain, {
    sudo: keyring.addFromUri("//Alice"),
    ownerHotkey: keyring.addFromUri("//Alice//owner").address,
    registrations: [{ coldkey: keyring.addFromUri("//Bob"), hotkey: miner.address }],
  }));
});

describe("the chain over a runner's channel", () => {
  it("answers reads as the simulator's client does, bigints and maps included", async () => {
    const client = overChannel([]);
    expect(client.endpoint).toBe(IPC_CHAIN_ENDPOINT);
    expect(await client.metagraph(netuid)).toEqual(await chain.metagraph(netuid));
    expect(await client.uidOf(netuid, miner.address)).toBe(await chain.uidOf(netuid, miner.address));
    expect(await client.currentBlock()).toBe(await chain.currentBlock());
  });

  it("signs with the simulator's copy of a node's key, and refuses a key it does not hold", async () => {
    const client = overChannel([miner]);
    await client.setCommitment(miner, netuid, new TextEncoder().encode("/ip4/127.0.0.1/tcp/1"));
    expect(new TextDecoder().decode((await chain.commitments(netuid)).get(miner.address))).toBe(
      "/ip4/127.0.0.1/tcp/1",
    );
    const refused = await client.setCommitment(stranger, netuid, new Uint8Array([1])).catch((e) => e);
    expect(refused).toBeInstanceOf(ChainError);
    expect((refused as Error).message).toContain(stranger.address);
  });

  it("rebuilds a module error with its pallet and variant, so nodes can match on it", async () => {
    const client = overChannel([miner]);
    const err = await client.burnedRegister(miner, netuid + 99, miner.address).catch((e) => e);
    expect(err).toBeInstanceOf(ChainModuleError);
    expect((err as ChainModuleError).error).toBe("SubnetNotExists");
    expect((err as ChainModuleError).section).toBe("subtensorModule");
  });

  it("stops waiting for a read whose signal aborts", async () => {
    // A channel that never answers: only the signal can end the read.
    const { client } = createIpcChainClient(() => undefined);
    const controller = new AbortController();
    const read = client.metagraph(netuid, { signal: controller.signal });
    controller.abort(new Error("gave up"));
    await expect(read).rejects.toThrow("gave up");
    await expect(client.currentBlock({ signal: AbortSignal.abort(new Error("already")) })).rejects.toThrow(
      "already",
    );
  });
});
