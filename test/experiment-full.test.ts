/**
 * Full-mode sweeps: a sweep over a storage knob runs each point with the whole simulator (dev
 * chain, libp2p miners, the storage gateway and its clients) and writes one results.csv row per
 * point with the storage columns; a storage knob the simulator does not have, or a value it
 * refuses, is one line and exit code 2 from `npm run experiment` (node dist/scripts/experiment.js).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  ExperimentError,
  loadSweep,
  MAX_FULL_POINTS,
  parseCsv,
  parseSweep,
  runSweep,
  sweepPoints,
} from "../sim/experiment.js";
import { FULL_METRICS, FULL_TIMINGS } from "../sim/full-point.js";

const root = new URL("../", import.meta.url).pathname;
const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "experiment-full-"));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Two points of a few seconds each: 5 miners (one refusing reads), one validator, 2 tempos. */
const tinySweep = {
  name: "tiny storage sweep",
  base: {
    miners: 5,
    validatorStakes: [1000],
    tempos: 2,
    adversaries: { "refuse-reads": 1 },
    storage: { clients: 1, uploadsPerTempo: 2, readsPerTempo: 3, largeShare: 0, parityShards: 1 },
  },
  parameters: { k: [1, 2] },
  seeds: [7],
};

function experiment(sweep: unknown): { status: number | null; lines: string[] } {
  const dir = tempDir();
  const file = join(dir, "sweep.json");
  writeFileSync(file, JSON.stringify(sweep));
  const run = spawnSync(process.execPath, [join(root, "dist/scripts/experiment.js"), file, "--out", dir], {
    cwd: root,
    encoding: "utf8",
    timeout: 30_000,
  });
  return { status: run.status, lines: run.stderr.trim().split("\n") };
}

describe("full-mode sweep files", () => {
  it("run a storage knob with the full simulator, saying so in one line", () => {
    const sweep = parseSweep(tinySweep);
    expect(sweep.mode).toBe("full");
    expect(sweep.notice).toMatch(/fast mode models no user storage: k runs with the full simulator/);
    // k is storage.dataShards; the workload is on without the base asking.
    const config = sweepPoints(sweep)[1]?.config as { storage: { dataShards: number; enabled: boolean } };
    expect(config.storage).toMatchObject({ dataShards: 2, enabled: true });
    expect(sweep.columns.slice(0, FULL_METRICS.length)).toEqual([...FULL_METRICS]);
    expect(sweep.columns).toContain("share.refuse-reads");
    expect(sweep.columns).toContain("perMinerVsHonest.refuse-reads");
    expect(sweep.tradeoffs).toContainEqual(["overhead", "lost"]);
  });

  it("refuse a storage knob in fast mode, an unknown knob, and more than MAX_FULL_POINTS points", () => {
    expect(() => parseSweep({ ...tinySweep, mode: "fast" })).toThrow(/the fast mode models no user storage/);
    expect(() => parseSweep({ ...tinySweep, parameters: { "storage.nope": [1] } })).toThrow(ExperimentError);
    // The repair threshold is a gateway setting (api.repair_threshold), swept like the others.
    expect(() => parseSweep({ ...tinySweep, parameters: { repairThreshold: [0, 1] } })).not.toThrow();
    const values = Array.from({ length: MAX_FULL_POINTS + 1 }, (_, i) => i + 1);
    expect(() => parseSweep({ ...tinySweep, parameters: { "storage.readsPerTempo": values } })).toThrow(
      new RegExp(`at most ${MAX_FULL_POINTS} points`),
    );
    expect(() =>
      parseSweep({ ...tinySweep, parameters: { "storage.readsPerTempo": values.slice(0, MAX_FULL_POINTS) } }),
    ).not.toThrow();
  });

  it("loads the shipped storage sweep", () => {
    const sweep = loadSweep(join(root, "sim", "experiments", "storage-sweep.json"));
    expect(sweep.mode).toBe("full");
    expect(sweepPoints(sweep).length).toBeLessThanOrEqual(MAX_FULL_POINTS);
  });

  it.each([
    [{ "storage.nope": [1, 2] }, /parameter "storage\.nope": not a simulator scenario setting/],
    [{ repairThreshold: [-1] }, /point repairThreshold=-1 seed=7: storage\.repairThreshold: /],
    [{ k: [0] }, /point k=0 seed=7: storage\.dataShards: /],
    [{ m: ["two"] }, /point m=two seed=7: storage\.parityShards: /],
  ])("npm run experiment with %j exits 2 with one line", (parameters, pattern) => {
    if (!existsSync(join(root, "dist/scripts/experiment.js"))) throw new Error("run `npm run build` first");
    const { status, lines } = experiment({ ...tinySweep, parameters });
    expect(status).toBe(2);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(pattern);
  });
});

describe("a full-mode sweep run", () => {
  it("writes one row per point with the storage columns, the same bytes for the same seed", async () => {
    const sweep = parseSweep(tinySweep);
    const out = tempDir();
    const summary = await runSweep(sweep, { outDir: out });
    expect(summary).toMatchObject({ points: 2, ran: 2, aborted: false });
    const rows = parseCsv(readFileSync(summary.csvPath, "utf8"));
    const header = rows[0] as string[];
    expect(header.slice(0, 2)).toEqual(["k", "seed"]);
    expect(rows).toHaveLength(3);
    const cell = (row: string[], name: string) => Number(row[header.indexOf(name)]);
    for (const [i, row] of rows.slice(1).entries()) {
      expect(row).toHaveLength(header.length);
      expect(row[0]).toBe(String(i + 1));
      expect(cell(row, "files")).toBeGreaterThan(0);
      expect(cell(row, "lost")).toBe(0);
      expect(cell(row, "overhead")).toBeGreaterThan(1);
      expect(cell(row, "availability")).toBeGreaterThanOrEqual(0);
      expect(cell(row, "honestShare") + cell(row, "share.refuse-reads")).toBeCloseTo(1, 6);
    }
    // Wall-clock figures stay out of results.csv.
    for (const t of FULL_TIMINGS) expect(header).not.toContain(t);
    const timings = parseCsv(readFileSync(join(out, "timings.csv"), "utf8"));
    expect(timings[0]).toEqual(["k", "seed", ...FULL_TIMINGS]);
    expect(timings).toHaveLength(3);
    // Each point's run stays, without its nodes' databases.
    expect(existsSync(join(out, "points", "0", "files.csv"))).toBe(true);
    expect(existsSync(join(out, "points", "0", "nodes"))).toBe(false);
    const html = readFileSync(summary.htmlPath, "utf8");
    expect(html).toContain("lost against overhead");
    expect(html).toContain("retrievalP99Ms");

    // The same seed and scenario again (the first point only, to keep the test short): the same line.
    const again = tempDir();
    await runSweep(parseSweep({ ...tinySweep, parameters: { k: [1] } }), { outDir: again });
    const lines = (path: string) => readFileSync(path, "utf8").split("\n");
    expect(lines(join(again, "results.csv")).slice(0, 2)).toEqual(lines(summary.csvPath).slice(0, 2));
  }, 90_000);
});
