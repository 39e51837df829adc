/**
 * A full-simulator scenario (sim/scenario.ts) as a fast-mode configuration, so the two modes can
 * run the same subnet and be compared (test/calibration.test.ts).
 *
 * | scenario | fast mode |
 * |---|---|
 * | miners, adversaries (last indices, ADVERSARY_NAMES order) | one miner group per behaviour, same counts |
 * | lazyKeep / corruptRate / slowDelayFraction × challengeTimeoutMs | lazy `keep` / corrupting `rate` / slow `delayMs` |
 * | offlineFromTempo (1-based) | offline `from` (0-based) |
 * | churnPeriod | churning `onTempos` = `offTempos`, phase 0 (online first, as the simulator) |
 * | sybil (honest node on 1/sybilGroup of a disk) | honest outcomes, capacity 1/sybilGroup, labelled `sybil` |
 * | validatorStakes, copier, lazy-validator | one validator group per stake; copier, lazy |
 * | roundsPerTempo (each validator challenges every miner once a round) | challengesPerTempo |
 * | validator.chunksPerChallenge, challengeTimeoutMs | chunksPerChallenge, deadlineMs |
 * | policy (latencyWeight 0) | policy, unchanged |
 * | sudoSetMaxAllowedValidators = validators, hyperparameters | hyperparameters |
 *
 * What cannot be carried over exactly is listed by {@link scenarioApproximations}: a churner's
 * phase (0 in the simulator, random in the fast mode), scenario events, and setters the fast mode
 * has no knob for (those throw).
 */
import { ADVERSARY_NAMES, type ValidatorAdversaryName } from "../adversaries.js";
import { SimError } from "../errors.js";
import { assignBehaviours, assignValidatorBehaviours, eventMiners, type Scenario } from "../scenario.js";
import type { FastConfigInput, ValidatorBehaviourName } from "./config.js";

/** The scenario uses something the fast mode cannot express; the message names it. */
export class ScenarioMappingError extends SimError {
  override readonly name = "ScenarioMappingError";
}

type Hyperparameters = NonNullable<FastConfigInput["hyperparameters"]>;

/** The fast-mode validator behaviour that stands for each of the simulator's. */
const FAST_VALIDATOR_BEHAVIOUR = {
  honest: "honest",
  copier: "copier",
  "lazy-validator": "lazy",
} as const satisfies Record<ValidatorAdversaryName | "honest", ValidatorBehaviourName>;

/** Setters the simulator may apply that change the epoch, and the fast-mode knob each sets. */
const EPOCH_SETTERS: Record<string, keyof Hyperparameters> = {
  sudoSetKappa: "kappa",
  sudoSetBondsMovingAverage: "bondsMovingAverage",
  sudoSetBondsPenalty: "bondsPenalty",
  sudoSetLiquidAlphaEnabled: "liquidAlphaEnabled",
  sudoSetAlphaSigmoidSteepness: "alphaSigmoidSteepness",
  sudoSetYuma3Enabled: "yuma3Enabled",
  sudoSetMaxAllowedValidators: "maxAllowedValidators",
};

/**
 * Setters with no effect on the fast loop: rate limits, registration and burn (the population is
 * fixed), commit-reveal (weights count at once in both modes, the simulator turns it off).
 */
const INERT_SETTERS = new Set([
  "sudoSetServingRateLimit",
  "sudoSetWeightsVersionKey",
  "sudoSetWeightsSetRateLimit",
  "sudoSetImmunityPeriod",
  "sudoSetMinAllowedWeights",
  "sudoSetMaxAllowedUids",
  "sudoSetMinAllowedUids",
  "sudoSetNetworkRegistrationAllowed",
  "sudoSetTargetRegistrationsPerInterval",
  "sudoSetMinBurn",
  "sudoSetMaxBurn",
  "sudoSetMaxRegistrationsPerBlock",
  "sudoSetNetworkRateLimit",
  "sudoSetCommitRevealWeightsEnabled",
  "sudoSetCommitRevealWeightsInterval",
  "sudoSetAdminFreezeWindow",
  "sudoSetMaxEpochsPerBlock",
]);

/** Label of the fast-mode miner group that stands for each simulator behaviour. */
export type BehaviourOfLabel = Record<string, string>;

export interface MappedScenario {
  config: FastConfigInput;
  /** Fast-mode miner group label → the simulator's behaviour name it stands for. */
  behaviourOf: BehaviourOfLabel;
}

/** Per miner with events, the fast-mode tempos (from 0) it spends switched off. */
function offlineTemposByMiner(scenario: Scenario): Map<number, number[]> {
  const out = new Map<number, number[]>();
  // A miner that leaves is switched off for good (the fast mode has no replacement registrations);
  // a gateway restart names no miner.
  const miners = new Set(scenario.events.flatMap(eventMiners));
  for (const m of miners) {
    const events = scenario.events.filter((e) => eventMiners(e).includes(m));
    let online = true;
    const off: number[] = [];
    for (let tempo = 1; tempo <= scenario.tempos; tempo++) {
      for (const e of events) if (e.tempo === tempo) online = e.action === "online";
      if (!online) off.push(tempo - 1);
    }
    out.set(m, off);
  }
  return out;
}

