/**
 * `npm run sim -- --miners 20`: the whole network on one machine. Flags override the scenario
 * file, which overrides the defaults (sim/scenario.ts). A bad flag ends with one line and exit 2;
 * Ctrl-C stops every node and keeps what was written (a second Ctrl-C exits at once).
 */
import "../polyfills.js";
import { mkdirSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { z } from "zod";
import { readConfigFile } from "./config-file.js";
import { SimError } from "./errors.js";
import {
  defaultAdversaries,
  defaultValidatorStakes,
  MAX_VALIDATORS,
  parseAdversaries,
  parseScenario,
  type Scenario,
  ScenarioError,
  scenarioSchema,
} from "./scenario.js";
import type { SimTimings } from "./simulator.js";

/**
 * Up to this many nodes (miners + validators) a run defaults to one OS process per node. Each
 * process costs about 100 MB and a second of start-up CPU; above a few dozen, `inprocess` is the
 * mode that fits a small machine.
 */
export const PROCESS_MODE_MAX_NODES = 32;

/** A scenario field's bounds and default, for the flag that sets it. */
function numberField(field: z.ZodDefault<z.ZodNumber>): { min: number; max: number; fallback: number } {
  const inner = field.unwrap();
  return {
    min: inner.minValue ?? Number.MIN_SAFE_INTEGER,
    max: inner.maxValue ?? Number.MAX_SAFE_INTEGER,
    fallback: field.def.defaultValue,
  };
}

/** The scenario fields the flags set, from the one scenario schema (sim/scenario.ts). */
const fields = {
  miners: numberField(scenarioSchema.shape.miners),
  tempos: numberField(scenarioSchema.shape.tempos),
  tempo: numberField(scenarioSchema.shape.tempo),
  rounds: numberField(scenarioSchema.shape.roundsPerTempo),
  seed: numberField(scenarioSchema.shape.seed),
};
const defaultValidators = parseScenario({}).validatorStakes.length;
const storageDefaults = parseScenario({}).storage;

const usage = `Usage: npm run sim -- [options]

Starts the embedded dev chain, a subnet, miners and validators (honest and adversarial), runs them
for a number of tempos and reports who earned what and how fast cheaters were caught.

  --miners N          miners (default ${fields.miners.fallback})
  --validators N      validators, stakes ${defaultValidatorStakes(6).join(", ")}, … TAO (default ${defaultValidators})
  --tempos N          tempos to run (default ${fields.tempos.fallback})
  --tempo N           blocks per tempo (default ${fields.tempo.fallback})
  --rounds N          validator rounds per tempo (default ${fields.rounds.fallback})
  --seed N            seed of every random choice (default ${fields.seed.fallback})
  --adversaries LIST  e.g. lazy:2,corrupting:1,outsourcer:1,offline:1,churning:1,slow:1 (none: all honest;
                      default with 8+ miners: lazy:miners/10,corrupting:1,outsourcer:1,offline:1)
  --scenario FILE     a JSON or YAML scenario (see sim/scenarios/); flags override it
  --storage on|off    the storage workload: clients put and get files through the top validator's
                      gateway (default on without --scenario; a scenario turns it on with storage.enabled)
  --clients N         storage clients (default ${storageDefaults.clients})
  --uploads X         files each client puts per tempo (default ${storageDefaults.uploadsPerTempo})
  --reads N           gets per tempo (default ${storageDefaults.readsPerTempo})
  --k N, --m N        data and parity pieces per stripe (default ${storageDefaults.dataShards}, ${storageDefaults.parityShards})
  --repair on|off     rebuild lost pieces (default on)
  --score-retrievals on|off
                      score the pieces the gateway fetches for reads and repair like challenges (default on)
  --churn X           miners leaving for good per tempo, replaced by new registrations (default 0)
  --out DIR           run directory (default runs/<timestamp>)
  --mode MODE         process (each node its own OS process) or inprocess (all nodes in this one);
                      default process up to ${PROCESS_MODE_MAX_NODES} nodes, inprocess above
  --threads N         inprocess: worker threads hosting the nodes (default one per core: ${availableParallelism()});
                      0 runs them on the simulator's own thread
  --help              this text`;

/** A flag is wrong; the message is the one line shown. */
export class UsageError extends SimError {
  override readonly name = "UsageError";
}

function intFlag(
  name: string,
  value: string | undefined,
  { min, max }: { min: number; max: number },
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max)
    throw new UsageError(`--${name}: expected a whole number from ${min} to ${max}, got "${value}"`);
  return n;
}

function timestamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

export type SimMode = "inprocess" | "process";

/** The mode a run gets without `--mode`: see {@link PROCESS_MODE_MAX_NODES}. */
export function defaultMode(scenario: Scenario): SimMode {
  return scenario.miners + scenario.validatorStakes.length <= PROCESS_MODE_MAX_NODES
    ? "process"
    : "inprocess";
}

/** Parses the command line into a scenario, an output directory and a mode. Throws {@link UsageError}. */
export function parseCommandLine(
  argv: string[],
): { scenario: Scenario; outDir: string; mode: SimMode; threads?: number } | "help" {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        miners: { type: "string" },
        validators: { type: "string" },
        tempos: { type: "string" },
        tempo: { type: "string" },
        rounds: { type: "string" },
        seed: { type: "string" },
        adversaries: { type: "string" },
        scenario: { type: "string" },
        out: { type: "string" },
        mode: { type: "string" },
        threads: { type: "string" },
        storage: { type: "string" },
        clients: { type: "string" },
        uploads: { type: "string" },
        reads: { type: "string" },
        k: { type: "string" },
        m: { type: "string" },
        repair: { type: "string" },
        "score-retrievals": { type: "string" },
        churn: { type: "string" },
        help: { type: "boolean" },
      },
    }).values;
  } catch (cause) {
    throw new UsageError(cause instanceof Error ? cause.message : String(cause), { cause });
  }
  if (values.help) return "help";
  const str = (k: string) => values[k] as string | undefined;
  const modeFlag = str("mode");
  if (modeFlag !== undefined && modeFlag !== "inprocess" && modeFlag !== "process")
    throw new UsageError(`--mode: expected process or inprocess, got "${modeFlag}"`);
  const threads = intFlag("threads", str("threads"), { min: 0, max: 64 });

  let base: Record<string, unknown> = {};
  const file = str("scenario");
  if (file !== undefined) {
    let parsed: unknown;
    try {
      parsed = readConfigFile(file);
    } catch (cause) {
      throw new UsageError(`--scenario: ${(cause as Error).message}`, { cause });
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
      throw new UsageError(`--scenario: ${file} is not an object (a JSON or YAML mapping)`);
    base = parsed as Record<string, unknown>;
  }
  const merged: Record<string, unknown> = { ...base };
  const set = (key: string, value: unknown) => {
    if (value !== undefined) merged[key] = value;
  };
  set("miners", intFlag("miners", str("miners"), fields.miners));
  const validators = intFlag("validators", str("validators"), { min: 1, max: MAX_VALIDATORS });
  if (validators !== undefined) merged.validatorStakes = defaultValidatorStakes(validators);
  set("tempos", intFlag("tempos", str("tempos"), fields.tempos));
  set("tempo", intFlag("tempo", str("tempo"), fields.tempo));
  set("roundsPerTempo", intFlag("rounds", str("rounds"), fields.rounds));
  set("seed", intFlag("seed", str("seed"), fields.seed));
  const storage: Record<string, unknown> = {
    ...((base.storage as Record<string, unknown> | undefined) ?? {}),
  };
  const setStorage = (key: string, value: unknown) => {
    if (value !== undefined) storage[key] = value;
  };
  const onOff = (name: string): boolean | undefined => {
    const v = str(name);
    if (v === undefined) return undefined;
    if (v !== "on" && v !== "off") throw new UsageError(`--${name}: expected on or off, got "${v}"`);
    return v === "on";
  };
  const numberFlag = (name: string, max: number): number | undefined => {
    const v = str(name);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (v.trim() === "" || !Number.isFinite(n) || n < 0 || n > max)
      throw new UsageError(`--${name}: expected a number from 0 to ${max}, got "${v}"`);
    return n;
  };
  setStorage("enabled", onOff("storage") ?? (file === undefined ? true : undefined));
  setStorage("clients", intFlag("clients", str("clients"), { min: 1, max: 64 }));
  setStorage("uploadsPerTempo", numberFlag("uploads", 100));
  setStorage("readsPerTempo", intFlag("reads", str("reads"), { min: 0, max: 1000 }));
  setStorage("dataShards", intFlag("k", str("k"), { min: 1, max: 32 }));
  setStorage("parityShards", intFlag("m", str("m"), { min: 0, max: 32 }));
  setStorage("repair", onOff("repair"));
  setStorage("scoreRetrievals", onOff("score-retrievals"));
  setStorage("churnPerTempo", numberFlag("churn", 64));
  merged.storage = storage;
  const adversaries = str("adversaries");
  try {
    if (adversaries !== undefined) merged.adversaries = parseAdversaries(adversaries);
    else if (file === undefined)
      merged.adversaries = defaultAdversaries(Number(merged.miners ?? fields.miners.fallback));
    const scenario = parseScenario(merged);
    const outDir = str("out") ?? join("runs", timestamp(new Date()));
    const mode = modeFlag ?? defaultMode(scenario);
    if (threads !== undefined && mode !== "inprocess")
      throw new UsageError("--threads: only with --mode inprocess (process mode runs one node per process)");
    return { scenario, outDir, mode, ...(threads !== undefined ? { threads } : {}) };
  } catch (cause) {
    if (cause instanceof ScenarioError) throw new UsageError(cause.message, { cause });
    throw cause;
  }
}

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);

