/**
 * Experiments: a sweep over fast-mode configurations (sim/fast/). A sweep file names a base
 * config, the parameters to vary and their values (every combination is run: a grid), the seeds,
 * and the metrics to chart. Points run on worker threads; each finished point is appended to
 * `results.csv` at once, so an interrupted sweep resumes where it stopped (`resume: true` skips
 * the points already in the CSV), and `report.html` charts every metric against the swept
 * parameter.
 *
 * The fast mode models no user storage. A sweep over a storage knob (a `storage.*` scenario
 * setting, or `k`, `m`, `scoreRetrievals`, `challengeRate`: see {@link FULL_MODE_ALIASES}) runs
 * each point with the full simulator instead (sim/full-point.ts): `"mode": "full"`, or chosen
 * by itself with a one-line {@link Sweep.notice}. Its base is a simulator scenario
 * (sim/scenario.ts), its points run one at a time (the simulator spreads the nodes over the
 * cores), at most {@link MAX_FULL_POINTS} of them, and the report adds scatter plots of
 * durability and availability against cost (`tradeoffs`). Wall-clock figures (retrieval
 * p50/p99) go to `timings.csv` and the report, never to `results.csv`.
 *
 * @example sweep file
 * {
 *   "name": "kappa",
 *   "base": { "tempos": 100, "miners": [{ "behaviour": "honest", "count": 64 }],
 *             "validators": [{ "behaviour": "honest", "count": 8, "stake": 1000 }] },
 *   "parameters": { "hyperparameters.kappa": [16384, 32767, 49151] },
 *   "seeds": [1, 2, 3],
 *   "metrics": ["honestShare", "validatorAgreement"]
 * }
 */

import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join, resolve } from "node:path";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { Worker } from "node:worker_threads";
import { z } from "zod";
import { readConfigFile } from "./config-file.js";
import { SimError } from "./errors.js";
import { renderReport } from "./experiment-report.js";
import { parseFastConfig } from "./fast/config.js";
import { computeMetrics, type FastMetrics, metricNames } from "./fast/metrics.js";
import { runFast } from "./fast/run-fast.js";
import type { SweepReply, SweepTask } from "./fast/sweep-worker.js";
import { FULL_TIMINGS, fullMetricNames, runFullPoint } from "./full-point.js";
import { parseScenario, type Scenario } from "./scenario.js";

const paramValue = z.union([z.number(), z.string(), z.boolean()]);

const sweepSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().default(""),
  /** The base fast-mode config, or a path to a JSON file holding one (relative to the sweep file). */
  base: z.union([z.record(z.string(), z.unknown()), z.string()]),
  /** Dotted paths into the config (`hyperparameters.kappa`, `miners.1.keep`) and their values. */
  parameters: z.record(z.string().min(1), z.array(paramValue).min(1)).default({}),
  /** Seeds each point runs with; or `repetitions` seeds 1..n. */
  seeds: z.array(z.number().int().gte(0).lte(0xffffffff)).min(1).optional(),
  repetitions: z.number().int().gte(1).optional(),
  /** Metrics to chart (default all); the CSV always holds every metric. */
  metrics: z.array(z.string()).optional(),
  /**
   * fast (sim/fast/) or full (the whole simulator, for the storage knobs). Left out: full when a
   * parameter is a storage knob, fast otherwise.
   */
  mode: z.enum(["fast", "full"]).optional(),
  /** Scatter plots of the report, [x, y] metric pairs (full mode default: {@link DEFAULT_TRADEOFFS}). */
  tradeoffs: z.array(z.tuple([z.string(), z.string()])).optional(),
});

export type SweepFile = z.input<typeof sweepSchema>;
type ParamValue = z.infer<typeof paramValue>;

/** A sweep, validated, with its base config resolved. */
export interface Sweep {
  name: string;
  description: string;
  base: Record<string, unknown>;
  /** `path` names the CSV column; `target` (default `path`) is where the value goes in the config. */
  parameters: Array<{ path: string; values: ParamValue[]; target?: string }>;
  seeds: number[];
  /** Every metric column, in CSV order. */
  columns: string[];
  /** Metrics the report charts. */
  charted: string[];
  mode: "fast" | "full";
  /** One line saying why the sweep runs in full mode when the file did not ask for it. */
  notice?: string;
  /** [x, y] metric pairs the report plots against each other (the cost of durability). */
  tradeoffs: Array<[string, string]>;
}

