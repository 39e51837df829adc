import type { KeyringPair } from "@polkadot/keyring/types";
import type { ChainAdmin } from "./admin.js";
import type { ChainClient } from "./client.js";

/** An `adminUtils` setter and the value it takes after the netuid, e.g. `["sudoSetTempo", 10]`. */
export type SubnetSetting = readonly [setter: string, value: number | boolean];

/** What {@link bootstrapSubnet} sets up, in the order it does it. */
export interface SubnetBootstrapOptions {
  /** The chain's sudo key; it also registers (pays for and owns) the subnet. */
  sudo: KeyringPair;
  /** The subnet owner's hotkey, which subtensor registers at uid 0. */
  ownerHotkey: string;
  /** Setters applied with sudo, in order, once the subnet exists. */
  hyperparameters?: readonly SubnetSetting[];
  /** Hotkeys to register, in order (their uids follow it), each paid by its coldkey. */
  registrations?: readonly { coldkey: KeyringPair; hotkey: string }[];
  /** Stake added once everyone is registered, each from its coldkey. */
  stakes?: readonly { coldkey: KeyringPair; hotkey: string; amountRao: bigint }[];
  /**
   * Runs the subnet's first epoch, which hands the staked hotkeys their validator permits. Only
   * whoever runs the chain can make blocks (the dev chain's `newBlock`), so the caller does. Its
   * result is awaited and dropped.
   */
  firstEpoch?(netuid: number): unknown;
}

/** The subnet {@link bootstrapSubnet} made. */
export interface BootstrappedSubnet {
  netuid: number;
  /** The uid of each registration, in the order given. */
  uids: number[];
}

/**
 * Sets a subnet up the way an operator does on a dev chain or localnet: registers the network,
 * applies the sudo hyperparameters, registers the hotkeys, adds the stakes and lets the first
 * epoch run. Every transaction waits for inclusion before the next is sent.
 *
 * @example
 * const { netuid } = await bootstrapSubnet(client, {
 *   sudo: alice,
 *   ownerHotkey: owner.address,
 *   hyperparameters: [["sudoSetTempo", 10], ["sudoSetWeightsSetRateLimit", 0]],
 *   registrations: [{ coldkey: bob, hotkey: validator.address }],
 *   stakes: [{ coldkey: bob, hotkey: validator.address, amountRao: 1_000n * TAO }],
 *   firstEpoch: () => devChain.newBlock(12),
 * });
 */
export async function bootstrapSubnet(
  admin: ChainAdmin & Pick<ChainClient, "burnedRegister">,
  options: SubnetBootstrapOptions,
): Promise<BootstrappedSubnet> {
  const { sudo } = options;
  const netuid = await admin.registerNetwork(sudo, options.ownerHotkey);
  for (const [setter, value] of options.hyperparameters ?? [])
    await admin.sudoAdmin(sudo, setter, [netuid, value]);
  const uids: number[] = [];
  for (const r of options.registrations ?? [])
    uids.push(await admin.burnedRegister(r.coldkey, netuid, r.hotkey));
  for (const s of options.stakes ?? []) await admin.addStake(s.coldkey, s.hotkey, netuid, s.amountRao);
  await options.firstEpoch?.(netuid);
  return { netuid, uids };
}
