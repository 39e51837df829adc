import { readFileSync } from "node:fs";
import { z } from "zod";
import { expandHome } from "../chain/expand-home.js";
import { CHUNK_SIZE, LEAF_SIZE, MAX_CHUNK_SIZE, MAX_FRAME_SIZE } from "../protocol/constants.js";
import { NodeError } from "./errors.js";
import type { AdmissionLimits, PeerLimits } from "./p2p/limits.js";

/**
 * One zod schema per node: each field is an option, named by its Bittensor-style dotted flag
 * (`wallet.name`), with its validation, default and help text. The CLI flags, the config file
 * (`--config file.json`) and the environment (`SUBNET_WALLET_NAME` for `wallet.name`) are all
 * derived from it, and so is the typed config a node reads (`config["neuron.concurrency"]` is a
 * number; a misspelt key does not compile), so the doors can never disagree on a name or a default.
 *
 * Precedence: flag > environment > config file > default.
 */
interface OptionInfo {
  describe: string;
  group: string;
}

const optionInfo = z.registry<OptionInfo>();

/** A schema field as an option: its help group and description. */
export function option<T extends z.ZodType>(group: string, describe: string, schema: T): T {
  // The registry is keyed by schema instance: each option needs its own.
  if (optionInfo.has(schema)) throw new ConfigError("an option schema is registered twice");
  optionInfo.add(schema, { describe, group });
  return schema;
}

/** A node's options: a zod object whose keys are the flags. */
export type NodeSchema = z.ZodObject<z.ZodRawShape>;

/** The environment variable an option is read from: `wallet.name` → `SUBNET_WALLET_NAME`. */
export function envNameOf(key: string): string {
  return `SUBNET_${key.replace(/[.-]/g, "_").toUpperCase()}`;
}

/** A bad flag, environment value or config file; the message is the one line shown. */
export class ConfigError extends NodeError {
  override name = "ConfigError";
}

const port = z.number().int().min(0).max(65535);

/**
 * The scoring policies a validator can run; neurons/validator/policy.ts implements one per name
 * (its registry is keyed by this type, so the two cannot drift apart).
 */
export const scoringPolicyName = z.enum(["ema", "strict", "windowed"]);
export type ScoringPolicyName = z.infer<typeof scoringPolicyName>;
const DEFAULT_SCORING_POLICY: ScoringPolicyName = "ema";

/** "a (default), b or c". */
function describeChoices(choices: readonly string[], fallback: string): string {
  const named = choices.map((c) => (c === fallback ? `${c} (default)` : c));
  return named.length < 2 ? named.join("") : `${named.slice(0, -1).join(", ")} or ${named.at(-1)}`;
}

const chunkSize = () => z.number().int().min(LEAF_SIZE).max(MAX_CHUNK_SIZE).default(CHUNK_SIZE);

/** Options every node shares: chain, wallet, storage location, logging. */
export const commonConfigSchema = z.object({
  netuid: option("Subnet", "Subnet uid", z.number().int().min(0).max(65535).default(1)),
  "wallet.name": option(
    "Wallet",
    "Wallet (coldkey) name under wallet.path",
    z.string().min(1).default("default"),
  ),
  "wallet.hotkey": option("Wallet", "Hotkey name inside the wallet", z.string().min(1).default("default")),
  "wallet.path": option(
    "Wallet",
    "Folder holding bittensor wallets",
    z.string().min(1).default("~/.bittensor/wallets"),
  ),
  "subtensor.network": option(
    "Chain",
    "local (the embedded dev chain unless an endpoint is given), test or finney",
    z.enum(["local", "test", "finney"]).default("local"),
  ),
  "subtensor.chain_endpoint": option(
    "Chain",
    "WebSocket endpoint of a subtensor node; overrides subtensor.network",
    z
      .string()
      .regex(/^wss?:\/\/\S+$/, "must be a ws:// or wss:// URL")
      .optional(),
  ),
  "subtensor.timeout": option(
    "Chain",
    "Seconds to wait for the chain at start-up",
    z.number().positive().max(600).default(30),
  ),
  db_root_path: option(
    "Storage",
    "Root folder of the node's databases (then <netuid>/<hotkey>/)",
    z.string().min(1).default("~/bittensor-db"),
  ),
  "logging.debug": option("Logging", "Log debug messages", z.boolean().default(false)),
  "logging.trace": option("Logging", "Log trace messages (very verbose)", z.boolean().default(false)),
  "prometheus.port": option(
    "Logging",
    "Serve Prometheus metrics on this port (off when unset)",
    port.optional(),
  ),
});