/** One run of a sweep: a combination of parameter values and a seed. */
export interface SweepPoint {
  index: number;
  values: ParamValue[];
  seed: number;
  config: unknown;
}

/**
 * Points a full-mode sweep may have: a full-simulator point takes tens of seconds (about 40 s at
 * 20 miners × 8 tempos on a 2-core machine), so 32 is already half an hour.
 */
export const MAX_FULL_POINTS = 32;

/**
 * Short names of storage knobs, as the durability model and the issue name them, and the
 * scenario setting each stands for in a full-mode sweep.
 */
export const FULL_MODE_ALIASES: Readonly<Record<string, string>> = {
  k: "storage.dataShards",
  m: "storage.parityShards",
  repair: "storage.repair",
  /** Rebuild a stripe once at most k + r pieces are left (capped at m − 1: any loss). */
  repairThreshold: "storage.repairThreshold",
  scoreRetrievals: "storage.scoreRetrievals",
  /** Validator rounds per tempo: each round challenges every miner once. */
  challengeRate: "roundsPerTempo",
};

/** The report's scatter plots of a full-mode sweep: durability and availability against cost. */
export const DEFAULT_TRADEOFFS: ReadonlyArray<[string, string]> = [
  ["overhead", "lost"],
  ["overhead", "availability"],
  ["repairBytes", "lost"],
  ["repairBytes", "atRisk"],
  ["adversaryShare", "availability"],
  ["honestShare", "lost"],
];

/** Scenario settings whose keys are free (records): a path under them need not exist in the defaults. */
const OPEN_SCENARIO_RECORDS = ["adversaries", "hyperparameters", "policy.params"];

function isStorageKnob(path: string): boolean {
  return path.startsWith("storage.") || Object.hasOwn(FULL_MODE_ALIASES, path);
}

/** A sweep file is malformed, or names a config, parameter or metric that does not exist. */
export class ExperimentError extends SimError {
  override name = "ExperimentError";
}

/** An existing results.csv does not belong to this sweep (its columns differ). */
export class ExperimentResumeError extends SimError {
  override name = "ExperimentResumeError";
}

/** Sets `value` at a dotted path in a JSON value, creating objects on the way; numeric segments index arrays. */
function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split(".");
  let node: unknown = target;
  for (let i = 0; i < parts.length - 1; i++) {
    const key = parts[i] as string;
    const holder = node as Record<string, unknown>;
    if (holder[key] === undefined || holder[key] === null || typeof holder[key] !== "object") {
      if (Array.isArray(holder)) throw new ExperimentError(`parameter "${path}": no element ${key}`);
      holder[key] = {};
    }
    node = holder[key];
  }
  const last = parts[parts.length - 1] as string;
  if (Array.isArray(node) && !(Number(last) >= 0 && Number(last) < node.length)) {
    throw new ExperimentError(`parameter "${path}": no element ${last}`);
  }
  (node as Record<string, unknown>)[last] = value;
}

/**
 * Validates a sweep (parsed JSON) and checks every point's config. `baseDir` resolves a `base`
 * given as a path. Throws {@link ExperimentError}.
 */