function memoryLine(t: SimTimings): string {
  const peak = mib(t.peakMemoryBytes);
  switch (t.peakMemoryMethod) {
    case "rss":
      return `peak memory ${peak} MiB (RSS, one process)`;
    case "pss-sampled":
      return `peak memory ${peak} MiB (PSS summed over ${t.nodeProcesses + 1} processes, sampled)`;
    case "rss-this-process-only":
      return `peak memory of the simulator process ${peak} MiB (node processes not measured here)`;
  }
}

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parseCommandLine>;
  try {
    parsed = parseCommandLine(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`sim: ${err.message}`);
      return 2;
    }
    throw err;
  }
  if (parsed === "help") {
    console.log(usage);
    return 0;
  }
  const { scenario, outDir, mode, threads } = parsed;
  // Loaded after the flags are checked, so a bad flag answers at once.
  const { runSimulation } = await import("./simulator.js");
  const { createRunWriter, formatSummary, summarize, writeSummary } = await import("./report.js");
  const { writeHtmlReport } = await import("./html-report.js");
  mkdirSync(outDir, { recursive: true });
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    console.error("\nstopping after the current step (Ctrl-C again to exit at once)…");
    controller.abort();
  };
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigint);

  const advCount = Object.values(scenario.adversaries).reduce((a, b) => a + (b ?? 0), 0);
  console.log(
    `sim: ${scenario.miners} miners (${advCount} adversarial), ${scenario.validatorStakes.length} validators, ${scenario.tempos} tempos of ${scenario.tempo} blocks, seed ${scenario.seed}, ${mode} mode → ${outDir}`,
  );
  const writer = createRunWriter(outDir, scenario);
  const result = await runSimulation({
    scenario,
    outDir,
    writer,
    signal: controller.signal,
    mode,
    ...(threads !== undefined ? { threads } : {}),
    onStage: (s) => console.log(`  ${s}…`),
    onProgress: (p) => {
      const width = 20;
      const done = Math.round((p.tempo / p.of) * width);
      console.log(
        `  [${"#".repeat(done)}${"-".repeat(width - done)}] tempo ${p.tempo}/${p.of}  block ${p.block}  honest share ${(p.honestShare * 100).toFixed(1)}%  ${(p.elapsedMs / 1000).toFixed(1)} s`,
      );
    },
  });
  const summary = summarize(scenario, result.tempos, result.aborted, result.reads);
  writeSummary(outDir, summary, result.timings);
  const html = writeHtmlReport(outDir, scenario, result.tempos, summary);
  const t = result.timings;
  console.log("");
  console.log(formatSummary(summary));
  console.log("");
  console.log(
    `wall ${(t.totalMs / 1000).toFixed(1)} s (chain ${(t.chainStartMs / 1000).toFixed(1)}, bootstrap ${(t.bootstrapMs / 1000).toFixed(1)}, nodes ${(t.nodesStartMs / 1000).toFixed(1)}, rounds ${(t.roundsMs / 1000).toFixed(1)}, blocks ${(t.blocksMs / 1000).toFixed(1)}), ${memoryLine(t)}`,
  );
  if (t.epochsCrossedDuringRounds > 0)
    console.log(
      `warning: in ${t.epochsCrossedDuringRounds} tempo(s) an epoch ran before every weight was set (tempo too short for the transactions); results may differ between runs`,
    );
  console.log(`files in ${outDir}; report: ${html}`);
  return result.aborted ? 130 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
    // Stray libp2p timers must not keep a finished run alive.
    setTimeout(() => process.exit(code), 2_000).unref();
  },
  (err: unknown) => {
    console.error(`sim: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    if (err instanceof Error && err.cause) console.error(`  cause: ${String(err.cause)}`);
    process.exit(1);
  },
);
