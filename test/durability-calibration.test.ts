/**
 * The durability model's mapping of a full-simulator storage scenario (sim/durability/
 * calibration.ts) and the knob the mapping needs (departureNoticeSeconds). The full simulator's
 * side of the calibration is not run here: the checked-in calibration scenarios take about four
 * minutes each on a busy two-core machine, and one seeded run is too noisy for a tight bound (the
 * README's "Calibration against the full simulator" table has the measured figures).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  MODEL_TEMPO_SECONDS,
  modelCohortsOfScenario,
  runScenarioCalibration,
} from "../sim/durability/calibration.js";
import { runDurability } from "../sim/durability/run-durability.js";
import { parseScenario } from "../sim/scenario.js";

const scenario = (name: string, repair: boolean) => {
  const input = JSON.parse(
    readFileSync(join(import.meta.dirname, "..", "sim", "scenarios", `${name}.json`), "utf8"),
  );
  input.storage.repair = repair;
  return parseScenario(input);
};

const base = {
  uids: 21,
  validators: 1,
  operatorSize: 1,
  k: 4,
  m: 2,
  days: 10,
  churnPerWeek: 0.3,
  outagesPerWeek: 0,
  operatorFailuresPerYear: 0,
  files: [{ count: 40, bytes: 4 << 20 }],
  repair: false,
};

describe("departure notice", () => {
  it("delays when the gateway counts a departed miner's pieces lost, not which files are gone", () => {
    for (let seed = 1; seed <= 5; seed++) {
      const now = runDurability({ ...base, seed });
      const later = runDurability({ ...base, seed, departureNoticeSeconds: 86_400 });
      expect(later.departures).toBe(now.departures);
      expect(later.piecesLost).toBeLessThanOrEqual(now.piecesLost);
      expect(later.filesLost).toBeLessThanOrEqual(now.filesLost);
      // At the end, unnoticed departures count as gone, as the simulator measures it.
      expect(later.filesLostAtEnd).toBe(now.filesLost);
      expect(now.filesLostAtEnd).toBe(now.filesLost);
    }
  });
});

describe("full-simulator scenario mapping", () => {
  it("runs one cohort per tempo of puts, over the tempos after it", () => {
    const s = scenario("durability-calibration", true);
    const cohorts = modelCohortsOfScenario(s);
    expect(cohorts).toHaveLength(s.tempos);
    expect(cohorts[0]?.config?.days).toBeCloseTo(((s.tempos - 1) * MODEL_TEMPO_SECONDS) / 86_400, 2);
    expect(cohorts.at(-1)?.config).toBeUndefined();
    expect(cohorts.reduce((a, c) => a + c.files, 0)).toBe(40);
  });

  it("loses files without repair and rebuilds what departures take with it", () => {
    const on = runScenarioCalibration(scenario("durability-calibration", true), 50);
    const off = runScenarioCalibration(scenario("durability-calibration", false), 50);
    expect(on.piecesRepaired).toBeGreaterThan(0.9 * on.piecesLost);
    expect(off.piecesRepaired).toBe(0);
    expect(off.filesLost).toBeGreaterThan(4 * on.filesLost);
  });

  it("refuses a file-size mix the model cannot mirror", () => {
    const s = scenario("durability-calibration", true);
    expect(() => modelCohortsOfScenario({ ...s, storage: { ...s.storage, largeShare: 0.1 } })).toThrow();
  });
});