/**
 * Maps a parsed scenario to a fast-mode configuration running the same subnet. Throws
 * {@link ScenarioMappingError} on a hyperparameter setter the fast mode has no knob for.
 * Scenario events on honest miners are carried over as offline tempos; events on adversarial miners
 * are not (see {@link scenarioApproximations}).
 *
 * @example
 * const { config } = fastConfigFromScenario(parseScenario({ miners: 8, adversaries: { lazy: 2 } }));
 * runFast(config).rows.length // 8 (the scenario's default tempos)
 */
export function fastConfigFromScenario(scenario: Scenario): MappedScenario {
  const o = scenario.adversaryOptions;
  const miners: NonNullable<FastConfigInput["miners"]> = [];
  const behaviourOf: BehaviourOfLabel = {};
  const add = (group: (typeof miners)[number], behaviour: string) => {
    if (group.count === 0) return;
    miners.push(group);
    behaviourOf[group.label ?? group.behaviour] = behaviour;
  };
  // Honest miners switched off and on by scenario events get a group of their own (fast tempos
  // count from 0, the simulator's from 1).
  const behaviours = assignBehaviours(scenario);
  const honest = behaviours.filter((b) => b === "honest").length;
  const evented = offlineTemposByMiner(scenario);
  const honestEvented = [...evented.keys()].filter((m) => behaviours[m] === "honest");
  add({ behaviour: "honest", label: "honest", count: honest - honestEvented.length }, "honest");
  for (const m of honestEvented) {
    add(
      { behaviour: "honest", label: `honest-m${m}`, count: 1, offlineTempos: evented.get(m) ?? [] },
      "honest",
    );
  }
  for (const name of ADVERSARY_NAMES) {
    const count = scenario.adversaries[name] ?? 0;
    switch (name) {
      case "lazy":
        add({ behaviour: "lazy", label: name, count, keep: o.lazyKeep }, name);
        break;
      case "corrupting":
        add({ behaviour: "corrupting", label: name, count, rate: o.corruptRate }, name);
        break;
      case "outsourcer":
        add({ behaviour: "outsourcer", label: name, count }, name);
        break;
      case "slow":
        add(
          {
            behaviour: "slow",
            label: name,
            count,
            delayMs: o.slowDelayFraction * scenario.validator.challengeTimeoutMs,
          },
          name,
        );
        break;
      case "offline":
        add({ behaviour: "offline", label: name, count, from: o.offlineFromTempo - 1 }, name);
        break;
      case "churning":
        add(
          {
            behaviour: "churning",
            label: name,
            count,
            onTempos: o.churnPeriod,
            offTempos: o.churnPeriod,
            // The simulator starts every churner online.
            phase: 0,
          },
          name,
        );
        break;
      case "sybil":
        // The simulator's sybil is an honest node on a share of a disk: honest outcomes, and the
        // validator places (and pays for) that share of a full miner's chunks.
        add({ behaviour: "honest", label: name, count, capacity: 1 / o.sybilGroup }, name);
        break;
      case "refuse-reads":
      case "challenged-only":
      case "slow-reads":
        // They pass challenges; what they withhold is user reads, which the fast mode does not
        // model: honest outcomes, under their own label.
        add({ behaviour: "honest", label: name, count }, name);
        break;
    }
  }

  const validatorBehaviours = assignValidatorBehaviours(scenario);
  const validators = scenario.validatorStakes.map((stake, i) => ({
    behaviour: FAST_VALIDATOR_BEHAVIOUR[validatorBehaviours[i] ?? "honest"],
    label: `v${i}`,
    count: 1,
    stake,
  }));

  const hyperparameters: Hyperparameters = { maxAllowedValidators: scenario.validatorStakes.length };
  let tempo = scenario.tempo;
  let ownerCut: number | undefined;
  for (const [setter, value] of Object.entries(scenario.hyperparameters)) {
    const knob = EPOCH_SETTERS[setter];
    if (knob !== undefined) Object.assign(hyperparameters, { [knob]: value });
    else if (setter === "sudoSetTempo") tempo = Number(value);
    else if (setter === "sudoSetSubnetOwnerCut") ownerCut = Number(value);
    else if (!INERT_SETTERS.has(setter))
      throw new ScenarioMappingError(`hyperparameters: the fast mode has no equivalent of ${setter}`);
  }

  return {
    behaviourOf,
    config: {
      seed: scenario.seed,
      tempos: scenario.tempos,
      tempo,
      ...(ownerCut === undefined ? {} : { ownerCut }),
      challengesPerTempo: scenario.roundsPerTempo,
      chunksPerChallenge: scenario.validator.chunksPerChallenge,
      deadlineMs: scenario.validator.challengeTimeoutMs,
      policy: { name: scenario.policy.name, params: { ...scenario.policy.params } },
      hyperparameters,
      miners,
      validators,
      detectionThreshold: scenario.detectionThreshold,
    },
  };
}

/**
 * What {@link fastConfigFromScenario} could only approximate for this scenario, one line each
 * (empty: nothing beyond the fast mode's general simplifications).
 */
export function scenarioApproximations(scenario: Scenario): string[] {
  const out: string[] = [];
  const behaviours = assignBehaviours(scenario);
  const adversarial = [...offlineTemposByMiner(scenario).keys()].filter((m) => behaviours[m] !== "honest");
  if (adversarial.length > 0)
    out.push(`events: events on adversarial miners (${adversarial.join(", ")}) are not carried over`);
  return out;
}
