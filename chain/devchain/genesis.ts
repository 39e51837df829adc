/**
 * The genesis block: every pallet's genesis hook over an empty state. //Alice..//Ferdie are the
 * usual sr25519 dev accounts; //Alice holds the sudo key unless the caller names another.
 */
import { Keyring } from "@polkadot/keyring";
import { type Block, computeExtrinsicsRoot, makeBlock } from "./block.js";
import { BlockExecutor, type Logger } from "./executive.js";
import type { GenesisAccount, GenesisContext } from "./pallet.js";
import type { FeeConfig } from "./pallets/transaction-payment.js";
import type { Runtime } from "./runtime.js";
import type { State } from "./state.js";

export const DEV_ACCOUNT_NAMES = ["Alice", "Bob", "Charlie", "Dave", "Eve", "Ferdie"] as const;

/** 1,000,000 TAO each, in rao. */
export const DEV_BALANCE = 1_000_000n * 1_000_000_000n;

/** The sr25519 public keys of //Alice..//Ferdie. Needs `cryptoWaitReady()` first. */
export function devAccountIds(): Uint8Array[] {
  const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
  return DEV_ACCOUNT_NAMES.map((n) => keyring.addFromUri(`//${n}`).publicKey);
}

export interface GenesisOptions {
  accounts: readonly GenesisAccount[];
  sudo: Uint8Array;
  /** Per-pallet genesis config, by pallet name. */
  config: Readonly<Record<string, unknown>>;
}

/** Runs the genesis hooks into `state` (which must be empty) and returns block 0. */
export function buildGenesis(
  runtime: Runtime,
  state: State,
  options: GenesisOptions,
  fees: FeeConfig,
  log: Logger,
): Block {
  state.begin();
  const exec = new BlockExecutor(runtime, state, 0, fees, log);
  for (const p of runtime.pallets) {
    if (!p.genesis) continue;
    const ctx: GenesisContext = {
      blockNumber: 0,
      storage: (pallet, item) => exec.storage(pallet, item),
      emit: () => {},
      transactional: (fn) => exec.transactional(fn),
      dispatch: (call, origin) => exec.dispatch(call, origin),
      constant: (pallet, name) => exec.constant(pallet, name),
      accounts: options.accounts,
      sudo: options.sudo,
      config: options.config[p.name],
    };
    p.genesis(ctx);
  }
  state.commitBlock(0);
  return makeBlock(
    {
      parentHash: new Uint8Array(32),
      number: 0,
      stateRoot: state.root(),
      extrinsicsRoot: computeExtrinsicsRoot([]),
      digest: [],
    },
    [],
  );
}
