import { randomBytes } from "node:crypto";
import type { ApiPromise } from "@polkadot/api";
import type { KeyringPair } from "@polkadot/keyring/types";
import { u8aToHex } from "@polkadot/util";
import { blake2AsU8a } from "@polkadot/util-crypto";
import type { ChainClient, PendingReveal, ReadOptions, TxResult } from "./client.js";

/**
 * A validator's weights as subtensor stores them: parallel lists of uids and u16 weights
 * (protocol/scoring.ts `toU16Weights` turns scores into this).
 */
export interface U16Weights {
  uids: number[];
  weights: number[];
}

/** What {@link submitWeights} did. */
export type WeightsOutcome =
  | { kind: "set"; result: TxResult; uids: number[]; weights: number[] }
  | { kind: "committed"; pending: PendingReveal }
  | { kind: "rate-limited"; nextBlock: number }
  | { kind: "nothing-to-set" };

/**
 * Sets a validator's u16 weights the way subtensor wants them: with the subnet's version key, only
 * once the weights rate limit allows, and through commit-reveal when the subnet has it on. How
 * scores become u16 weights is the caller's (the scoring policy's) business, not the chain's. The
 * caller keeps the returned pending reveal and calls `client.revealWeights` in the epoch
 * `RevealPeriodEpochs` after the commit's (earlier fails with `subtensorModule.RevealTooEarly`:
 * retry; later with `ExpiredWeightCommit`: drop it). `options.signal` bounds the reads before
 * the transaction.
 *
 * @example
 * const outcome = await submitWeights(client, hotkey, netuid, toU16Weights(scores));
 * if (outcome.kind === "committed") db.savePendingReveal(outcome.pending);
 */
export async function submitWeights(
  client: ChainClient,
  hotkey: KeyringPair,
  netuid: number,
  { uids, weights }: U16Weights,
  options: ReadOptions = {},
): Promise<WeightsOutcome> {
  if (uids.length === 0) return { kind: "nothing-to-set" };
  const [hp, graph, block] = await Promise.all([
    client.hyperparameters(netuid, options),
    client.metagraph(netuid, options),
    client.currentBlock(options),
  ]);
  const uid = graph.hotkeys.indexOf(hotkey.address);
  const last = uid >= 0 ? (graph.lastUpdate[uid] ?? 0) : 0;
  if (last !== 0 && block - last < hp.weightsSetRateLimit) {
    return { kind: "rate-limited", nextBlock: last + hp.weightsSetRateLimit };
  }
  if (hp.commitRevealWeightsEnabled) {
    const salt = Array.from(new Uint16Array(randomBytes(16).buffer, 0, 8));
    const pending = await client.commitWeights(hotkey, netuid, uids, weights, hp.weightsVersionKey, salt);
    return { kind: "committed", pending };
  }
  const result = await client.setWeights(hotkey, netuid, uids, weights, hp.weightsVersionKey);
  return { kind: "set", result, uids, weights };
}

/**
 * The commit hash subtensor checks on reveal: blake2-256 of the SCALE encoding of
 * (hotkey account, netuid, uids, values, salt, version key).
 */
export function weightsCommitHash(
  api: ApiPromise,
  hotkey: string,
  netuid: number,
  uids: number[],
  values: number[],
  salt: number[],
  versionKey: bigint,
): string {
  const encoded = api.registry
    .createType("(AccountId32, u16, Vec<u16>, Vec<u16>, Vec<u16>, u64)", [
      hotkey,
      netuid,
      uids,
      values,
      salt,
      versionKey,
    ])
    .toU8a();
  return u8aToHex(blake2AsU8a(encoded, 256));
}
