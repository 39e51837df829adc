/**
 * One point of a full-mode sweep (sim/experiment.ts): a whole simulator run (dev chain, libp2p
 * miners, validators, the storage gateway and its clients) and the numbers an experiment reports
 * from it. The fast mode (sim/fast/) models no user storage, so a sweep over the storage knobs —
 * k and m, repair, the offline grace, the scoring of retrieval serving, the challenge rate — runs
 * here instead: tens of seconds a point, so a handful of points, not a grid of hundreds.
 *
 * Metrics (results.csv: same seed and scenario → the same cells; see sim/simulator.ts):
 *
 * | name | meaning |
 * |---|---|
 * | files, userBytes, storedBytes | files kept at the end of the run, their bytes as put, and the bytes on miners for them |
 * | overhead | storedBytes / userBytes |
 * | lost, atRisk | files that no longer read back, and files one piece loss from it, at the end |
 * | lostShare | lost / files |
 * | availability | share of the run's gets that returned every byte, verified |
 * | gets, getsVerified, puts, putsFailed | the run's requests |
 * | piecesRepaired, piecesMarkedLost, repairBytes | what repair rebuilt, what the gateway marked lost, the bytes repair moved |
 * | repairPerStored | repairBytes / storedBytes |
 * | repairTemposMean, repairTemposMax | time to repair over the run, in tempos: mean over the pieces rebuilt and the longest (empty when none was) |
 * | honestShare, adversaryShare | honest and non-honest miners' share of all miner emission over the run |
 * | share.<behaviour> | a behaviour's share of miner emission |
 * | perMinerVsHonest.<behaviour> | an adversarial miner's emission over an honest miner's (1: earns as much) |
 *
 * Wall-clock figures (timings.csv, never results.csv): retrieval latency and time to first byte
 * p50/p99 in ms, and the point's wall time.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { ADVERSARY_NAMES } from "./adversaries.js";
import type { Scenario } from "./scenario.js";

/** The fixed metrics of a full-mode point, in CSV order; per-behaviour ones follow (see {@link fullMetricNames}). */
export const FULL_METRICS = [
  "files",
  "userBytes",
  "storedBytes",
  "overhead",
  "lost",
  "atRisk",
  "lostShare",
  "availability",
  "gets",
  "getsVerified",
  "puts",
  "putsFailed",
  "piecesRepaired",
  "piecesMarkedLost",
  "repairBytes",
  "repairPerStored",
  "repairTemposMean",
  "repairTemposMax",
  "honestShare",
  "adversaryShare",
] as const;

/** Wall-clock figures of a full-mode point: they differ from run to run, so timings.csv holds them. */
export const FULL_TIMINGS = [
  "retrievalP50Ms",
  "retrievalP99Ms",
  "firstByteP50Ms",
  "firstByteP99Ms",
  "wallSeconds",
] as const;

export type PointMetrics = Record<string, number | null>;

/** The adversarial miner behaviours of any of `scenarios`, in ADVERSARY_NAMES order. */
function adversaryBehaviours(scenarios: readonly Scenario[]): string[] {
  return ADVERSARY_NAMES.filter((name) => scenarios.some((s) => (s.adversaries[name] ?? 0) > 0));
}

/** Every metric column of a full-mode sweep whose points run `scenarios`, in CSV order. */
export function fullMetricNames(scenarios: readonly Scenario[]): string[] {
  const adversaries = adversaryBehaviours(scenarios);
  return [
    ...FULL_METRICS,
    "share.honest",
    ...adversaries.map((b) => `share.${b}`),
    ...adversaries.map((b) => `perMinerVsHonest.${b}`),
  ];
}

export interface FullPointResult {
  metrics: PointMetrics;
  timings: PointMetrics;
  /** The signal stopped the run before its last tempo: its numbers are not a result. */
  aborted: boolean;
}

/**
 * Runs `scenario` with the simulator in `outDir` (its CSV files, summary.json and report stay
 * there; the nodes' databases are removed afterwards) and returns the point's metrics.
 *
 * @example const { metrics } = await runFullPoint(parseScenario({ miners: 6, storage: { enabled: true } }), "out/p0")
 */
export async function runFullPoint(
  scenario: Scenario,
  outDir: string,
  signal?: AbortSignal,
): Promise<FullPointResult> {
  // Loaded on first use: a fast-mode sweep never starts a chain or a node.
  const { runSimulation } = await import("./simulator.js");
  const { createRunWriter, summarize, writeSummary } = await import("./report.js");
  const started = performance.now();
  const writer = createRunWriter(outDir, scenario);
  const result = await runSimulation({ scenario, outDir, writer, ...(signal ? { signal } : {}) });
  const summary = summarize(scenario, result.tempos, result.aborted, result.reads);
  writeSummary(outDir, summary, result.timings);
  rmSync(join(outDir, "nodes"), { recursive: true, force: true });

  const s = summary.storage;
  const ratio = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined || b === 0 ? null : a / b;
  const shares = summary.emissionShare;
  const honestShare = shares.honest?.total ?? 0;
  const metrics: PointMetrics = {
    files: s?.files ?? null,
    userBytes: s?.userBytes ?? null,
    storedBytes: s?.storedBytes ?? null,
    overhead: s?.overhead ?? null,
    lost: s?.lost ?? null,
    atRisk: s?.atRisk ?? null,
    lostShare: ratio(s?.lost, s?.files),
    availability: s?.availability ?? null,
    gets: s?.gets ?? null,
    getsVerified: s?.getsVerified ?? null,
    puts: s?.puts ?? null,
    putsFailed: s?.putsFailed ?? null,
    piecesRepaired: s?.piecesRepaired ?? null,
    piecesMarkedLost: s?.piecesMarkedLost ?? null,
    repairBytes: s?.repairBytes ?? null,
    repairPerStored: ratio(s?.repairBytes, s?.storedBytes),
    repairTemposMean: s?.repairTemposMean ?? null,
    repairTemposMax: s?.repairTemposMax ?? null,
    honestShare,
    adversaryShare: Object.entries(shares)
      .filter(([b]) => b !== "honest")
      .reduce((a, [, e]) => a + e.total, 0),
    "share.honest": honestShare,
  };
  for (const b of adversaryBehaviours([scenario])) {
    metrics[`share.${b}`] = shares[b]?.total ?? 0;
    metrics[`perMinerVsHonest.${b}`] = shares[b]?.perMinerVsHonest ?? null;
  }
  const timings: PointMetrics = {
    retrievalP50Ms: s?.latency.p50 ?? null,
    retrievalP99Ms: s?.latency.p99 ?? null,
    firstByteP50Ms: s?.latency.firstByteP50 ?? null,
    firstByteP99Ms: s?.latency.firstByteP99 ?? null,
    wallSeconds: Math.round((performance.now() - started) / 100) / 10,
  };
  return { metrics, timings, aborted: result.aborted };
}
