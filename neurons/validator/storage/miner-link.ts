/**
 * What the storage layer needs from the validator to reach miners, and nothing more: who the
 * miners are now (db id, hotkey, uid, coldkey, IP), the room each offers this validator, and
 * "send one signed request to this miner", which proves the miner's identity first when needed
 * (the validator's own sessions, ../miner-sessions.ts). The validator implements it
 * (`createValidator(...).link`), so there is one session and proof logic, not two.
 */
import type { Message } from "../../../protocol/messages.js";
import type { ChallengeOutcome } from "../../../protocol/scoring.js";
import { NodeError } from "../../errors.js";

/** A miner of the metagraph as the storage layer sees it. */
export interface LinkedMiner {
  /** The validator database's id for it. */
  id: number;
  hotkey: string;
  uid: number;
  /** Its coldkey: miners sharing one are one operator, so a stripe spreads over coldkeys first. */
  coldkey: string | null;
  /** The IP (or DNS name) of its address, when it has one: a stripe spreads over IPs next. */
  ip: string | null;
  /** Whether it has an address to dial. */
  reachable: boolean;
}

/**
 * Why a request did not get an answer: the miner would not prove its identity (refused), the
 * connection or the answer did not come (unreachable), or it answered against the protocol.
 */
export class MinerLinkError extends NodeError {
  override name = "MinerLinkError";
  readonly kind: "refused" | "unreachable" | "protocol";
  constructor(kind: MinerLinkError["kind"], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
  }
}

export interface SendOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** Largest reply frame accepted (default: a chunk and its envelope). */
  maxFrameSize?: number;
}

export interface MinerLink {
  /** This validator's store id on every miner (its hotkey). */
  readonly storeId: string;
  /** Largest chunk a miner accepts from this validator, in bytes. */
  readonly chunkSize: number;
  /** The Merkle leaf size chunk roots are computed with. */
  readonly leafSize: number;
  /** The miners of the last metagraph sync (every registered hotkey but the validator's). */
  miners(): LinkedMiner[];
  /** Syncs the metagraph now. */
  refresh(): Promise<void>;
  /** Chunks the miner offers this validator, as of its last `hello` (undefined before one). */
  budget(minerId: number): number | undefined;
  /**
   * Proves the miner's identity when no session holds (a `hello`, which also learns its budget)
   * and returns the budget. Throws {@link MinerLinkError}.
   */
  prepare(minerId: number, options: SendOptions): Promise<number | undefined>;
  /**
   * Sends one signed request and returns the reply (which may be an `error`). Proves the miner's
   * identity first when no session holds. Throws {@link MinerLinkError}.
   */
  send(minerId: number, body: Message, options: SendOptions): Promise<Message>;
  /** Since when the miner has not answered (Unix ms), or undefined while it answers. */
  unreachableSince(minerId: number): number | undefined;
  /** Records the outcome of serving a user read, so the scoring policies weigh serving. */
  recordRetrieval(minerId: number, outcome: ChallengeOutcome): void;
}
