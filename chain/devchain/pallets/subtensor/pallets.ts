import type { PalletDef } from "../../pallet.js";
import { adminUtilsPallet } from "./admin-utils.js";
import { commitmentsPallet } from "./commitments.js";
import { type SubtensorModuleOptions, subtensorModulePallet } from "./subtensor-module.js";

/**
 * The subtensor pallets the dev chain adds to its Substrate base (System, Timestamp, Balances,
 * TransactionPayment, Utility, Sudo): SubtensorModule, Commitments and AdminUtils.
 *
 * @example createDevChain({ port: 9944, pallets: subtensorPallets() })
 */
export function subtensorPallets(options: SubtensorModuleOptions = {}): PalletDef[] {
  return [subtensorModulePallet(options), commitmentsPallet(), adminUtilsPallet()];
}
