/**
 * Sweeps of the durability model: a base configuration (config.ts), parameters to vary (every
 * combination is run: a grid) and seeds. Each run appends a row to `results.csv` as it finishes;
 * `report.html` charts the metrics with the fast mode's report (sim/experiment-report.ts). Points
 * whose configuration is impossible (a repair threshold r ≥ m, fewer miners than k + m) are
 * skipped and counted, so one grid can cover several m with the thresholds each allows.
 *
 * @example sweep file
 * {
 *   "name": "redundancy",
 *   "base": { "churnPerWeek": 0.02 },
 *   "parameters": { "m": [2, 4], "repairThreshold": [0, 1, 3] },
 *   "seeds": [1]
 * }
 */
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { z } from "zod";
import { readConfigFile } from "../config-file.js";
import { SimError } from "../errors.js";
import { parseCsv } from "../experiment.js";
import { renderReport } from "../experiment-report.js";
import { DurabilityConfigError, parseDurabilityConfig } from "./config.js";
import { type DurabilityResult, runDurability } from "./run-durability.js";

/** Every CSV column after the parameters and the seed, in order. */
export const DURABILITY_METRICS = [
  "overhead",
  "stripes",
  "userBytes",
  "storedBytes",
  "pieceLossPerYear",
  "departures",
  "piecesLost",
  "stripesLost",
  "filesLost",
  "repairs",
  "repairBytes",
  "repairPerStoredPerYear",
  "meanRepairSeconds",
  "maxRepairSeconds",
  "peakQueued",
  "expectedStripeLosses",
  "stripeLossPerYear",
  "fileLossPerYear",
  "observedFileLossPerYear",
  "observedFileLossHigh",
  "markovFileLossPerYear",
] as const satisfies ReadonlyArray<keyof DurabilityResult>;

const paramValue = z.union([z.number(), z.string(), z.boolean()]);

const durabilitySweepSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().default(""),
  /** The base durability config (config.ts); a parameter's value replaces the key it names. */
  base: z.record(z.string(), z.unknown()).default({}),
  /** Top-level config keys (`k`, `m`, `repairThreshold`, `churnPerWeek`, `repairBandwidth`, …) and their values. */
  parameters: z.record(z.string().min(1), z.array(paramValue).min(1)).default({}),
  seeds: z.array(z.number().int().gte(0).lte(0xffffffff)).min(1).default([1]),
  /** Metrics the report charts (default fileLossPerYear, repairPerStoredPerYear, overhead). */
  metrics: z.array(z.enum(DURABILITY_METRICS)).optional(),
});

export type DurabilitySweepFile = z.input<typeof durabilitySweepSchema>;

/** A validated sweep. */
export interface DurabilitySweep {
  name: string;
  description: string;
  base: Record<string, unknown>;
  parameters: Array<{ path: string; values: Array<number | string | boolean> }>;
  seeds: number[];
  charted: string[];
}

/** A durability sweep file is malformed. */
export class DurabilitySweepError extends SimError {
  override name = "DurabilitySweepError";
}

/** Validates a durability sweep (parsed JSON). Throws {@link DurabilitySweepError}. */
export function parseDurabilitySweep(input: unknown): DurabilitySweep {
  const parsed = durabilitySweepSchema.safeParse(input);
  if (!parsed.success) {
    throw new DurabilitySweepError(`invalid durability sweep: ${z.prettifyError(parsed.error)}`, {
      cause: parsed.error,
    });
  }
  const file = parsed.data;
  if ("seed" in file.parameters) throw new DurabilitySweepError(`sweep seeds with "seeds", not a parameter`);
  try {
    parseDurabilityConfig(file.base);
  } catch (err) {
    throw new DurabilitySweepError(`invalid base config: ${(err as Error).message}`, { cause: err });
  }
  return {
    name: file.name,
    description: file.description,
    base: file.base,
    parameters: Object.entries(file.parameters).map(([path, values]) => ({ path, values })),
    seeds: file.seeds,
    charted: file.metrics ?? ["fileLossPerYear", "repairPerStoredPerYear", "overhead"],
  };
}