/** The miner's options: {@link commonConfigSchema} and its own. */
export const minerConfigSchema = commonConfigSchema.extend({
  "axon.port": option("Axon", "libp2p TCP port to listen on", port.default(8091)),
  "axon.ip": option("Axon", "Address to listen on", z.string().min(1).default("0.0.0.0")),
  "axon.external_ip": option(
    "Axon",
    "Address published on chain (defaults to axon.ip)",
    z.string().min(1).optional(),
  ),
  threshold: option(
    "Storage",
    "Share of the filesystem's free space the miner offers",
    z.number().gt(0).max(1).default(0.0001),
  ),
  chunk_size: option("Storage", "Chunk size in bytes", chunkSize()),
  // SQLite's page cache is per open store, one store per validator: 16 MB each (better-sqlite3's
  // compiled default) is ~1 GB for 64 validators once read. The OS page cache holds the same pages.
  "store.cache_mib": option(
    "Storage",
    "SQLite page cache of each validator's store, in MiB",
    z.number().min(0.0625).max(4096).default(16),
  ),
  register: option(
    "Subnet",
    "Register the hotkey (burned) if it is not registered",
    z.boolean().default(false),
  ),
  "wallet.password": option(
    "Wallet",
    "Password of an encrypted coldkey (only --register needs the coldkey)",
    z.string().optional(),
  ),
  "neuron.metagraph_interval": option(
    "Miner",
    "Seconds between metagraph reads (validators, stakes, budgets)",
    z.number().positive().default(60),
  ),
  // Longer than one tempo (360 blocks × 12 s = 72 min), when permits are recomputed: a validator
  // that drops out of the metagraph for a read or two, or loses its permit for a single epoch,
  // keeps its data. The space stays withheld from the others for at most that long.
  "neuron.validator_grace": option(
    "Miner",
    "Minutes a validator that left the metagraph or lost its permit keeps its chunks (0: evict at once)",
    z.number().min(0).default(90),
  ),
  // Sized for validators that keep a few requests in flight: a 1 MiB store takes ~10–30 ms, so
  // 16 streams and 200 requests/s are well above honest use and far below what hurts.
  "neuron.max_streams_per_peer": option(
    "Miner",
    "Concurrent streams one peer may open; more disconnects it",
    z.number().int().min(1).max(1024).default(16),
  ),
  "neuron.requests_per_second": option(
    "Miner",
    "Sustained requests per second per peer, per stranger's IP and per verified hotkey (bursts of twice that); more is refused",
    z.number().positive().default(200),
  ),
  // Admission (neurons/p2p/admission.ts): libp2p's 10 s upgrade timeout and one global cap of 64
  // let ~64 sockets that never finish the handshake shut every new validator dial out.
  "neuron.handshake_timeout": option(
    "Miner",
    "Seconds an inbound connection has to finish the libp2p handshake",
    z.number().positive().max(60).default(3),
  ),
  "neuron.max_pending_per_ip": option(
    "Miner",
    "Inbound connections mid-handshake from one IP that is not a validator's",
    z.number().int().min(1).max(4096).default(32),
  ),
  "neuron.max_connections_per_ip": option(
    "Miner",
    "Inbound connections from one IP that is not a validator's",
    z.number().int().min(1).max(4096).default(64),
  ),
  "neuron.unauthenticated_idle": option(
    "Miner",
    "Seconds a connection may stay open without an authenticated request",
    z.number().positive().max(3600).default(10),
  ),
  // 256 concurrent 1 MiB stores: a few per validator at the subnet's 64, so honest load is rarely
  // refused, while what unauthenticated streams can make the miner hold stays bounded.
  "neuron.max_buffered_bytes": option(
    "Miner",
    "Bytes of requests being read or handled at once, across all peers; past it requests are refused as busy",
    z
      .number()
      .int()
      .min(MAX_FRAME_SIZE)
      .default(256 * MAX_FRAME_SIZE),
  ),
});