export function parseSweep(input: unknown, baseDir = "."): Sweep {
  const parsed = sweepSchema.safeParse(input);
  if (!parsed.success) {
    throw new ExperimentError(`invalid sweep file: ${z.prettifyError(parsed.error)}`, {
      cause: parsed.error,
    });
  }
  const file = parsed.data;
  let base: Record<string, unknown>;
  if (typeof file.base === "string") {
    const path = resolve(baseDir, file.base);
    try {
      base = readConfigFile(path) as Record<string, unknown>;
    } catch (err) {
      throw new ExperimentError(`cannot read base config ${path}`, { cause: err });
    }
  } else base = file.base;
  const seeds = file.seeds ?? Array.from({ length: file.repetitions ?? 1 }, (_, i) => i + 1);
  const parameters = Object.entries(file.parameters).map(([path, values]) => ({ path, values }));
  if (parameters.some((p) => p.path === "seed"))
    throw new ExperimentError(`sweep seeds with "seeds", not a parameter`);
  const storageKnobs = parameters.filter((p) => isStorageKnob(p.path)).map((p) => p.path);
  if (file.mode === "fast" && storageKnobs.length > 0)
    throw new ExperimentError(
      `${storageKnobs.join(", ")}: the fast mode models no user storage; set "mode": "full" to run the full simulator`,
    );
  const mode = file.mode ?? (storageKnobs.length > 0 ? "full" : "fast");
  if (mode === "full") return parseFullSweep(file, base, parameters, seeds, storageKnobs);
  let columns: string[];
  try {
    columns = metricNames(parseFastConfig({ ...base, seed: seeds[0] }));
  } catch (err) {
    throw new ExperimentError(`invalid base config: ${(err as Error).message}`, { cause: err });
  }
  const sweep: Sweep = {
    name: file.name,
    description: file.description,
    base,
    parameters,
    seeds,
    columns,
    charted: chartedMetrics(file.metrics, columns),
    mode,
    tradeoffs: checkedTradeoffs(file.tradeoffs ?? [], columns),
  };
  for (const point of sweepPoints(sweep)) {
    try {
      parseFastConfig(point.config);
    } catch (err) {
      throw new ExperimentError(`point ${describePoint(sweep, point)}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  return sweep;
}

function chartedMetrics(metrics: string[] | undefined, columns: string[]): string[] {
  const charted = metrics ?? columns;
  const unknown = charted.filter((m) => !columns.includes(m));
  if (unknown.length > 0) {
    throw new ExperimentError(`unknown metrics: ${unknown.join(", ")}; known: ${columns.join(", ")}`);
  }
  return charted;
}

function checkedTradeoffs(
  pairs: ReadonlyArray<[string, string]>,
  columns: readonly string[],
): Array<[string, string]> {
  const unknown = pairs.flat().filter((m) => !columns.includes(m));
  if (unknown.length > 0)
    throw new ExperimentError(
      `tradeoffs: unknown metrics ${unknown.join(", ")}; known: ${columns.join(", ")}`,
    );
  return pairs.map(([x, y]) => [x, y]);
}

function getPath(target: unknown, path: string): unknown {
  let node = target;
  for (const key of path.split(".")) {
    if (node === null || typeof node !== "object" || !Object.hasOwn(node, key)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/** A full-mode sweep: aliases resolved, every path a scenario setting, every point a valid scenario. */
function parseFullSweep(
  file: z.infer<typeof sweepSchema>,
  fileBase: Record<string, unknown>,
  named: Array<{ path: string; values: ParamValue[] }>,
  seeds: number[],
  storageKnobs: string[],
): Sweep {
  const base = structuredClone(fileBase);
  // A full-mode sweep is about storage: the workload is on unless the base turns it off.
  const storage = (base.storage ?? {}) as Record<string, unknown>;
  if (typeof storage !== "object" || Array.isArray(storage))
    throw new ExperimentError("invalid base scenario: storage: expected an object");
  base.storage = { enabled: true, ...storage };
  let defaults: Scenario;
  try {
    defaults = parseScenario({ ...base, seed: seeds[0] });
  } catch (err) {
    throw new ExperimentError(`invalid base scenario: ${(err as Error).message}`, { cause: err });
  }
  const parameters = named.map(({ path, values }) => {
    const resolved = Object.hasOwn(FULL_MODE_ALIASES, path) ? (FULL_MODE_ALIASES[path] as string) : path;
    const open = OPEN_SCENARIO_RECORDS.some((r) => resolved.startsWith(`${r}.`));
    if (!open && getPath(defaults, resolved) === undefined) {
      const known = Object.keys(defaults.storage)
        .map((k) => `storage.${k}`)
        .join(", ");
      throw new ExperimentError(
        `parameter "${path}": not a simulator scenario setting (sim/scenario.ts); storage knobs: ${known}, ${Object.keys(FULL_MODE_ALIASES).join(", ")}`,
      );
    }
    return { path, resolved, values };
  });
  const sweep: Sweep = {
    name: file.name,
    description: file.description,
    base,
    parameters: parameters.map(({ path, resolved, values }) =>
      resolved === path ? { path, values } : { path, values, target: resolved },
    ),
    seeds,
    columns: [],
    charted: [],
    mode: "full",
    tradeoffs: [],
    ...(file.mode === undefined
      ? {
          notice: `the fast mode models no user storage: ${storageKnobs.join(", ")} run${storageKnobs.length === 1 ? "s" : ""} with the full simulator, one point at a time`,
        }
      : {}),
  };
  const points = sweepPoints(sweep);
  if (points.length > MAX_FULL_POINTS)
    throw new ExperimentError(
      `a full-mode sweep runs at most ${MAX_FULL_POINTS} points (tens of seconds each); this one has ${points.length}`,
    );
  const scenarios = points.map((point) => {
    try {
      return parseScenario(point.config);
    } catch (err) {
      throw new ExperimentError(`point ${describePoint(sweep, point)}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  });
  sweep.columns = fullMetricNames(scenarios);
  sweep.charted = chartedMetrics(file.metrics, sweep.columns);
  sweep.tradeoffs = checkedTradeoffs(
    file.tradeoffs ?? DEFAULT_TRADEOFFS.filter((pair) => pair.every((m) => sweep.columns.includes(m))),
    sweep.columns,
  );
  return sweep;
}

/** Reads and validates a sweep file (JSON). */
export function loadSweep(path: string): Sweep {
  let json: unknown;
  try {
    json = readConfigFile(path);
  } catch (err) {
    throw new ExperimentError(`cannot read sweep file ${path}: ${(err as Error).message}`, { cause: err });
  }
  return parseSweep(json, dirname(path));
}

/** Every point of a sweep: the grid of parameter values (first parameter slowest), each with every seed. */
export function sweepPoints(sweep: Sweep): SweepPoint[] {
  const combos: ParamValue[][] = [[]];
  for (const { values } of sweep.parameters) {
    const next: ParamValue[][] = [];
    for (const combo of combos) for (const v of values) next.push([...combo, v]);
    combos.splice(0, combos.length, ...next);
  }
  const points: SweepPoint[] = [];
  for (const values of combos) {
    for (const seed of sweep.seeds) {
      const config = structuredClone(sweep.base);
      sweep.parameters.forEach((p, i) => {
        setPath(config, p.target ?? p.path, values[i]);
      });
      config.seed = seed;
      points.push({ index: points.length, values, seed, config });
    }
  }
  return points;
}

function describePoint(sweep: Sweep, point: SweepPoint): string {
  const parts = sweep.parameters.map((p, i) => `${p.path}=${String(point.values[i])}`);
  return [...parts, `seed=${point.seed}`].join(" ");
}

/** The CSV header: parameter paths, `seed`, then every metric. */
export function csvHeader(sweep: Sweep): string[] {
  return [...sweep.parameters.map((p) => p.path), "seed", ...sweep.columns];
}

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return "";
  const s = typeof value === "number" && !Number.isFinite(value) ? "" : String(value);
  return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** Parses CSV text (RFC 4180 quoting) into rows of cells. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      row.push(cell);
      cell = "";
    } else if (ch === "\n") {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
    } else if (ch !== "\r") cell += ch;
  }
  // A final line without its newline was cut off mid-write: drop it.
  return rows;
}

