/**
 * Gateway discovery (neurons/client/discovery.ts) on the in-memory chain: commitments that are
 * http(s) URLs, ranked by stake; a gateway that is down, or answers as another hotkey than the one
 * whose commitment names it, is skipped for the next.
 */
import type { KeyringPair } from "@polkadot/keyring/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { devKeypair } from "../chain/wallet.js";
import { createStorageClient } from "../neurons/client/api.js";
import { chainGateways, discoverGateways, gatewayUrlOf } from "../neurons/client/discovery.js";
import { NoGatewayError } from "../neurons/client/errors.js";
import { bytesSource } from "../neurons/client/source.js";
import { type FakeGateway, startFakeGateway } from "./support/fake-gateway.js";
import { MemoryChainClient } from "./support/memory-chain-client.js";

const utf8 = (text: string) => new TextEncoder().encode(text);

let chain: MemoryChainClient;
let netuid: number;
let owner: KeyringPair;
let user: KeyringPair;
const validators: Record<string, KeyringPair> = {};
const gateways: FakeGateway[] = [];

async function register(name: string, stake: bigint): Promise<KeyringPair> {
  const hotkey = await devKeypair(`//${name}`);
  await chain.burnedRegister(owner, netuid, hotkey.address);
  if (stake > 0n) await chain.addStake(owner, hotkey.address, netuid, stake);
  validators[name] = hotkey;
  return hotkey;
}

beforeAll(async () => {
  owner = await devKeypair("//Owner");
  user = await devKeypair("//User");
  chain = new MemoryChainClient();
  netuid = await chain.registerNetwork(owner, (await devKeypair("//OwnerHotkey")).address);
  const low = await register("Low", 100n);
  const high = await register("High", 500n);
  const liar = await register("Liar", 300n);
  const miner = await register("Miner", 1000n);
  const odd = await register("Odd", 900n);
  await register("Silent", 800n);

  const honest = await startFakeGateway({ hotkey: low });
  const impostor = await startFakeGateway({ hotkey: liar, claimHotkey: user.address });
  const down = await startFakeGateway({ hotkey: high });
  gateways.push(honest, impostor);
  await down.close();

  await chain.setCommitment(low, netuid, utf8(honest.url));
  await chain.setCommitment(high, netuid, utf8(down.url));
  await chain.setCommitment(liar, netuid, utf8(impostor.url));
  await chain.setCommitment(miner, netuid, utf8("/ip4/127.0.0.1/tcp/8091/p2p/12D3KooW"));
  await chain.setCommitment(odd, netuid, Uint8Array.of(0xff, 0xfe, 0x00));
});

afterAll(async () => {
  await Promise.all(gateways.map((g) => g.close()));
});

describe("gateway discovery", () => {
  it("keeps URL commitments of registered hotkeys, highest stake first", async () => {
    const found = await discoverGateways(chain, netuid);
    expect(found.map((g) => g.hotkey)).toEqual([
      validators.High?.address,
      validators.Liar?.address,
      validators.Low?.address,
    ]);
    expect(found.map((g) => g.stake)).toEqual([500n, 300n, 100n]);
  });

  it("tells a URL from a multiaddr or garbage", () => {
    expect(gatewayUrlOf(utf8("https://gw.example.com:8443/"))).toBe("https://gw.example.com:8443/");
    expect(gatewayUrlOf(utf8("/ip4/1.2.3.4/tcp/1"))).toBeUndefined();
    expect(gatewayUrlOf(utf8("ftp://x"))).toBeUndefined();
    expect(gatewayUrlOf(utf8("http://"))).toBeUndefined();
    expect(gatewayUrlOf(Uint8Array.of(0xc3))).toBeUndefined();
  });

  it("skips a gateway that is down and one that answers as another hotkey", async () => {
    const client = createStorageClient({ gateway: chainGateways(chain, netuid), hotkey: user });
    const info = await client.info();
    expect(info.hotkey).toBe(validators.Low?.address);
    expect(info.url).toBe(gateways[0]?.url);
    const stored = await client.put(bytesSource(utf8("found on chain")), { public: true });
    expect(gateways[0]?.store.files.has(stored.cid)).toBe(true);
    // The impostor was asked who it is, and never sent a file.
    expect(gateways[1]?.requests).toEqual(["GET /v1/info"]);
  });

  it("says so when the subnet has no gateway", async () => {
    const empty = await chain.registerNetwork(owner, (await devKeypair("//Lonely")).address);
    const client = createStorageClient({ gateway: chainGateways(chain, empty), hotkey: user });
    await expect(client.list()).rejects.toThrow(NoGatewayError);
  });
});