/** The validator's options: {@link commonConfigSchema} and its own. */
export const validatorConfigSchema = commonConfigSchema.extend({
  "neuron.challenge_interval": option(
    "Validator",
    "Seconds between challenge rounds",
    z.number().positive().default(12),
  ),
  "neuron.chunks_per_challenge": option(
    "Validator",
    "Chunks named in one challenge",
    z.number().int().min(1).max(64).default(1),
  ),
  "neuron.leaves_per_chunk": option(
    "Validator",
    "Leaves proven per challenged chunk",
    z.number().int().min(1).max(64).default(1),
  ),
  "neuron.epoch_length": option(
    "Validator",
    "Blocks between weight settings",
    z.number().int().min(1).default(100),
  ),
  "neuron.challenge_timeout": option(
    "Validator",
    "Seconds a miner has to answer a challenge",
    z.number().positive().max(600).default(5),
  ),
  "neuron.fill_per_round": option(
    "Validator",
    "New chunks sent to one miner per round at most",
    z.number().int().min(0).max(4096).default(16),
  ),
  "neuron.concurrency": option(
    "Validator",
    "Miners a round works on at once (dial, fill, challenge)",
    z.number().int().min(1).max(1024).default(32),
  ),
  "neuron.max_chunks_per_miner": option(
    "Validator",
    "Chunks placed on one miner at most, whatever its budget",
    z.number().int().min(1).default(1024),
  ),
  "neuron.retrieve_probability": option(
    "Validator",
    "Chance per round and miner of retrieving a whole chunk and checking it",
    z.number().min(0).max(1).default(0.05),
  ),
  "neuron.scoring_policy": option(
    "Validator",
    `Scoring policy: ${describeChoices(scoringPolicyName.options, DEFAULT_SCORING_POLICY)}`,
    scoringPolicyName.default(DEFAULT_SCORING_POLICY),
  ),
  "neuron.challenge_retention": option(
    "Validator",
    "Hours of challenge history kept; older records are pruned (scores keep what they added)",
    z.number().positive().default(24),
  ),
  // A full visit of an honest miner is a hello, an evictions query, up to `fill_per_round` (16)
  // 1 MiB stores and a challenge: about a second on loopback, and well under a minute on a slow
  // link. A silent or trickling miner's visit ends here at the latest.
  "neuron.miner_deadline": option(
    "Validator",
    "Seconds one miner's work in a round (dial, hello, evictions, fill, challenge, retrieval) may take in all",
    z.number().positive().max(3600).default(60),
  ),
  chunk_size: option("Storage", "Chunk size in bytes (must match the miners')", chunkSize()),
  // The client API (issue 15): the validator as the gateway users store files through.
  "api.port": option(
    "API",
    "Serve the client API (put/get files) on this TCP port; off when unset",
    port.optional(),
  ),
  "api.host": option("API", "Address the client API listens on", z.string().min(1).default("0.0.0.0")),
  "api.public_url": option(
    "API",
    "URL clients reach the API at, published in the validator's commitment (unset: not published)",
    z.string().url().optional(),
  ),
  "api.allow": option(
    "API",
    "Comma-separated hotkeys (ss58) allowed to store files; unset lets any hotkey store",
    z.string().optional(),
  ),
  "api.max_file_size": option(
    "API",
    "Largest file accepted, in bytes (10 GiB)",
    z
      .number()
      .int()
      .min(1)
      .default(10 * 1024 ** 3),
  ),
  "api.quota_bytes": option(
    "API",
    "Bytes one client (hotkey) may store in all (1 GiB)",
    z
      .number()
      .int()
      .min(0)
      .default(1024 ** 3),
  ),
  "api.quota_files": option(
    "API",
    "Files one client (hotkey) may store",
    z.number().int().min(0).default(10_000),
  ),
  "api.rate": option(
    "API",
    "Requests per second one client may make (burst: twice that)",
    z.number().positive().default(50),
  ),
  "api.data_shards": option("API", "Data pieces per stripe (k)", z.number().int().min(1).max(64).default(10)),
  "api.parity_shards": option(
    "API",
    "Parity pieces per stripe (m): any m miners of a stripe may be lost",
    z.number().int().min(0).max(64).default(4),
  ),
  "api.repair_bandwidth": option(
    "API",
    "Bytes per second repair may read from miners at most (16 MiB/s)",
    z
      .number()
      .int()
      .min(1)
      .default(16 * 1024 ** 2),
  ),
  "api.repair_threshold": option(
    "API",
    "Rebuild a stripe once at most k + this many of its pieces are left (0 waits until only k are; default m − 1: any lost piece)",
    z.number().int().min(0).max(64).optional(),
  ),
  "api.offline_grace": option(
    "API",
    "Seconds a miner may stay unreachable before its pieces are rebuilt elsewhere",
    z.number().positive().default(600),
  ),
  "api.score_retrievals": option(
    "API",
    "Score every piece fetched for a read or repair like a challenge (false: challenges alone score)",
    z.boolean().default(true),
  ),
});

