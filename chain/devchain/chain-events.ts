/** What the dev chain tells its listeners (the RPC server's subscriptions). */
import type { Block } from "./block.js";

/** A watched transaction's status, as `author_submitAndWatchExtrinsic` reports it. */
export type TxStatus =
  | "ready"
  | "future"
  | { inBlock: string }
  | { finalized: string }
  | "invalid"
  | "dropped";

export type ChainEvent =
  | { type: "block"; block: Block; changes: ReadonlyMap<string, Uint8Array | null> }
  | { type: "tx"; hash: string; status: TxStatus };