/** Reads and validates a durability sweep file (JSON or YAML). */
export function loadDurabilitySweep(path: string): DurabilitySweep {
  let json: unknown;
  try {
    json = readConfigFile(path);
  } catch (err) {
    throw new DurabilitySweepError(`cannot read sweep file ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return parseDurabilitySweep(json);
}

/** One run of a sweep: its parameter values, seed and config. */
export interface DurabilityPoint {
  values: Array<number | string | boolean>;
  seed: number;
  config: Record<string, unknown>;
}

/** The grid (first parameter slowest), each combination with every seed. */
export function durabilityPoints(sweep: DurabilitySweep): DurabilityPoint[] {
  let combos: Array<Array<number | string | boolean>> = [[]];
  for (const { values } of sweep.parameters) combos = combos.flatMap((c) => values.map((v) => [...c, v]));
  return combos.flatMap((values) =>
    sweep.seeds.map((seed) => {
      const config: Record<string, unknown> = { ...structuredClone(sweep.base), seed };
      sweep.parameters.forEach((p, i) => {
        config[p.path] = values[i];
      });
      return { values, seed, config };
    }),
  );
}

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return "";
  const s = typeof value === "number" && !Number.isFinite(value) ? "" : String(value);
  return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export interface DurabilitySweepSummary {
  points: number;
  ran: number;
  /** Points whose configuration is impossible (e.g. r ≥ m). */
  skipped: number;
  csvPath: string;
  htmlPath: string;
  /** Wall-clock seconds of the slowest point (not in the CSV, which stays seed-deterministic). */
  slowestSeconds: number;
}

/**
 * Runs every point in this thread, appending to `<outDir>/results.csv`, then writes
 * `<outDir>/report.html`. `onPoint` reports progress.
 */
export async function runDurabilitySweep(
  sweep: DurabilitySweep,
  options: { outDir: string; onPoint?: (done: number, total: number) => void; signal?: AbortSignal },
): Promise<DurabilitySweepSummary> {
  mkdirSync(options.outDir, { recursive: true });
  const csvPath = join(options.outDir, "results.csv");
  const htmlPath = join(options.outDir, "report.html");
  const header = [...sweep.parameters.map((p) => p.path), "seed", ...DURABILITY_METRICS];
  writeFileSync(csvPath, `${header.join(",")}\n`);
  const points = durabilityPoints(sweep);
  let ran = 0;
  let skipped = 0;
  let slowest = 0;
  for (const [i, point] of points.entries()) {
    // Between points the event loop runs, so an abort (Ctrl-C) is seen.
    await yieldToLoop();
    if (options.signal?.aborted) break;
    let result: DurabilityResult;
    const started = performance.now();
    try {
      result = runDurability(point.config);
    } catch (err) {
      if (!(err instanceof DurabilityConfigError)) throw err;
      skipped++;
      options.onPoint?.(i + 1, points.length);
      continue;
    }
    slowest = Math.max(slowest, (performance.now() - started) / 1000);
    ran++;
    const row = [...point.values, point.seed, ...DURABILITY_METRICS.map((m) => result[m])];
    appendFileSync(csvPath, `${row.map(csvCell).join(",")}\n`);
    options.onPoint?.(i + 1, points.length);
  }
  writeFileSync(htmlPath, renderReport(sweep, parseCsv(readFileSync(csvPath, "utf8"))));
  return { points: points.length, ran, skipped, csvPath, htmlPath, slowestSeconds: slowest };
}

/**
 * A Markdown table of a sweep's results (means over seeds per parameter combination), cheapest
 * first: by overhead, then repair traffic. Marks the cheapest row whose rare-loss estimate is under
 * `target` yearly file loss, and the cheapest where the (pessimistic) Markov chain agrees.
 */
export function summariseDurabilitySweep(sweep: DurabilitySweep, csvText: string, target: number): string {
  const [header, ...rows] = parseCsv(csvText);
  if (header === undefined) return "";
  const col = (name: string) => header.indexOf(name);
  const params = sweep.parameters.map((p) => p.path);
  const groups = new Map<string, string[][]>();
  for (const row of rows) {
    if (row.length !== header.length) continue;
    const key = JSON.stringify(params.map((p) => row[col(p)]));
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  const mean = (group: string[][], name: string) =>
    group.reduce((sum, r) => sum + Number(r[col(name)]), 0) / group.length;
  const lines = [...groups.entries()].map(([key, group]) => ({
    values: JSON.parse(key) as string[],
    overhead: mean(group, "overhead"),
    repair: mean(group, "repairPerStoredPerYear"),
    loss: mean(group, "fileLossPerYear"),
    markov: mean(group, "markovFileLossPerYear"),
    lost: mean(group, "filesLost"),
    repairHours: mean(group, "meanRepairSeconds") / 3600,
  }));
  lines.sort((a, b) => a.overhead - b.overhead || a.repair - b.repair);
  const best = lines.find((l) => l.loss < target);
  const cautious = lines.find((l) => l.loss < target && l.markov < target);
  const fmt = (x: number) => (x === 0 ? "0" : x < 0.01 ? x.toExponential(1) : x.toPrecision(3));
  const out = [
    `| ${params.join(" | ")} | overhead | yearly file loss | Markov cross-check | files lost (run) | repair traffic / stored / year | mean repair (h) |`,
    `|${"---|".repeat(params.length + 6)}`,
    ...lines.map((l) => {
      const marks = [
        l === best ? "**← cheapest under target**" : "",
        l === cautious ? "**← cheapest with the Markov chain under target too**" : "",
      ].filter((x) => x !== "");
      const mark = marks.length > 0 ? ` ${marks.join(" ")}` : l.loss < target ? " ✓" : "";
      return `| ${l.values.join(" | ")} | ${l.overhead.toFixed(2)}× | ${fmt(l.loss)}${mark} | ${fmt(l.markov)} | ${fmt(l.lost)} | ${fmt(l.repair)} | ${fmt(l.repairHours)} |`;
    }),
  ];
  return out.join("\n");
}
