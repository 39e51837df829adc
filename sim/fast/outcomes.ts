/**
 * Miner behaviours as challenge-outcome models: what a validator would observe from each
 * challenge, without storing or proving anything. Each model follows what the real behaviour
 * (sim/adversaries.ts) makes the validator see:
 *
 * | behaviour | outcome of one challenge |
 * |---|---|
 * | honest | pass, latency log-normal(latencyMs, latencySigma); timeout past the deadline |
 * | lazy | fail with probability 1 − keep^k (k chunks named, each kept with probability keep) |
 * | corrupting | fail with probability rate (the flipped leaf no longer hashes to the root) |
 * | outsourcer | fail: another miner's bytes hash to other roots (per-miner data) |
 * | offline | timeout |
 * | slow | pass at latency + delayMs, timeout when that is past the deadline |
 * | churning | honest for onTempos tempos, offline for offTempos, repeating (random phase) |
 * | sybil | lazy with keep = 1 / sybils: the hotkeys share one copy's worth of disk |
 *
 * Before its `from` tempo every miner answers as an honest one.
 */
import type { ChallengeOutcome } from "../../protocol/scoring.js";
import type { FastConfig, MinerGroup } from "./config.js";
import type { Prng } from "./prng.js";

const FAIL: ChallengeOutcome = Object.freeze({ kind: "fail" });
const TIMEOUT: ChallengeOutcome = Object.freeze({ kind: "timeout" });

/** One miner's outcome model. */
export interface MinerModel {
  /** Index of its group in `config.miners`. */
  readonly group: number;
  readonly provenShare: number;
  /** Chunks placed on the miner relative to a full miner (the validator pays per chunk). */
  readonly capacity: number;
  /** Draws the outcome of one challenge sent during `tempo` (from the prng it was made with). */
  challenge(tempo: number): ChallengeOutcome;
}

/**
 * Builds the model of one miner of `group`; `prng` draws its fixed traits (a churner's phase) and
 * then every outcome.
 *
 * @example createMinerModel({ ...group, behaviour: "offline" }, 0, config, prng).challenge(0) // { kind: "timeout" }
 */
export function createMinerModel(
  group: MinerGroup,
  index: number,
  config: FastConfig,
  prng: Prng,
): MinerModel {
  const deadline = config.deadlineMs;
  const k = config.chunksPerChallenge;
  const from = group.from;
  const honest = (extraMs: number): ChallengeOutcome => {
    const latencyMs = extraMs + prng.logNormal(group.latencyMs, group.latencySigma);
    return latencyMs > deadline ? TIMEOUT : { kind: "pass", latencyMs };
  };
  const failing = (failProbability: number) => (tempo: number) =>
    tempo >= from && prng.next() < failProbability ? FAIL : honest(0);
  let challenge: (tempo: number) => ChallengeOutcome;
  switch (group.behaviour) {
    case "honest":
      challenge = () => honest(0);
      break;
    case "lazy":
      challenge = failing(1 - group.keep ** k);
      break;
    case "sybil":
      challenge = failing(1 - (1 / group.sybils) ** k);
      break;
    case "corrupting":
      challenge = failing(group.rate);
      break;
    case "outsourcer":
      challenge = failing(1);
      break;
    case "offline":
      challenge = (tempo) => (tempo >= from ? TIMEOUT : honest(0));
      break;
    case "slow":
      challenge = (tempo) => honest(tempo >= from ? group.delayMs : 0);
      break;
    case "churning": {
      const period = group.onTempos + group.offTempos;
      // Drawn even when set, so the other traits' draws do not depend on whether a phase is given.
      const drawn = Math.floor(prng.next() * period);
      const phase = group.phase ?? drawn;
      challenge = (tempo) =>
        tempo >= from && (tempo - from + phase) % period >= group.onTempos ? TIMEOUT : honest(0);
      break;
    }
  }
  if (group.offlineTempos.length > 0) {
    const offline = new Set(group.offlineTempos);
    const online = challenge;
    challenge = (tempo) => (offline.has(tempo) ? TIMEOUT : online(tempo));
  }
  return { group: index, provenShare: group.provenShare, capacity: group.capacity, challenge };
}
