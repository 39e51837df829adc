/**
 * The limits and facts the client API (the gateway) runs with: the `api.*` options of the
 * validator's config, plus the connection-level caps that have no flag yet (named constants here,
 * each with its reason).
 */
import { decodeAddress, encodeAddress } from "@polkadot/util-crypto";
import { ConfigError, type ValidatorConfig } from "../../config.js";

/** SS58 prefix of hotkeys on subtensor: allow-list entries are normalized to it. */
const SS58_FORMAT = 42;

/** Puts one hotkey may have in flight at once (design-15: a client uploads a file or two at a time). */
export const DEFAULT_MAX_PUTS_PER_HOTKEY = 2;

/**
 * Puts in flight across all clients. Each holds a few MiB of stripes being coded and stored, so
 * 16 bound the gateway's put memory to well under a GiB and its miner traffic to what a round
 * of fill already sends.
 */
export const DEFAULT_MAX_PUTS_IN_FLIGHT = 16;

/** Largest request head (request line and headers); Node's own default, stated so it is a choice. */
export const DEFAULT_MAX_HEADER_BYTES = 16 * 1024;

/**
 * Time a client has to send its whole request head (slowloris). Ten seconds is far beyond what a
 * real client needs for a few hundred bytes of headers over any link.
 */
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;

/**
 * Longest silence on a connection: a put's body that stops arriving, a reader that stops reading
 * its response, an idle keep-alive that outlives keepAliveTimeout. The put is then aborted (its
 * pieces freed, nothing visible) and the socket closed.
 */
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

/** How long an idle keep-alive connection is kept between requests (Node's default). */
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 5_000;

/** Open connections at most; more are refused at accept, before any parsing. */
export const DEFAULT_MAX_CONNECTIONS = 1_024;

/**
 * Rate-limit buckets (hotkeys and IPs) remembered at most. A full bucket is forgotten, so only
 * clients that spent tokens in the last couple of seconds count; past the cap new keys are
 * refused (429) rather than the map grown, ~100 bytes a key: ~10 MB.
 */
export const DEFAULT_MAX_RATE_KEYS = 100_000;

export interface GatewaySettings {
  /** Hotkeys (ss58, prefix 42) allowed to store; null lets any hotkey store. */
  allow: ReadonlySet<string> | null;
  /** Largest file accepted, bytes (413 above). */
  maxFileSize: number;
  /** Bytes and files one hotkey may store, counting puts in flight (507 above). */
  quotaBytes: number;
  quotaFiles: number;
  /** Sustained requests per second per hotkey (signed) or per IP (anonymous); 429 above. */
  rate: number;
  /** Requests a bucket holds: twice the rate. */
  burst: number;
  maxPutsPerHotkey: number;
  maxPutsInFlight: number;
  /** Erasure coding the storage uses, reported by /v1/info. */
  dataShards: number;
  parityShards: number;
  /** The URL published in the commitment, reported by /v1/info; null when not published. */
  publicUrl: string | null;
  maxHeaderBytes: number;
  headersTimeoutMs: number;
  idleTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnections: number;
  maxRateKeys: number;
}

export type GatewayConfig = Pick<
  ValidatorConfig,
  | "api.allow"
  | "api.max_file_size"
  | "api.quota_bytes"
  | "api.quota_files"
  | "api.rate"
  | "api.data_shards"
  | "api.parity_shards"
  | "api.public_url"
>;

/**
 * The gateway's settings from the validator's options; throws ConfigError (one line) for an
 * `api.allow` entry that is not an ss58 address.
 *
 * @example gatewaySettingsFrom(defaultsOf(validatorConfigSchema)).maxFileSize // 10 GiB
 */
export function gatewaySettingsFrom(config: GatewayConfig): GatewaySettings {
  const rate = config["api.rate"];
  return {
    allow: parseAllowList(config["api.allow"]),
    maxFileSize: config["api.max_file_size"],
    quotaBytes: config["api.quota_bytes"],
    quotaFiles: config["api.quota_files"],
    rate,
    burst: Math.max(1, Math.ceil(rate * 2)),
    maxPutsPerHotkey: DEFAULT_MAX_PUTS_PER_HOTKEY,
    maxPutsInFlight: DEFAULT_MAX_PUTS_IN_FLIGHT,
    dataShards: config["api.data_shards"],
    parityShards: config["api.parity_shards"],
    publicUrl: config["api.public_url"] ?? null,
    maxHeaderBytes: DEFAULT_MAX_HEADER_BYTES,
    headersTimeoutMs: DEFAULT_HEADERS_TIMEOUT_MS,
    idleTimeoutMs: DEFAULT_IDLE_TIMEOUT_MS,
    keepAliveTimeoutMs: DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
    maxConnections: DEFAULT_MAX_CONNECTIONS,
    maxRateKeys: DEFAULT_MAX_RATE_KEYS,
  };
}

/**
 * `api.allow` as a set of normalized hotkeys: comma-separated, blanks ignored; unset (or only
 * blanks) means open to every hotkey.
 */
export function parseAllowList(text: string | undefined): ReadonlySet<string> | null {
  if (text === undefined) return null;
  const entries = text
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  if (entries.length === 0) return null;
  const allow = new Set<string>();
  for (const entry of entries) {
    const hotkey = normalizeHotkey(entry);
    if (hotkey === undefined) throw new ConfigError(`--api.allow: ${entry} is not an ss58 hotkey`);
    allow.add(hotkey);
  }
  return allow;
}

/** The ss58 (prefix 42) form of an address in any ss58 prefix; undefined when it is not one. */
export function normalizeHotkey(address: string): string | undefined {
  // decodeAddress also takes a hex public key; an allow list names hotkeys as ss58.
  if (/^0x/i.test(address)) return undefined;
  try {
    const publicKey = decodeAddress(address);
    return publicKey.length === 32 ? encodeAddress(publicKey, SS58_FORMAT) : undefined;
  } catch {
    return undefined;
  }
}
