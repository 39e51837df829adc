/**
 * The simulator: scenario parsing and the summary maths as units, the command line's flag errors
 * through the built CLI, and the checked-in lazy scenario end to end on the real parts (dev chain,
 * libp2p, SQLite) — twice with the same seed, which must give byte-identical CSV files.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { churningSchedule, lazyValidator, offlineSchedule, weightCopier } from "../sim/adversaries.js";
import { renderHtmlReport } from "../sim/html-report.js";
import { seededBytes } from "../sim/nodes.js";
import { createRunWriter, pearson, type Summary, summarize, validatorAgreement } from "../sim/report.js";
import {
  assignBehaviours,
  assignValidatorBehaviours,
  parseAdversaries,
  parseScenario,
  ScenarioError,
} from "../sim/scenario.js";
import { runSimulation, type SimResult } from "../sim/simulator.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("scenario", () => {
  it("parses adversary lists and refuses unknown names and bad counts", () => {
    expect(parseAdversaries("lazy:2,corrupting:1,offline")).toEqual({ lazy: 2, corrupting: 1, offline: 1 });
    expect(parseAdversaries("")).toEqual({});
    expect(() => parseAdversaries("sneaky:1")).toThrow(ScenarioError);
    expect(() => parseAdversaries("lazy:x")).toThrow(ScenarioError);
    expect(() => parseAdversaries("lazy:1:2")).toThrow(ScenarioError);
  });

  it("fills defaults, names the bad field, and keeps one honest miner at least", () => {
    const s = parseScenario({});
    expect(s.miners).toBe(20);
    expect(s.validatorStakes).toEqual([1000, 500, 250]);
    expect(s.policy).toEqual({ name: "ema", params: { latencyWeight: 0 } });
    expect(() => parseScenario({ miners: 0 })).toThrow(/miners/);
    expect(() => parseScenario({ miners: 2, adversaries: { lazy: 2 } })).toThrow(/one honest miner/);
    expect(() => parseScenario({ miners: 2, events: [{ tempo: 1, miner: 5, action: "offline" }] })).toThrow(
      /miner 5/,
    );
    expect(() => parseScenario({ tempo: 4, validatorStakes: [1, 1, 1] })).toThrow(/tempo/);
    expect(() => parseScenario({ bogus: 1 })).toThrow(ScenarioError);
  });

  it("gives adversaries the last miner indices", () => {
    const s = parseScenario({ miners: 5, adversaries: { corrupting: 1, lazy: 2 } });
    expect(assignBehaviours(s)).toEqual(["honest", "honest", "lazy", "lazy", "corrupting"]);
  });

  it("gives validator adversaries the least staked validators, keeping one honest", () => {
    const s = parseScenario({
      validatorStakes: [4, 3, 2, 1],
      adversaries: { copier: 1, "lazy-validator": 1 },
    });
    expect(assignValidatorBehaviours(s)).toEqual(["honest", "honest", "copier", "lazy-validator"]);
    expect(assignBehaviours(s).every((b) => b === "honest")).toBe(true);
    expect(() => parseScenario({ validatorStakes: [1], adversaries: { copier: 1 } })).toThrow(
      /honest validator/,
    );
  });

  it("copies the last consensus, or draws seeded random weights, never weighting itself", () => {
    const graph = { n: 4, consensus: [0, 0, 65_535, 32_767] } as unknown as Parameters<
      ReturnType<typeof weightCopier>["weights"]
    >[0]["graph"];
    const input = { graph, self: 1, tempo: 3, minerUids: [1, 2, 3] };
    expect(weightCopier().weights(input)).toEqual([0, 0, 1, 32_767 / 65_535]);
    const lazy = lazyValidator({ seed: 5 }).weights(input);
    expect(lazy[1]).toBe(0);
    expect(lazy[2]).toBeGreaterThan(0);
    expect(lazyValidator({ seed: 5 }).weights(input)).toEqual(lazy);
    expect(lazyValidator({ seed: 5 }).weights({ ...input, tempo: 4 })).not.toEqual(lazy);
  });

  it("schedules offline and churning miners", () => {
    expect([1, 2, 3, 4].map(offlineSchedule(3))).toEqual([true, true, false, false]);
    expect([1, 2, 3, 4, 5].map(churningSchedule(2))).toEqual([true, true, false, false, true]);
  });

  it("derives every random byte from the seed", () => {
    expect(seededBytes(1, "a", 0, 40)).toEqual(seededBytes(1, "a", 0, 40));
    expect(seededBytes(1, "a", 0, 40)).not.toEqual(seededBytes(2, "a", 0, 40));
    expect(seededBytes(1, "a", 0, 40)).not.toEqual(seededBytes(1, "a", 1, 40));
  });
});

describe("report maths", () => {
  it("correlates weight rows", () => {
    expect(pearson([1, 2, 3], [2, 4, 6])).toBeCloseTo(1);
    expect(pearson([1, 2, 3], [3, 2, 1])).toBeCloseTo(-1);
    expect(pearson([1, 1, 1], [1, 2, 3])).toBeNull();
    expect(
      validatorAgreement([
        [1, 2, 3],
        [1, 2, 3],
        [3, 2, 1],
      ]),
    ).toBeCloseTo(-1 / 3);
    expect(validatorAgreement([[1, 2]])).toBeNull();
    expect(
      validatorAgreement([
        [5, 5],
        [7, 7],
        [0, 0],
      ]),
    ).toBe(1);
    expect(
      validatorAgreement([
        [5, 5],
        [1, 2],
      ]),
    ).toBe(0);
  });

  it("splits miner emission by behaviour and finds the detection tempo", () => {
    const scenario = parseScenario({ miners: 2, adversaries: { lazy: 1 }, detectionThreshold: 0.1 });
    const row = (tempo: number, uid: number, behaviour: string, incentive: number, emission: bigint) => ({
      tempo,
      block: tempo * 10,
      uid,
      hotkey: `h${uid}`,
      role: "miner" as const,
      behaviour,
      stake: 0n,
      incentive,
      emission,
      dividends: 0,
      consensus: 0,
      trust: null,
      validatorTrust: 0,
    });
    const records = [
      [0.5, 0.5, 50n, 50n],
      [0.95, 0.05, 95n, 5n],
      [1, 0, 100n, 0n],
    ].map(([hi, li, he, le], i) => ({
      tempo: i + 1,
      block: (i + 1) * 10,
      metagraph: [
        row(i + 1, 1, "honest", hi as number, he as bigint),
        row(i + 1, 2, "lazy", li as number, le as bigint),
      ],
      scores: [],
      challenges: [],
      weights: [],
      minerUids: [1, 2],
      validatorUids: [],
    }));
    const s: Summary = summarize(scenario, records, false);
    expect(s.emissionShare.lazy?.total).toBeCloseTo(55 / 300);
    expect(s.emissionShare.lazy?.last).toBe(0);
    expect(s.honestShareOfMinerEmission.last).toBe(1);
    expect(s.detections).toEqual([{ uid: 2, behaviour: "lazy", tempo: 2, finalIncentiveRatio: 0 }]);
    const html = renderHtmlReport(scenario, records, s);
    expect(html).toContain("<svg");
    expect(html).not.toMatch(/<script|https?:\/\//);
  });
});

describe("command line", () => {
  const cli = join(import.meta.dirname, "..", "dist", "sim", "cli.js");
  it.skipIf(!existsSync(cli))("refuses bad flags with one line and exit code 2", () => {
    for (const args of [
      ["--miners", "abc"],
      ["--adversaries", "sneaky:1"],
      ["--mode", "threads"],
      ["--nope"],
    ]) {
      const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", timeout: 30_000 });
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(/^sim: /);
    }
  });
});

describe("the lazy scenario end to end", () => {
  const scenarioFile = join(import.meta.dirname, "..", "sim", "scenarios", "lazy.json");
  const scenario = parseScenario({
    ...JSON.parse(readFileSync(scenarioFile, "utf8")),
    // Smaller than the checked-in file so the test stays well under a minute.
    miners: 6,
    tempos: 3,
  });
  const runs: { dir: string; result: SimResult }[] = [];

  async function run(): Promise<{ dir: string; result: SimResult }> {
    const dir = mkdtempSync(join(tmpdir(), "sim-test-"));
    dirs.push(dir);
    const writer = createRunWriter(dir, scenario);
    const result = await runSimulation({ scenario, outDir: dir, writer });
    return { dir, result };
  }

  it("pays the lazy miners under 5% of an honest miner's emission from the first tempo", async () => {
    runs.push(await run());
    const { result } = runs[0]!;
    expect(result.aborted).toBe(false);
    expect(result.tempos).toHaveLength(3);
    const summary = summarize(scenario, result.tempos, false);
    expect(summary.emissionShare.lazy?.miners).toBe(2);
    expect(summary.emissionShare.lazy?.perMinerVsHonest).toBeLessThan(0.05);
    expect(summary.honestShareOfMinerEmission.last).toBeGreaterThan(0.95);
    for (const d of summary.detections) {
      expect(d.behaviour).toBe("lazy");
      expect(d.tempo).not.toBeNull();
      expect(d.tempo as number).toBeLessThanOrEqual(2);
    }
    // Every honest miner passed every challenge; the lazy ones failed some.
    const honest = result.tempos.flatMap((t) => t.challenges.filter((c) => c.behaviour === "honest"));
    expect(honest.every((c) => c.fail === 0 && c.timeout === 0 && c.pass > 0)).toBe(true);
    const lazy = result.tempos.flatMap((t) => t.challenges.filter((c) => c.behaviour === "lazy"));
    expect(lazy.reduce((a, c) => a + c.fail, 0)).toBeGreaterThan(0);
  });

  it("writes byte-identical CSV files for the same seed", async () => {
    runs.push(await run());
    const [a, b] = runs;
    for (const file of [
      "metagraph.csv",
      "scores.csv",
      "challenges.csv",
      "metagraph.jsonl",
      "scenario.json",
    ]) {
      const left = readFileSync(join(a!.dir, file));
      expect(left.length).toBeGreaterThan(0);
      expect(left.equals(readFileSync(join(b!.dir, file))), file).toBe(true);
    }
  });
});

describe("validator permits", () => {
  it("keeps every validator's permit when the owner's accrued stake passes the smallest validator's", async () => {
    // The owner's hotkey (uid 0) accrues the owner cut as stake every block; the second validator's
    // 5 TAO is passed within the first tempos. The owner has a permit slot of its own.
    const scenario = parseScenario({ miners: 3, validatorStakes: [1000, 5], tempos: 3, adversaries: {} });
    const dir = mkdtempSync(join(tmpdir(), "sim-permits-"));
    dirs.push(dir);
    const result = await runSimulation({ scenario, outDir: dir, writer: createRunWriter(dir, scenario) });
    expect(result.aborted).toBe(false);
    const last = result.tempos.at(-1)?.metagraph ?? [];
    const owner = last.find((r) => r.role === "owner");
    const validators = last.filter((r) => r.role === "validator");
    expect(validators).toHaveLength(2);
    expect(Number(owner?.stake)).toBeGreaterThan(Math.min(...validators.map((v) => Number(v.stake))));
    for (const t of result.tempos)
      for (const v of t.metagraph.filter((r) => r.role === "validator"))
        expect(v.validatorTrust, `uid ${v.uid} in tempo ${t.tempo}`).toBeGreaterThan(0);
  }, 120_000);
});
