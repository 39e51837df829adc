import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import {
  csvHeader,
  ExperimentError,
  ExperimentResumeError,
  loadSweep,
  parseCsv,
  parseSweep,
  runSweep,
  sweepPoints,
} from "../sim/experiment.js";
import { BASE_METRICS } from "../sim/fast/metrics.js";

const sweepFile = {
  name: "test sweep",
  base: {
    tempos: 6,
    tempo: 20,
    miners: [
      { behaviour: "honest", count: 12 },
      { behaviour: "lazy", count: 3, keep: 0.5 },
    ],
    validators: [
      { behaviour: "honest", count: 2, stake: 100 },
      { behaviour: "copier", count: 1, stake: 50 },
    ],
  },
  parameters: {
    "hyperparameters.kappa": [16384, 32767, 49151],
    "miners.1.keep": [0.5, 0.9],
  },
  seeds: [1, 2],
  metrics: ["honestShare", "share.lazy", "detect.lazy"],
};

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "experiment-test-"));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function dataRows(csvPath: string): string[][] {
  return parseCsv(readFileSync(csvPath, "utf8")).slice(1);
}

describe("sweep files", () => {
  it("expands the grid: every combination of values, each with every seed", () => {
    const sweep = parseSweep(sweepFile);
    const points = sweepPoints(sweep);
    expect(points.length).toBe(3 * 2 * 2);
    expect(points[0]?.values).toEqual([16384, 0.5]);
    expect(points[1]?.seed).toBe(2);
    const config = points[11]?.config as {
      seed: number;
      hyperparameters: { kappa: number };
      miners: { keep?: number }[];
    };
    expect(config.seed).toBe(2);
    expect(config.hyperparameters.kappa).toBe(49151);
    expect(config.miners[1]?.keep).toBe(0.9);
    // The base is not mutated by the points.
    expect((sweep.base as { miners: { keep: number }[] }).miners[1]?.keep).toBe(0.5);
  });

  it("rejects unknown metrics, bad paths and invalid point configs with ExperimentError", () => {
    expect(() => parseSweep({ ...sweepFile, metrics: ["nope"] })).toThrow(ExperimentError);
    expect(() => parseSweep({ ...sweepFile, parameters: { "miners.7.keep": [1] } })).toThrow(ExperimentError);
    expect(() => parseSweep({ ...sweepFile, parameters: { "miners.1.keep": [2] } })).toThrow(ExperimentError);
    expect(() => parseSweep({ ...sweepFile, parameters: { seed: [1] } })).toThrow(ExperimentError);
  });

  it("loads the shipped experiments", () => {
    for (const file of ["copier-bonds.json", "lazy-penalty.json"]) {
      const sweep = loadSweep(join(import.meta.dirname, "..", "sim", "experiments", file));
      expect(sweep.parameters.length).toBeGreaterThan(0);
      expect(sweepPoints(sweep).length).toBeGreaterThan(10);
    }
  });

  it("reads a base config from a file next to the sweep", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "base.json"), JSON.stringify(sweepFile.base));
    writeFileSync(join(dir, "sweep.json"), JSON.stringify({ ...sweepFile, base: "base.json" }));
    expect(sweepPoints(loadSweep(join(dir, "sweep.json"))).length).toBe(12);
  });
});