/** What every node reads, typed: `config["wallet.name"]` is a string. */
export type CommonConfig = z.output<typeof commonConfigSchema>;
export type MinerConfig = z.output<typeof minerConfigSchema>;
export type ValidatorConfig = z.output<typeof validatorConfigSchema>;

/**
 * The per-peer request limits the miner's options set: bursts of twice the sustained rate.
 *
 * @example peerLimitsFrom(defaultsOf(minerConfigSchema)) // { maxStreamsPerPeer: 16, requestsPerSecond: 200, burst: 400 }
 */
export function peerLimitsFrom(
  config: Pick<
    MinerConfig,
    "neuron.max_streams_per_peer" | "neuron.requests_per_second" | "neuron.max_buffered_bytes"
  >,
): Pick<PeerLimits, "maxStreamsPerPeer" | "requestsPerSecond" | "burst" | "maxBufferedBytes"> {
  const requestsPerSecond = config["neuron.requests_per_second"];
  return {
    maxStreamsPerPeer: config["neuron.max_streams_per_peer"],
    requestsPerSecond,
    burst: Math.max(1, Math.ceil(requestsPerSecond * 2)),
    maxBufferedBytes: config["neuron.max_buffered_bytes"],
  };
}

/**
 * The connection admission limits the miner's options set (the others keep their defaults).
 *
 * @example admissionLimitsFrom(defaultsOf(minerConfigSchema)).handshakeTimeoutMs // 3000
 */
export function admissionLimitsFrom(
  config: Pick<
    MinerConfig,
    | "neuron.handshake_timeout"
    | "neuron.max_pending_per_ip"
    | "neuron.max_connections_per_ip"
    | "neuron.unauthenticated_idle"
  >,
): Pick<
  AdmissionLimits,
  "handshakeTimeoutMs" | "maxPendingPerIp" | "maxConnectionsPerIp" | "unauthenticatedIdleMs"
> {
  return {
    handshakeTimeoutMs: config["neuron.handshake_timeout"] * 1000,
    maxPendingPerIp: config["neuron.max_pending_per_ip"],
    maxConnectionsPerIp: config["neuron.max_connections_per_ip"],
    unauthenticatedIdleMs: config["neuron.unauthenticated_idle"] * 1000,
  };
}

/**
 * Every option at its default: the one set of defaults the nodes' code falls back on too.
 *
 * @example defaultsOf(validatorConfigSchema)["neuron.concurrency"] // 32
 */
export function defaultsOf<S extends NodeSchema>(schema: S): z.output<S> {
  return schema.parse({});
}

type OptionType = "string" | "number" | "boolean";