function pointKey(cells: readonly string[]): string {
  return JSON.stringify(cells);
}

/** Progress of a running sweep. */
export interface SweepProgress {
  /** Points finished in this run. */
  done: number;
  /** Points this run has to do (skipped ones excluded). */
  total: number;
  /** Points found already done in results.csv. */
  skipped: number;
  elapsedMs: number;
  /** Estimated time left, from the mean time per point so far. */
  etaMs: number;
  /** The point just finished. */
  point: SweepPoint;
}

export interface RunSweepOptions {
  /** Directory for results.csv and report.html (created). */
  outDir: string;
  /** Worker threads; 0 runs the points in this thread. Default: available parallelism. */
  workers?: number;
  /** Skip points already in results.csv; otherwise it is started afresh. */
  resume?: boolean;
  /** Stops after the points under way; results so far stay in the CSV. */
  signal?: AbortSignal;
  onProgress?: (progress: SweepProgress) => void;
  /** The worker module; default the compiled sim/fast/sweep-worker.js beside this file. */
  workerUrl?: URL;
}

export interface SweepSummary {
  csvPath: string;
  htmlPath: string;
  /** Points in the sweep, run now, and skipped as already done. */
  points: number;
  ran: number;
  skipped: number;
  /** True when the signal stopped it before every point ran. */
  aborted: boolean;
}

