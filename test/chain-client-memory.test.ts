/**
 * Runs the ChainClient compliance suite against the in-memory client the unit tests and benches
 * use (test/support/memory-chain-client.ts), so it answers as the real client does.
 */
import { Keyring } from "@polkadot/keyring";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { bootstrapSubnet } from "../chain/bootstrap.js";
import { chainClientCompliance } from "./chain-client-compliance.js";
import { MemoryChainClient } from "./support/memory-chain-client.js";

chainClientCompliance("in-memory client", async () => {
  await cryptoWaitReady();
  const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
  const alice = keyring.addFromUri("//Alice");
  const miners = [keyring.addFromUri("//Bob//miner0"), keyring.addFromUri("//Bob//miner1")];
  const chain = new MemoryChainClient();
  const bob = keyring.addFromUri("//Bob");
  const { netuid } = await bootstrapSubnet(chain, {
    sudo: alice,
    ownerHotkey: keyring.addFromUri("//Alice//owner").address,
    hyperparameters: [["sudoSetTempo", 5]],
    registrations: miners.map((miner) => ({ coldkey: bob, hotkey: miner.address })),
  });
  await chain.setCommitment(miners[0] as (typeof miners)[0], netuid, new TextEncoder().encode("miner0"));
  return {
    endpoint: chain.endpoint,
    netuid,
    canWrite: true,
    advance: (blocks: number) => chain.advance(blocks),
    connect: async () => chain,
  };
});
