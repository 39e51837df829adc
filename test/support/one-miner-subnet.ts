import type { KeyringPair } from "@polkadot/keyring/types";
import { bootstrapSubnet } from "../../chain/bootstrap.js";
import { MemoryChainClient } from "./memory-chain-client.js";

/**
 * Just enough chain for one miner that does not publish: a subnet the validator owns (uid 0,
 * with a permit from its stake) and the miner registered as uid 1.
 *
 * @example const { chain, netuid } = await createOneMinerSubnet(validator, minerHotkey);
 */
export async function createOneMinerSubnet(
  validator: KeyringPair,
  minerHotkey: KeyringPair,
): Promise<{ chain: MemoryChainClient; netuid: number }> {
  const chain = new MemoryChainClient();
  const { netuid } = await bootstrapSubnet(chain, {
    sudo: validator,
    ownerHotkey: validator.address,
    registrations: [{ coldkey: minerHotkey, hotkey: minerHotkey.address }],
    stakes: [{ coldkey: validator, hotkey: validator.address, amountRao: 1_000n }],
    firstEpoch: (id) => chain.advance(chain.blocksToEpoch(id)),
  });
  return { chain, netuid };
}