/** What yargs and the environment need to know of one field: its value type, default and help. */
function describeOption(key: string, field: z.ZodType): { type: OptionType; default?: unknown } & OptionInfo {
  const info = optionInfo.get(field);
  if (info === undefined) throw new ConfigError(`option ${key} has no description`);
  let inner: z.ZodType = field;
  let fallback: unknown;
  if (inner instanceof z.ZodDefault) {
    fallback = inner.def.defaultValue;
    inner = inner.unwrap() as z.ZodType;
  }
  if (inner instanceof z.ZodOptional) inner = inner.unwrap() as z.ZodType;
  const type: OptionType =
    inner instanceof z.ZodNumber ? "number" : inner instanceof z.ZodBoolean ? "boolean" : "string";
  return { ...info, type, ...(fallback !== undefined ? { default: fallback } : {}) };
}

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

function coerceEnv(type: OptionType, raw: string): unknown {
  if (type === "number") return raw.trim() === "" ? Number.NaN : Number(raw);
  if (type === "boolean") {
    if (/^(1|true|yes)$/i.test(raw)) return true;
    if (/^(0|false|no)$/i.test(raw)) return false;
    return raw;
  }
  return raw;
}

/** What {@link loadConfig} found: the validated config, or a request for the help text. */
export type LoadedConfig<S extends NodeSchema> =
  | { help: false; config: z.output<S> }
  | { help: true; helpText: string };

/**
 * Parses argv, the environment and an optional config file into the config `schema` describes.
 * Throws {@link ConfigError} naming the first bad option and where it came from.
 *
 * @example
 * const loaded = await loadConfig(validatorConfigSchema, process.argv.slice(2), process.env, usage);
 * if (!loaded.help) loaded.config["neuron.concurrency"]; // number
 */
export async function loadConfig<S extends NodeSchema>(
  schema: S,
  argv: string[],
  env: NodeJS.ProcessEnv,
  usage: string,
): Promise<LoadedConfig<S>> {
  const options = Object.entries(schema.shape).map(([key, field]) => ({
    key,
    ...describeOption(key, field as z.ZodType),
  }));
  // Loaded here, not at import: the schema's many readers (policies, the simulator) need no yargs.
  const { default: yargs } = await import("yargs");
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
  for (const option of options) {
    parser.option(option.key, {
      type: option.type,
      describe: `${option.describe} [env ${envNameOf(option.key)}]`,
      ...(option.default !== undefined ? { default: option.default } : {}),
      group: option.group,
    });
  }
  const args = (await parser.parseAsync()) as Record<string, unknown>;
  // Only when asked: laying out the help text costs about 40 ms of a node's start-up CPU.
  if (args.help === true) return { help: true, helpText: await parser.getHelp() };

  const fromFile = typeof args.config === "string" ? readConfigFile(args.config) : {};
  for (const key of Object.keys(fromFile)) {
    if (!Object.hasOwn(schema.shape, key))
      throw new ConfigError(`unknown option "${key}" in config file ${String(args.config)}`);
  }
  // yargs fills defaults; tell which values the user actually typed.
  const typed = new Set(
    argv.filter((a) => a.startsWith("--")).map((a) => a.slice(2).split("=")[0]?.replace(/^no-/, "")),
  );

  // Unset options stay out: the schema fills in their defaults.
  const raw: Record<string, unknown> = {};
  const sources: Record<string, string> = {};
  for (const { key, type } of options) {
    const envName = envNameOf(key);
    if (key in fromFile) {
      raw[key] = fromFile[key];
      sources[key] = "config file";
    }
    if (env[envName] !== undefined) {
      raw[key] = coerceEnv(type, env[envName] as string);
      sources[key] = `environment ${envName}`;
    }
    if (typed.has(key)) {
      raw[key] = args[key];
      sources[key] = `--${key}`;
    }
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    // Issues come in the schema's field order: the first is the first bad option.
    const issue = result.error.issues[0];
    const key = String(issue?.path[0]);
    const why = issue?.message ?? "invalid value";
    throw new ConfigError(
      `invalid ${key} from ${sources[key] ?? "default"}: ${JSON.stringify(raw[key])} (${why})`,
    );
  }
  return { help: false, config: result.data };
}
