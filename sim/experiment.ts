/**
 * Experiments: a sweep over fast-mode configurations (sim/fast/). A sweep file names a base
 * config, the parameters to vary and their values (every combination is run: a grid), the seeds,
 * and the metrics to chart. Points run on worker threads; each finished point is appended to
 * `results.csv` at once, so an interrupted sweep resumes where it stopped (`resume: true` skips
 * the points already in the CSV), and `report.html` charts every metric against the swept
 * parameter.
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
});

export type SweepFile = z.input<typeof sweepSchema>;
type ParamValue = z.infer<typeof paramValue>;

/** A sweep, validated, with its base config resolved. */
export interface Sweep {
  name: string;
  description: string;
  base: Record<string, unknown>;
  parameters: Array<{ path: string; values: ParamValue[] }>;
  seeds: number[];
  /** Every metric column, in CSV order. */
  columns: string[];
  /** Metrics the report charts. */
  charted: string[];
}

/** One run of a sweep: a combination of parameter values and a seed. */
export interface SweepPoint {
  index: number;
  values: ParamValue[];
  seed: number;
  config: unknown;
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
  let columns: string[];
  try {
    columns = metricNames(parseFastConfig({ ...base, seed: seeds[0] }));
  } catch (err) {
    throw new ExperimentError(`invalid base config: ${(err as Error).message}`, { cause: err });
  }
  const charted = file.metrics ?? columns;
  const unknown = charted.filter((m) => !columns.includes(m));
  if (unknown.length > 0) {
    throw new ExperimentError(`unknown metrics: ${unknown.join(", ")}; known: ${columns.join(", ")}`);
  }
  const sweep: Sweep = {
    name: file.name,
    description: file.description,
    base,
    parameters,
    seeds,
    columns,
    charted,
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
        setPath(config, p.path, values[i]);
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

type PointRunner = (point: SweepPoint) => Promise<FastMetrics>;

function inThreadRunner(): { run: PointRunner; close(): Promise<void> } {
  return {
    run: async (point) => {
      await yieldToLoop();
      return computeMetrics(runFast(point.config));
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
      return new Promise<FastMetrics>((res, rej) => {
        pending.set(point.index, { resolve: res, reject: rej });
        const task: SweepTask = { id: point.index, config: point.config };
        worker.postMessage(task);
      });
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
  const htmlPath = join(options.outDir, "report.html");
  mkdirSync(options.outDir, { recursive: true });
  const header = csvHeader(sweep);
  const headerLine = `${header.map(csvCell).join(",")}\n`;
  const done = new Set<string>();
  if (options.resume && existsSync(csvPath)) {
    const text = readFileSync(csvPath, "utf8");
    const rows = parseCsv(text);
    const first = rows[0];
    if (first !== undefined && pointKey(first) !== pointKey(header)) {
      throw new ExperimentResumeError(
        `${csvPath} has columns ${first.join(",")}, this sweep writes ${header.join(",")}; use another --out or drop --resume`,
      );
    }
    const keyWidth = sweep.parameters.length + 1;
    for (const row of rows.slice(1))
      if (row.length === header.length) done.add(pointKey(row.slice(0, keyWidth)));
    // Cut a half-written last line so appended rows start on a line of their own.
    if (text.length > 0 && !text.endsWith("\n"))
      writeFileSync(csvPath, text.slice(0, text.lastIndexOf("\n") + 1));
    if (rows.length === 0) writeFileSync(csvPath, headerLine);
  } else {
    writeFileSync(csvPath, headerLine);
  }

  const keyOf = (p: SweepPoint) => pointKey([...p.values.map(csvCell), csvCell(p.seed)]);
  const all = sweepPoints(sweep);
  const todo = all.filter((p) => !done.has(keyOf(p)));
  const skipped = all.length - todo.length;
  const workers = Math.max(0, Math.min(options.workers ?? availableParallelism(), todo.length));
  const runner =
    workers === 0
      ? inThreadRunner()
      : workerPool(workers, options.workerUrl ?? new URL("./fast/sweep-worker.js", import.meta.url));
  const started = performance.now();
  let finished = 0;
  let next = 0;
  let failure: unknown;
  const lane = async (): Promise<void> => {
    while (next < todo.length && !options.signal?.aborted && failure === undefined) {
      const point = todo[next++] as SweepPoint;
      let metrics: FastMetrics;
      try {
        metrics = await runner.run(point);
      } catch (err) {
        failure ??= err;
        return;
      }
      const cells = [...point.values, point.seed, ...sweep.columns.map((c) => metrics[c] ?? null)];
      appendFileSync(csvPath, `${cells.map(csvCell).join(",")}\n`);
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
  writeFileSync(htmlPath, renderReport(sweep, parseCsv(readFileSync(csvPath, "utf8"))));
  return {
    csvPath,
    htmlPath,
    points: all.length,
    ran: finished,
    skipped,
    aborted: finished < todo.length,
  };
}
