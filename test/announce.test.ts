/**
 * The miner's announcement: the axon and the commitment are written independently, so a refused
 * axon (subtensor's serving rate limit after a quick restart) does not keep the new address out of
 * the commitment validators dial. A real libp2p node on 127.0.0.1 and the in-memory chain client.
 */
import type { Libp2p } from "@libp2p/interface";
import { Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { bootstrapSubnet } from "../chain/bootstrap.js";
import type { AxonInfo, TxResult } from "../chain/client.js";
import { ChainModuleError } from "../chain/errors.js";
import { silentLogger } from "../neurons/logger.js";
import { createAnnouncer } from "../neurons/miner/announce.js";
import { createP2PNode } from "../neurons/p2p/node.js";
import { MemoryChainClient } from "./support/memory-chain-client.js";

/** A chain whose serving rate limit refuses every axon, as subtensor does within 50 blocks. */
class AxonRateLimitedChain extends MemoryChainClient {
  override async serveAxon(
    _hotkey: KeyringPair,
    _netuid: number,
    _axon: Omit<AxonInfo, "block">,
  ): Promise<TxResult> {
    throw new ChainModuleError("subtensorModule", "ServingRateLimitExceeded", "");
  }
}

let keyring: Keyring;
let node: Libp2p | undefined;

beforeAll(async () => {
  await cryptoWaitReady();
  keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
});

afterEach(async () => {
  await node?.stop();
  node = undefined;
});

/** Registers `miner` on a fresh subnet of `chain`, starts its libp2p node and its announcer. */
async function announcerOn(chain: MemoryChainClient, miner: KeyringPair) {
  const { netuid } = await bootstrapSubnet(chain, {
    sudo: keyring.addFromUri("//Alice"),
    ownerHotkey: keyring.addFromUri("//Alice//owner").address,
    registrations: [{ coldkey: keyring.addFromUri("//Bob"), hotkey: miner.address }],
  });
  node = await createP2PNode();
  const announcer = createAnnouncer({
    chain,
    hotkey: miner,
    settings: { netuid, listen: { ip: "127.0.0.1", port: 0 } },
    log: silentLogger(),
  });
  return { netuid, node, announcer };
}

describe("the miner's announcement", () => {
  it("publishes the commitment even when the chain refuses the axon, and reports the failure", async () => {
    const miner = keyring.addFromUri("//Bob//announce-miner");
    const chain = new AxonRateLimitedChain();
    const { netuid, node, announcer } = await announcerOn(chain, miner);
    await announcer.publish(node);
    const committed = (await chain.commitments(netuid)).get(miner.address);
    expect(new TextDecoder().decode(committed)).toBe(announcer.address);
    expect(announcer.address).toContain(node.peerId.toString());
    // The refused axon leaves it unpublished, so the miner retries at its next refresh.
    expect(announcer.published).toBe(false);
  });

  it("publishes both when the chain takes both", async () => {
    const miner = keyring.addFromUri("//Bob//announce-miner2");
    const chain = new MemoryChainClient();
    const { netuid, node, announcer } = await announcerOn(chain, miner);
    await announcer.publish(node);
    expect(announcer.published).toBe(true);
    const graph = await chain.metagraph(netuid);
    const uid = graph.hotkeys.indexOf(miner.address);
    // A loopback miner publishes 0.0.0.0 in its axon (subtensor refuses loopback) and its port.
    expect(graph.axons[uid]).toMatchObject({ ip: "0.0.0.0" });
    expect(new TextDecoder().decode((await chain.commitments(netuid)).get(miner.address))).toBe(
      announcer.address,
    );
  });
});
