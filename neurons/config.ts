import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { resolve } from "node:path";
import yargs from "yargs";
import { z } from "zod";
import { CHUNK_SIZE, LEAF_SIZE, MAX_CHUNK_SIZE } from "../protocol/constants.js";

/**
 * One definition per option: its flag, type, default and validation. The CLI flags, the config
 * file (`--config file.json`) and the environment (`SUBNET_WALLET_NAME` for `wallet.name`) are all
 * derived from it, so the three doors can never disagree on a name or a default.
 *
 * Precedence: flag > environment > config file > default.
 */
export interface OptionSpec {
  /** Bittensor-style dotted flag name, e.g. `wallet.name`. */
  key: string;
  type: "string" | "number" | "boolean";
  describe: string;
  schema: z.ZodType;
  default?: string | number | boolean;
  group?: string;
}

/** The environment variable an option is read from: `wallet.name` → `SUBNET_WALLET_NAME`. */
export function envNameOf(key: string): string {
  return `SUBNET_${key.replace(/[.-]/g, "_").toUpperCase()}`;
}

/**
 * Expands a leading `~` (alone or followed by `/`) to `home` and makes the path absolute.
 *
 * @example
 * expandHome("~/bittensor-db", "/home/ana"); // "/home/ana/bittensor-db"
 */
export function expandHome(path: string, home: string = homedir()): string {
  if (path === "~") return resolve(home);
  if (path.startsWith("~/")) return resolve(home, path.slice(2));
  return resolve(path);
}

const port = z.number().int().min(0).max(65535);

/** Options every node shares: chain, wallet, storage location, logging. */
export const commonOptions: OptionSpec[] = [
  {
    key: "netuid",
    type: "number",
    default: 1,
    describe: "Subnet uid",
    schema: z.number().int().min(0).max(65535),
    group: "Subnet",
  },
  {
    key: "wallet.name",
    type: "string",
    default: "default",
    describe: "Wallet (coldkey) name under wallet.path",
    schema: z.string().min(1),
    group: "Wallet",
  },
  {
    key: "wallet.hotkey",
    type: "string",
    default: "default",
    describe: "Hotkey name inside the wallet",
    schema: z.string().min(1),
    group: "Wallet",
  },
  {
    key: "wallet.path",
    type: "string",
    default: "~/.bittensor/wallets",
    describe: "Folder holding bittensor wallets",
    schema: z.string().min(1),
    group: "Wallet",
  },
  {
    key: "subtensor.network",
    type: "string",
    default: "local",
    describe: "local (the embedded dev chain unless an endpoint is given), test or finney",
    schema: z.enum(["local", "test", "finney"]),
    group: "Chain",
  },
  {
    key: "subtensor.chain_endpoint",
    type: "string",
    describe: "WebSocket endpoint of a subtensor node; overrides subtensor.network",
    schema: z.string().regex(/^wss?:\/\/\S+$/, "must be a ws:// or wss:// URL"),
    group: "Chain",
  },
  {
    key: "subtensor.timeout",
    type: "number",
    default: 30,
    describe: "Seconds to wait for the chain at start-up",
    schema: z.number().positive().max(600),
    group: "Chain",
  },
  {
    key: "db_root_path",
    type: "string",
    default: "~/bittensor-db",
    describe: "Root folder of the node's databases (then <netuid>/<hotkey>/)",
    schema: z.string().min(1),
    group: "Storage",
  },
  {
    key: "logging.debug",
    type: "boolean",
    default: false,
    describe: "Log debug messages",
    schema: z.boolean(),
    group: "Logging",
  },
  {
    key: "logging.trace",
    type: "boolean",
    default: false,
    describe: "Log trace messages (very verbose)",
    schema: z.boolean(),
    group: "Logging",
  },
  {
    key: "prometheus.port",
    type: "number",
    describe: "Serve Prometheus metrics on this port (off when unset)",
    schema: port,
    group: "Logging",
  },
];