/** A point's metrics, and its wall-clock figures (full mode) that stay out of results.csv. */
interface PointOutcome {
  metrics: FastMetrics;
  timings?: FastMetrics;
}

/** Runs a point; undefined when the signal stopped it before it finished. */
type PointRunner = (point: SweepPoint) => Promise<PointOutcome | undefined>;

function inThreadRunner(): { run: PointRunner; close(): Promise<void> } {
  return {
    run: async (point) => {
      await yieldToLoop();
      return { metrics: computeMetrics(runFast(point.config)) };
    },
    close: async () => {},
  };
}

/** Full mode: each point a simulator run in `<outDir>/points/<index>/`, one at a time. */
function fullRunner(outDir: string, signal?: AbortSignal): { run: PointRunner; close(): Promise<void> } {
  return {
    run: async (point) => {
      const dir = join(outDir, "points", String(point.index));
      mkdirSync(dir, { recursive: true });
      const result = await runFullPoint(parseScenario(point.config), dir, signal);
      return result.aborted ? undefined : { metrics: result.metrics, timings: result.timings };
    },
    close: async () => {},
  };
}

function workerPool(size: number, url: URL): { run: PointRunner; close(): Promise<void> } {
  const idle: Worker[] = [];
  const waiting: Array<(w: Worker) => void> = [];
  const all: Worker[] = [];
  const pending = new Map<number, { resolve(m: FastMetrics): void; reject(e: Error): void }>();
  for (let i = 0; i < size; i++) {
    const worker = new Worker(url);
    worker.on("message", (reply: SweepReply) => {
      const p = pending.get(reply.id);
      pending.delete(reply.id);
      if ("error" in reply) p?.reject(new ExperimentError(`point ${reply.id} failed: ${reply.error}`));
      else p?.resolve(reply.metrics);
      const next = waiting.shift();
      if (next) next(worker);
      else idle.push(worker);
    });
    worker.on("error", (err) => {
      for (const p of pending.values())
        p.reject(new ExperimentError("a sweep worker crashed", { cause: err }));
      pending.clear();
    });
    all.push(worker);
    idle.push(worker);
  }
  const acquire = (): Promise<Worker> => {
    const w = idle.pop();
    return w ? Promise.resolve(w) : new Promise((res) => waiting.push(res));
  };
  return {
    run: async (point) => {
      const worker = await acquire();
      const metrics = await new Promise<FastMetrics>((res, rej) => {
        pending.set(point.index, { resolve: res, reject: rej });
        const task: SweepTask = { id: point.index, config: point.config };
        worker.postMessage(task);
      });
      return { metrics };
    },
    close: async () => {
      await Promise.all(all.map((w) => w.terminate()));
    },
  };
}

/**
 * Runs a sweep: every point not yet in `outDir/results.csv` (with `resume`), appending each
 * result as it finishes, then writes `outDir/report.html` from the whole CSV.
 *
 * @example await runSweep(loadSweep("sim/experiments/copier-bonds.json"), { outDir: "out", resume: true })
 */
