/**
 * The simulator's storage workload on the real parts (dev chain, libp2p miners, the validator's
 * storage service and gateway over HTTP, the typed client): miners leave for good in pairs, two
 * tempos apart, and are replaced by new registrations. With k' = 1 (single-leaf files) and m = 2
 * a stripe has 3 pieces: repair rebuilds the two a pair takes before the next pair leaves, so
 * every file survives; with repair off, six of the eight first miners gone leave stripes with no
 * piece at all.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createRunWriter, summarize } from "../sim/report.js";
import { parseScenario, type ScenarioInput } from "../sim/scenario.js";
import { runSimulation, type SimResult } from "../sim/simulator.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function churnScenario(repair: boolean) {
  const input: ScenarioInput = {
    name: `pairs-leave-repair-${repair ? "on" : "off"}`,
    miners: 8,
    validatorStakes: [1000],
    tempos: 6,
    adversaries: {},
    events: [
      { tempo: 2, miners: [0, 1], action: "leave" },
      { tempo: 4, miners: [2, 3], action: "leave" },
      { tempo: 6, miners: [4, 5], action: "leave" },
    ],
    storage: {
      enabled: true,
      clients: 1,
      uploadsPerTempo: 4,
      readsPerTempo: 3,
      largeShare: 0,
      dataShards: 2,
      parityShards: 2,
      repair,
      offlineGraceTempos: 1,
    },
  };
  return parseScenario(input);
}

async function run(repair: boolean): Promise<{ dir: string; result: SimResult }> {
  const scenario = churnScenario(repair);
  const dir = mkdtempSync(join(tmpdir(), "sim-storage-"));
  dirs.push(dir);
  const result = await runSimulation({ scenario, outDir: dir, writer: createRunWriter(dir, scenario) });
  return { dir, result };
}

describe("miners leaving for good", () => {
  it("keeps every file when repair rebuilds the lost pieces", async () => {
    const { dir, result } = await run(true);
    const rows = result.tempos.map((t) => t.files!);
    expect(rows).toHaveLength(6);
    expect(rows.every((r) => r.lost === 0)).toBe(true);
    expect(rows.at(-1)!.files).toBe(24);
    expect(rows.reduce((a, r) => a + r.piecesRepaired, 0)).toBeGreaterThan(0);
    const summary = summarize(result.scenario, result.tempos, false, result.reads);
    expect(summary.storage?.lost).toBe(0);
    expect(summary.storage?.availability).toBe(1);
    expect(summary.storage?.repairBytes).toBeGreaterThan(0);
    // Time to repair, in tempos, after the columns files.csv had before.
    const [header, ...lines] = readFileSync(join(dir, "files.csv"), "utf8").trim().split("\n");
    expect(header!.split(",").slice(-3)).toEqual([
      "miner_emission",
      "repair_tempos_mean",
      "repair_tempos_max",
    ]);
    expect(lines).toHaveLength(6);
    for (const r of rows) {
      expect(r.repairTemposMax).toBeGreaterThanOrEqual(r.repairTemposMean);
      if (r.piecesRepaired === 0) expect(r.repairTemposMax).toBe(0);
    }
    const waited = summary.storage!;
    expect(waited.repairTemposMean).toBeGreaterThanOrEqual(0);
    expect(waited.repairTemposMax).toBe(Math.max(...rows.map((r) => r.repairTemposMax)));
    // The departed miners were pruned: the replacements hold their uids, all honest.
    const last = result.tempos.at(-1)!;
    expect(last.metagraph.filter((r) => r.role === "miner")).toHaveLength(8);
  }, 60_000);

  it("loses files once more than m pieces of a stripe are gone, with repair off", async () => {
    const { result } = await run(false);
    const rows = result.tempos.map((t) => t.files!);
    expect(rows.every((r) => r.piecesRepaired === 0)).toBe(true);
    expect(rows.every((r) => r.repairTemposMean === 0 && r.repairTemposMax === 0)).toBe(true);
    // Nothing can be lost before a third miner of some stripe left (tempo 4 at the earliest).
    expect(rows[0]!.lost + rows[1]!.lost + rows[2]!.lost).toBe(0);
    expect(rows.at(-1)!.lost).toBeGreaterThan(0);
  }, 60_000);
});