/** The miner's own options, on top of {@link commonOptions}. */
export const minerOptions: OptionSpec[] = [
  ...commonOptions,
  {
    key: "axon.port",
    type: "number",
    default: 8091,
    describe: "libp2p TCP port to listen on",
    schema: port,
    group: "Axon",
  },
  {
    key: "axon.ip",
    type: "string",
    default: "0.0.0.0",
    describe: "Address to listen on",
    schema: z.string().min(1),
    group: "Axon",
  },
  {
    key: "axon.external_ip",
    type: "string",
    describe: "Address published on chain (defaults to axon.ip)",
    schema: z.string().min(1),
    group: "Axon",
  },
  {
    key: "threshold",
    type: "number",
    default: 0.0001,
    describe: "Share of the filesystem's free space the miner offers",
    schema: z.number().gt(0).max(1),
    group: "Storage",
  },
  {
    key: "chunk_size",
    type: "number",
    default: CHUNK_SIZE,
    describe: "Chunk size in bytes",
    schema: z.number().int().min(LEAF_SIZE).max(MAX_CHUNK_SIZE),
    group: "Storage",
  },
  {
    key: "register",
    type: "boolean",
    default: false,
    describe: "Register the hotkey (burned) if it is not registered",
    schema: z.boolean(),
    group: "Subnet",
  },
  {
    key: "wallet.password",
    type: "string",
    describe: "Password of an encrypted coldkey (only --register needs the coldkey)",
    schema: z.string(),
    group: "Wallet",
  },
  {
    key: "neuron.metagraph_interval",
    type: "number",
    default: 60,
    describe: "Seconds between metagraph reads (validators, stakes, budgets)",
    schema: z.number().positive(),
    group: "Miner",
  },
  {
    key: "neuron.max_streams_per_peer",
    type: "number",
    default: 16,
    describe: "Concurrent streams one peer may open; more disconnects it",
    schema: z.number().int().min(1).max(1024),
    group: "Miner",
  },
  {
    key: "neuron.requests_per_second",
    type: "number",
    default: 200,
    describe: "Sustained requests per second per peer (bursts of twice that); more disconnects it",
    schema: z.number().positive(),
    group: "Miner",
  },
];

/** The validator's own options, on top of {@link commonOptions}. */
export const validatorOptions: OptionSpec[] = [
  ...commonOptions,
  {
    key: "neuron.challenge_interval",
    type: "number",
    default: 12,
    describe: "Seconds between challenge rounds",
    schema: z.number().positive(),
    group: "Validator",
  },
  {
    key: "neuron.chunks_per_challenge",
    type: "number",
    default: 1,
    describe: "Chunks named in one challenge",
    schema: z.number().int().min(1).max(64),
    group: "Validator",
  },
  {
    key: "neuron.leaves_per_chunk",
    type: "number",
    default: 1,
    describe: "Leaves proven per challenged chunk",
    schema: z.number().int().min(1).max(64),
    group: "Validator",
  },
  {
    key: "neuron.epoch_length",
    type: "number",
    default: 100,
    describe: "Blocks between weight settings",
    schema: z.number().int().min(1),
    group: "Validator",
  },
  {
    key: "neuron.challenge_timeout",
    type: "number",
    default: 5,
    describe: "Seconds a miner has to answer a challenge",
    schema: z.number().positive().max(600),
    group: "Validator",
  },
  {
    key: "neuron.fill_per_round",
    type: "number",
    default: 16,
    describe: "New chunks sent to one miner per round at most",
    schema: z.number().int().min(0).max(4096),
    group: "Validator",
  },
  {
    key: "neuron.concurrency",
    type: "number",
    default: 32,
    describe: "Miners a round works on at once (dial, fill, challenge)",
    schema: z.number().int().min(1).max(1024),
    group: "Validator",
  },
  {
    key: "neuron.max_chunks_per_miner",
    type: "number",
    default: 1024,
    describe: "Chunks placed on one miner at most, whatever its budget",
    schema: z.number().int().min(1),
    group: "Validator",
  },
  {
    key: "neuron.retrieve_probability",
    type: "number",
    default: 0.05,
    describe: "Chance per round and miner of retrieving a whole chunk and checking it",
    schema: z.number().min(0).max(1),
    group: "Validator",
  },
  {
    key: "neuron.scoring_policy",
    type: "string",
    default: "ema",
    describe: "Scoring policy: ema (default), strict or windowed",
    schema: z.enum(["ema", "strict", "windowed"]),
    group: "Validator",
  },
  {
    key: "chunk_size",
    type: "number",
    default: CHUNK_SIZE,
    describe: "Chunk size in bytes (must match the miners')",
    schema: z.number().int().min(LEAF_SIZE).max(MAX_CHUNK_SIZE),
    group: "Storage",
  },
];

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export type Config = Record<string, string | number | boolean | undefined>;

