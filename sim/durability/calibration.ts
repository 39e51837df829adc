/**
 * The durability model on a scenario the full simulator can also run (a few hours of a 20-miner
 * subnet under heavy churn), so the two can be compared figure by figure: files lost, pieces
 * lost, repairs and repair bytes. The full simulator is one seeded run of real nodes; the model is
 * the mean over `seeds` runs, as the fast mode's calibration does (README "Calibration against the
 * full simulator").
 */
import type { DurabilityConfigInput } from "./config.js";
import { type DurabilityResult, runDurability } from "./run-durability.js";

/** A full-simulator-sized scenario; every field maps to a simulator scenario knob of the same meaning. */
export interface CalibrationScenario {
  /** Miners (the simulator's --miners); one validator is the gateway. */
  miners?: number;
  hours?: number;
  k?: number;
  m?: number;
  /** Share of miners deregistered (and replaced) per hour. */
  churnPerHour?: number;
  files?: number;
  fileBytes?: number;
  repair?: boolean;
  repairBandwidth?: number;
  offlineGraceSeconds?: number;
  /** Any other model setting (outages, operator failures, …), off by default here. */
  extra?: DurabilityConfigInput;
}

/** The model's configuration for a calibration scenario (defaults: 20 miners, 4 h, (4, 2), 5%/h churn). */
export function calibrationConfig(scenario: CalibrationScenario = {}): DurabilityConfigInput {
  const miners = scenario.miners ?? 20;
  const churnPerHour = scenario.churnPerHour ?? 0.05;
  return {
    uids: miners + 1,
    validators: 1,
    // One miner per operator: the simulator's miners have distinct coldkeys unless told otherwise.
    operatorSize: 1,
    days: (scenario.hours ?? 4) / 24,
    k: scenario.k ?? 4,
    m: scenario.m ?? 2,
    churnPerWeek: 1 - (1 - churnPerHour) ** 168,
    outagesPerWeek: 0,
    operatorFailuresPerYear: 0,
    files: [{ count: scenario.files ?? 50, bytes: scenario.fileBytes ?? 4 << 20 }],
    repair: scenario.repair ?? true,
    repairBandwidth: scenario.repairBandwidth ?? 16 << 20,
    offlineGraceSeconds: scenario.offlineGraceSeconds ?? 600,
    ...scenario.extra,
  };
}

/** Means over seeds of the figures the full simulator also reports. */
export interface CalibrationFigures {
  runs: number;
  departures: number;
  piecesLost: number;
  stripesLost: number;
  filesLost: number;
  repairs: number;
  repairBytes: number;
  meanRepairSeconds: number;
  peakAtRisk: number;
}

/**
 * Runs the model on a calibration scenario over seeds 1..`seeds` and returns the means.
 *
 * @example runCalibration({ miners: 20, hours: 4, churnPerHour: 0.05 }).filesLost
 */
export function runCalibration(scenario: CalibrationScenario = {}, seeds = 20): CalibrationFigures {
  const base = calibrationConfig(scenario);
  const results: DurabilityResult[] = [];
  for (let seed = 1; seed <= seeds; seed++) results.push(runDurability({ ...base, seed }));
  const mean = (key: keyof CalibrationFigures & keyof DurabilityResult) =>
    results.reduce((sum, r) => sum + (r[key] as number), 0) / results.length;
  return {
    runs: results.length,
    departures: mean("departures"),
    piecesLost: mean("piecesLost"),
    stripesLost: mean("stripesLost"),
    filesLost: mean("filesLost"),
    repairs: mean("repairs"),
    repairBytes: mean("repairBytes"),
    meanRepairSeconds: mean("meanRepairSeconds"),
    peakAtRisk: mean("peakAtRisk"),
  };
}

/** Model seconds per simulator tempo: see {@link modelCohortsOfScenario}. */
export const MODEL_TEMPO_SECONDS = 86_400;

/** Model seconds a run goes on past its last repair pass, for the pass to finish. */
const PASS_SECONDS = 60;

/** One upload cohort of a full-simulator scenario as a model run: files put at one tempo. */
export interface ModelCohort {
  /** The tempo the files were put (after that tempo's repair pass). */
  tempo: number;
  files: number;
  /** The model's configuration, without a seed; undefined when no departure can reach the files. */
  config: DurabilityConfigInput | undefined;
}

/** The full simulator's scenario fields the mapping reads (a subset of sim/scenario.ts's Scenario). */
export interface SimStorageScenario {
  miners: number;
  tempo: number;
  tempos: number;
  storage: {
    clients: number;
    uploadsPerTempo: number;
    smallMinBytes: number;
    smallMaxBytes: number;
    largeShare: number;
    dataShards: number;
    parityShards: number;
    repair: boolean;
    repairBandwidth: number;
    offlineGraceTempos: number;
    blockSeconds: number;
    churnPerTempo: number;
    churnFromTempo: number;
  };
}

