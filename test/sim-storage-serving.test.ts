/**
 * What paying for retrieval serving does, on the real parts: the same small scenario (one miner
 * of six answers every challenge but refuses user reads) run with the gateway scoring the pieces
 * it fetches (storage.scoreRetrievals, the default) and without. Unscored, the refuser is paid
 * like an honest miner; scored, it earns clearly less. The worked experiment at scale is
 * sim/experiments/retrieval-serving.json (README, "Worked experiment: does paying for serving stop
 * refuse-reads").
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createRunWriter, summarize } from "../sim/report.js";
import { parseScenario } from "../sim/scenario.js";
import { runSimulation } from "../sim/simulator.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The refuser's emission per miner over an honest miner's, and the run's availability. */
async function refuserVsHonest(scoreRetrievals: boolean): Promise<{ ratio: number; availability: number }> {
  const scenario = parseScenario({
    name: `serving-${scoreRetrievals ? "scored" : "unscored"}`,
    miners: 6,
    validatorStakes: [1000],
    tempos: 4,
    adversaries: { "refuse-reads": 1 },
    storage: {
      enabled: true,
      clients: 1,
      uploadsPerTempo: 4,
      readsPerTempo: 16,
      popularitySkew: 0,
      largeShare: 0,
      dataShards: 1,
      parityShards: 2,
      scoreRetrievals,
    },
  });
  const dir = mkdtempSync(join(tmpdir(), "sim-storage-serving-"));
  dirs.push(dir);
  const result = await runSimulation({ scenario, outDir: dir, writer: createRunWriter(dir, scenario) });
  const summary = summarize(scenario, result.tempos, false, result.reads);
  return {
    ratio: summary.emissionShare["refuse-reads"]?.perMinerVsHonest ?? Number.NaN,
    availability: summary.storage?.availability ?? Number.NaN,
  };
}

describe("scoring retrieval serving", () => {
  it("is what makes a miner that refuses reads earn less than an honest one", async () => {
    const unscored = await refuserVsHonest(false);
    const scored = await refuserVsHonest(true);
    // Each piece fetched still has two others to be rebuilt from: users get every file either way.
    expect(unscored.availability).toBe(1);
    expect(scored.availability).toBe(1);
    expect(unscored.ratio).toBeGreaterThan(0.9);
    expect(scored.ratio).toBeLessThan(unscored.ratio - 0.1);
  }, 90_000);
});
