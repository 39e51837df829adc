import type { KeyringPair } from "@polkadot/keyring/types";
import type { TxResult } from "./client.js";

/**
 * The calls that set a subnet up and fund it: what an operator, the simulator and the tests do,
 * never a node (a node's own calls, `burnedRegister` for a miner's `--register` included, are on
 * `ChainClient`). `PolkadotChainClient` (chain/polkadot-client.ts) implements both.
 *
 * @example
 * const netuid = await admin.registerNetwork(alice, ownerHotkey);
 * await admin.sudoAdmin(alice, "sudoSetTempo", [netuid, 10]);
 */
export interface ChainAdmin {
  /** Registers a subnet owned by `coldkey`; returns its netuid. */
  registerNetwork(coldkey: KeyringPair, hotkey: string): Promise<number>;
  /** Wraps an `adminUtils` setter in `sudo.sudo` (dev chains and localnets). */
  sudoAdmin(sudoKey: KeyringPair, setter: string, args: unknown[]): Promise<TxResult>;
  /** Stakes `amountRao` from `coldkey` on `hotkey` in the subnet (a validator's funding step). */
  addStake(coldkey: KeyringPair, hotkey: string, netuid: number, amountRao: bigint): Promise<TxResult>;
  transfer(from: KeyringPair, to: string, amountRao: bigint): Promise<TxResult>;
}
