/**
 * Seeded byte-identity with the storage workload under load: two runs of one seed, at the same
 * time in one process (each slows the other, as on a busy CI host), with what made runs differ
 * before — a lazy miner whose missing pieces reads and repair find, and files of several leaves
 * per stripe, whose blocks a client fetching ahead asked the gateway for all at once. Every CSV
 * must match byte for byte. (test/sim.test.ts's identity check runs one run after the other and
 * no storage workload; test/sim-storage-reads.test.ts's compares files.csv alone, with one
 * single-leaf file per stripe and no lazy miner.)
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createRunWriter } from "../sim/report.js";
import { parseScenario } from "../sim/scenario.js";
import { runSimulation } from "../sim/simulator.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const scenario = parseScenario({
  name: "storage-determinism",
  // Three honest miners are fewer than a stripe's four pieces: the lazy ones get user pieces too.
  miners: 5,
  validatorStakes: [1000],
  tempos: 4,
  adversaries: { lazy: 2 },
  storage: {
    enabled: true,
    clients: 1,
    uploadsPerTempo: 2,
    readsPerTempo: 8,
    popularitySkew: 0,
    // Two to four leaves a file: a stripe of two data leaves, read leaf by leaf.
    smallMinBytes: 1_500_000,
    smallMaxBytes: 3_500_000,
    largeShare: 0,
    dataShards: 2,
    parityShards: 2,
    minerFreeChunks: 32,
  },
});

async function run(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "sim-storage-determinism-"));
  dirs.push(dir);
  const result = await runSimulation({ scenario, outDir: dir, writer: createRunWriter(dir, scenario) });
  expect(result.aborted).toBe(false);
  return dir;
}

describe("two runs of one seed at once, with a lazy miner and multi-leaf stripes", () => {
  it("write byte-identical CSV files", async () => {
    const [a, b] = await Promise.all([run(), run()]);
    const files = readFileSync(join(a, "files.csv"), "utf8").trim().split("\n");
    expect(files).toHaveLength(scenario.tempos + 1);
    for (const file of ["files.csv", "challenges.csv", "scores.csv", "metagraph.csv"]) {
      const left = readFileSync(join(a, file));
      expect(left.length).toBeGreaterThan(0);
      expect(left.equals(readFileSync(join(b, file))), file).toBe(true);
    }
  }, 90_000);
});
