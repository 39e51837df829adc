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