describe("runSweep", () => {
  it("writes the CSV columns: parameters, seed, then every metric, one row per point", async () => {
    const sweep = parseSweep(sweepFile);
    const out = tempDir();
    const summary = await runSweep(sweep, { outDir: out, workers: 0 });
    const rows = parseCsv(readFileSync(summary.csvPath, "utf8"));
    expect(rows[0]).toEqual(csvHeader(sweep));
    expect(rows[0]?.slice(0, 3)).toEqual(["hyperparameters.kappa", "miners.1.keep", "seed"]);
    expect(rows[0]?.slice(3, 3 + BASE_METRICS.length)).toEqual([...BASE_METRICS]);
    expect(rows[0]).toContain("share.lazy");
    expect(rows.length).toBe(1 + 12);
    for (const row of rows.slice(1)) {
      expect(row.length).toBe(rows[0]?.length);
      const share = Number(row[rows[0]?.indexOf("honestShare") ?? -1]);
      expect(share).toBeGreaterThan(0);
      expect(share).toBeLessThanOrEqual(1);
    }
    const html = readFileSync(summary.htmlPath, "utf8");
    expect(html.match(/<svg /g)?.length).toBe(3);
    expect(html).toContain("hyperparameters.kappa");
  });

  it("resumes after an interruption without running or writing any point twice", async () => {
    const sweep = parseSweep(sweepFile);
    const out = tempDir();
    const controller = new AbortController();
    const first = await runSweep(sweep, {
      outDir: out,
      workers: 0,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.done === 5) controller.abort();
      },
    });
    expect(first.aborted).toBe(true);
    expect(first.ran).toBe(5);
    expect(dataRows(first.csvPath).length).toBe(5);
    // A crash mid-write leaves half a line behind.
    appendFileSync(first.csvPath, "49151,0.9,2,0.8");

    const seen: number[] = [];
    const second = await runSweep(sweep, {
      outDir: out,
      workers: 0,
      resume: true,
      onProgress: (p) => seen.push(p.point.index),
    });
    expect(second.skipped).toBe(5);
    expect(second.ran).toBe(7);
    expect(second.aborted).toBe(false);
    const rows = dataRows(second.csvPath);
    expect(rows.length).toBe(12);
    const keys = rows.map((r) => r.slice(0, 3).join(","));
    expect(new Set(keys).size).toBe(12);
    expect(seen.every((i) => i >= 5)).toBe(true);

    // Resuming a finished sweep runs nothing.
    const third = await runSweep(sweep, { outDir: out, workers: 0, resume: true });
    expect(third.ran).toBe(0);
    expect(dataRows(third.csvPath).length).toBe(12);
  });

  it("gives the same rows resumed as in one go", async () => {
    const sweep = parseSweep({ ...sweepFile, parameters: { "hyperparameters.kappa": [16384, 49151] } });
    const once = tempDir();
    await runSweep(sweep, { outDir: once, workers: 0 });
    const twice = tempDir();
    const controller = new AbortController();
    await runSweep(sweep, {
      outDir: twice,
      workers: 0,
      signal: controller.signal,
      onProgress: (p) => p.done === 2 && controller.abort(),
    });
    await runSweep(sweep, { outDir: twice, workers: 0, resume: true });
    const sorted = (dir: string) =>
      dataRows(join(dir, "results.csv"))
        .map((r) => r.join(","))
        .sort();
    expect(sorted(twice)).toEqual(sorted(once));
  });

  it("refuses to resume into a CSV of another sweep", async () => {
    const out = tempDir();
    writeFileSync(join(out, "results.csv"), "a,b,c\n1,2,3\n");
    await expect(
      runSweep(parseSweep(sweepFile), { outDir: out, workers: 0, resume: true }),
    ).rejects.toBeInstanceOf(ExperimentResumeError);
  });

  const workerJs = join(import.meta.dirname, "..", "dist", "sim", "fast", "sweep-worker.js");
  // Workers load compiled code; `npm test` builds dist/ first (pretest), so this runs there.
  it.skipIf(!existsSync(workerJs))(
    "runs points on worker threads with the same results as in-thread",
    async () => {
      const sweep = parseSweep(sweepFile);
      const inThread = tempDir();
      await runSweep(sweep, { outDir: inThread, workers: 0 });
      const threaded = tempDir();
      const summary = await runSweep(sweep, {
        outDir: threaded,
        workers: 2,
        workerUrl: pathToFileURL(workerJs),
      });
      expect(summary.ran).toBe(12);
      const sorted = (dir: string) =>
        dataRows(join(dir, "results.csv"))
          .map((r) => r.join(","))
          .sort();
      expect(sorted(threaded)).toEqual(sorted(inThread));
    },
  );
});