/**
 * Maps a full-simulator storage scenario to model runs, one per upload cohort. The simulator puts
 * files every tempo while the model stores every file from time 0, so each tempo's puts are their
 * own model run over the tempos after them; the figures compared (pieces lost and rebuilt, files
 * lost and at risk) are sums over files, so the cohorts' means add up. The timeline of a simulator
 * tempo t: miners leave (churn), the gateway's repair pass, then the puts. A departure at tempo t
 * is noticed at the pass of t + 1 (the replacement registers then and prunes the uid; the offline
 * grace, one tempo, expires at the same pass), so the model's `departureNoticeSeconds` is one
 * tempo and its passes run once a tempo. Cohort u sees the departures of tempos u + 1..T: the
 * model's interval j ↔ tempo u + j, and its pass at time j ↔ the simulator's pass of tempo u + j.
 *
 * The model's churn is Poisson (exponential lifetimes) at the simulator's mean, where the
 * simulator's is a fixed count per tempo; its time is stretched to {@link MODEL_TEMPO_SECONDS} per
 * tempo (the simulator's 1–2 of 20 miners per 2-minute tempo is over 100% a week, which the
 * model's weekly churn share cannot express); repair bandwidth stays in seconds, so a pass of a few
 * dozen stripes takes seconds in both, and each run ends {@link PASS_SECONDS} after the last pass
 * so that pass's rebuilds count, as the simulator's pass finishes within its tempo. Files must be one
 * size that fills whole stripes (largeShare 0, smallMinBytes = smallMaxBytes), as the model has
 * no short stripes.
 */
export function modelCohortsOfScenario(scenario: SimStorageScenario): ModelCohort[] {
  const s = scenario.storage;
  if (s.largeShare !== 0 || s.smallMinBytes !== s.smallMaxBytes || s.churnPerTempo <= 0)
    throw new Error(
      "calibration needs one file size (largeShare 0, smallMinBytes = smallMaxBytes) and churn",
    );
  if (s.offlineGraceTempos > 1)
    throw new Error("calibration assumes a departure is noticed one tempo later (offlineGraceTempos ≤ 1)");
  const perMinerPerTempo = s.churnPerTempo / scenario.miners;
  const churnPerWeek = -Math.expm1((-perMinerPerTempo * 7 * 86_400) / MODEL_TEMPO_SECONDS);
  const filesPerTempo = s.clients * s.uploadsPerTempo;
  const cohorts: ModelCohort[] = [];
  for (let u = 1; u <= scenario.tempos; u++) {
    // Departures from tempo max(u + 1, churnFrom) to T; the last pass the model runs is tempo T's.
    const span = scenario.tempos - u;
    const firstChurn = Math.max(u + 1, s.churnFromTempo);
    const config: DurabilityConfigInput | undefined =
      firstChurn > scenario.tempos
        ? undefined
        : {
            uids: scenario.miners + 1,
            validators: 1,
            operatorSize: 1,
            days: (span * MODEL_TEMPO_SECONDS + PASS_SECONDS) / 86_400,
            k: s.dataShards,
            m: s.parityShards,
            files: [{ count: filesPerTempo, bytes: s.smallMinBytes }],
            repair: s.repair,
            repairBandwidth: s.repairBandwidth,
            repairIntervalSeconds: MODEL_TEMPO_SECONDS,
            departureNoticeSeconds: MODEL_TEMPO_SECONDS,
            offlineGraceSeconds: s.offlineGraceTempos * MODEL_TEMPO_SECONDS,
            churnPerWeek,
            outagesPerWeek: 0,
            operatorFailuresPerYear: 0,
          };
    cohorts.push({ tempo: u, files: filesPerTempo, config });
  }
  return cohorts;
}

/** The model's means over seeds of what the simulator's files.csv reports, summed over cohorts. */
export interface ScenarioCalibrationFigures {
  runs: number;
  files: number;
  piecesLost: number;
  piecesRepaired: number;
  filesLost: number;
  filesAtRisk: number;
}

/**
 * Runs a full-simulator storage scenario through the model ({@link modelCohortsOfScenario}) over
 * seeds 1..`seeds`; returns the mean totals at the end of the run.
 *
 * @example runScenarioCalibration(parseScenario(json), 200).filesLost
 */
export function runScenarioCalibration(
  scenario: SimStorageScenario,
  seeds = 100,
): ScenarioCalibrationFigures {
  const figures: ScenarioCalibrationFigures = {
    runs: seeds,
    files: 0,
    piecesLost: 0,
    piecesRepaired: 0,
    filesLost: 0,
    filesAtRisk: 0,
  };
  for (const cohort of modelCohortsOfScenario(scenario)) {
    figures.files += cohort.files;
    if (!cohort.config) continue;
    for (let seed = 1; seed <= seeds; seed++) {
      // Cohorts draw from their own seeds: the simulator's cohorts share one run's departures, but
      // the means compared are sums, which do not depend on that correlation.
      const r = runDurability({ ...cohort.config, seed: seed * 1_000 + cohort.tempo });
      figures.piecesLost += r.piecesLost / seeds;
      figures.piecesRepaired += r.piecesRepaired / seeds;
      figures.filesLost += r.filesLostAtEnd / seeds;
      figures.filesAtRisk += r.filesAtRiskAtEnd / seeds;
    }
  }
  return figures;
}