function flattenObject(value: unknown, prefix: string, out: Record<string, unknown>): void {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) {
      flattenObject(v, prefix ? `${prefix}.${k}` : k, out);
    }
  } else {
    out[prefix] = value;
  }
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(expandHome(path), "utf8");
  } catch (cause) {
    throw new ConfigError(`cannot read config file ${path}`, { cause });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new ConfigError(`config file ${path} is not valid JSON`, { cause });
  }
  const flat: Record<string, unknown> = {};
  flattenObject(parsed, "", flat);
  return flat;
}

function coerceEnv(spec: OptionSpec, raw: string): unknown {
  if (spec.type === "number") return raw.trim() === "" ? Number.NaN : Number(raw);
  if (spec.type === "boolean") {
    if (/^(1|true|yes)$/i.test(raw)) return true;
    if (/^(0|false|no)$/i.test(raw)) return false;
    return raw;
  }
  return raw;
}

/**
 * Parses argv, the environment and an optional config file into a validated config.
 * Throws {@link ConfigError} naming the first bad option and where it came from.
 */
export async function loadConfig(
  specs: OptionSpec[],
  argv: string[],
  env: NodeJS.ProcessEnv,
  usage: string,
): Promise<{ config: Config; help: boolean; helpText: string }> {
  const parser = yargs(argv)
    .parserConfiguration({ "dot-notation": false, "camel-case-expansion": false })
    .usage(usage)
    .strict()
    .version(false)
    .wrap(100)
    .help(false)
    .exitProcess(false)
    .fail((msg, err) => {
      throw new ConfigError(msg ?? err?.message ?? "invalid arguments", { cause: err });
    })
    .option("config", { type: "string", describe: "JSON config file (flat dotted keys or nested objects)" })
    .option("help", { type: "boolean", describe: "Show this help" });
  for (const spec of specs) {
    parser.option(spec.key, {
      type: spec.type,
      describe: `${spec.describe} [env ${envNameOf(spec.key)}]`,
      ...(spec.default !== undefined ? { default: spec.default } : {}),
      ...(spec.group ? { group: spec.group } : {}),
    });
  }
  const helpText = await parser.getHelp();
  const args = (await parser.parseAsync()) as Record<string, unknown>;
  if (args.help === true) return { config: {}, help: true, helpText };

  const fromFile = typeof args.config === "string" ? readConfigFile(args.config) : {};
  const known = new Set(specs.map((s) => s.key));
  for (const key of Object.keys(fromFile)) {
    if (!known.has(key))
      throw new ConfigError(`unknown option "${key}" in config file ${String(args.config)}`);
  }
  // yargs fills defaults; tell which values the user actually typed.
  const typed = new Set(
    argv.filter((a) => a.startsWith("--")).map((a) => a.slice(2).split("=")[0]?.replace(/^no-/, "")),
  );

  const config: Config = {};
  for (const spec of specs) {
    const envName = envNameOf(spec.key);
    let source = "default";
    let value: unknown = spec.default;
    if (spec.key in fromFile) {
      value = fromFile[spec.key];
      source = "config file";
    }
    if (env[envName] !== undefined) {
      value = coerceEnv(spec, env[envName] as string);
      source = `environment ${envName}`;
    }
    if (typed.has(spec.key)) {
      value = args[spec.key];
      source = `--${spec.key}`;
    }
    if (value === undefined) continue;
    const result = spec.schema.safeParse(value);
    if (!result.success) {
      const why = result.error.issues[0]?.message ?? "invalid value";
      throw new ConfigError(`invalid ${spec.key} from ${source}: ${JSON.stringify(value)} (${why})`);
    }
    config[spec.key] = result.data as string | number | boolean;
  }
  return { config, help: false, helpText };
}