export async function runSweep(sweep: Sweep, options: RunSweepOptions): Promise<SweepSummary> {
  const csvPath = join(options.outDir, "results.csv");
  const timingsPath = join(options.outDir, "timings.csv");
  const htmlPath = join(options.outDir, "report.html");
  mkdirSync(options.outDir, { recursive: true });
  const header = csvHeader(sweep);
  const keyWidth = sweep.parameters.length + 1;
  const done = startCsv(csvPath, header, keyWidth, options.resume === true);
  const full = sweep.mode === "full";
  const timingHeader = [...header.slice(0, keyWidth), ...FULL_TIMINGS];
  if (full) startCsv(timingsPath, timingHeader, keyWidth, options.resume === true);

  const keyOf = (p: SweepPoint) => pointKey([...p.values.map(csvCell), csvCell(p.seed)]);
  const all = sweepPoints(sweep);
  const todo = all.filter((p) => !done.has(keyOf(p)));
  const skipped = all.length - todo.length;
  // A full-mode point is a whole simulator, which already spreads its nodes over the cores.
  const workers = full ? 0 : Math.max(0, Math.min(options.workers ?? availableParallelism(), todo.length));
  const runner = full
    ? fullRunner(options.outDir, options.signal)
    : workers === 0
      ? inThreadRunner()
      : workerPool(workers, options.workerUrl ?? new URL("./fast/sweep-worker.js", import.meta.url));
  const started = performance.now();
  let finished = 0;
  let next = 0;
  let failure: unknown;
  const lane = async (): Promise<void> => {
    while (next < todo.length && !options.signal?.aborted && failure === undefined) {
      const point = todo[next++] as SweepPoint;
      let outcome: PointOutcome | undefined;
      try {
        outcome = await runner.run(point);
      } catch (err) {
        failure ??= err;
        return;
      }
      if (outcome === undefined) return;
      const { metrics, timings } = outcome;
      const key = [...point.values, point.seed];
      const cells = [...key, ...sweep.columns.map((c) => metrics[c] ?? null)];
      appendFileSync(csvPath, `${cells.map(csvCell).join(",")}\n`);
      if (full && timings) {
        const timingCells = [...key, ...FULL_TIMINGS.map((c) => timings[c] ?? null)];
        appendFileSync(timingsPath, `${timingCells.map(csvCell).join(",")}\n`);
      }
      finished++;
      const elapsedMs = performance.now() - started;
      options.onProgress?.({
        done: finished,
        total: todo.length,
        skipped,
        elapsedMs,
        etaMs: (elapsedMs / finished) * (todo.length - finished),
        point,
      });
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, workers) }, lane));
  } finally {
    await runner.close();
  }
  if (failure !== undefined) throw failure;
  const rows = parseCsv(readFileSync(csvPath, "utf8"));
  if (full) {
    // The report shows the wall-clock figures beside the results; the CSVs keep them apart.
    const timingRows = parseCsv(readFileSync(timingsPath, "utf8"));
    const byKey = new Map(
      timingRows.slice(1).map((r) => [pointKey(r.slice(0, keyWidth)), r.slice(keyWidth)]),
    );
    const joined = rows.map((r, i) =>
      i === 0
        ? [...r, ...FULL_TIMINGS]
        : [...r, ...(byKey.get(pointKey(r.slice(0, keyWidth))) ?? FULL_TIMINGS.map(() => ""))],
    );
    const reported = {
      ...sweep,
      charted: [...sweep.charted, ...FULL_TIMINGS.filter((t) => t !== "wallSeconds")],
      metricsSource: "sim/full-point.ts",
    };
    writeFileSync(htmlPath, renderReport(reported, joined));
  } else writeFileSync(htmlPath, renderReport(sweep, rows));
  return {
    csvPath,
    htmlPath,
    points: all.length,
    ran: finished,
    skipped,
    aborted: finished < todo.length,
  };
}

/**
 * Starts a CSV with `header`, or with `resume` keeps the rows already in it (cutting a
 * half-written last line) and returns the keys (first `keyWidth` cells) of the complete ones.
 */
function startCsv(path: string, header: string[], keyWidth: number, resume: boolean): Set<string> {
  const headerLine = `${header.map(csvCell).join(",")}\n`;
  const done = new Set<string>();
  if (!resume || !existsSync(path)) {
    writeFileSync(path, headerLine);
    return done;
  }
  const text = readFileSync(path, "utf8");
  const rows = parseCsv(text);
  const first = rows[0];
  if (first !== undefined && pointKey(first) !== pointKey(header)) {
    throw new ExperimentResumeError(
      `${path} has columns ${first.join(",")}, this sweep writes ${header.join(",")}; use another --out or drop --resume`,
    );
  }
  for (const row of rows.slice(1))
    if (row.length === header.length) done.add(pointKey(row.slice(0, keyWidth)));
  // Cut a half-written last line so appended rows start on a line of their own.
  if (text.length > 0 && !text.endsWith("\n")) writeFileSync(path, text.slice(0, text.lastIndexOf("\n") + 1));
  if (rows.length === 0) writeFileSync(path, headerLine);
  return done;
}
