/**
 * The client CLI's argument forms: TTLs, byte ranges, and the command and positional arguments
 * that come before and between the options.
 */
import { ConfigError } from "../config.js";
import type { ByteRange } from "./api.js";

/** `30d`, `12h`, `90m`, `3600s` or plain seconds. */
export const TTL_PATTERN = /^([1-9]\d{0,11})([dhms]?)$/;

/** `a-b` (inclusive) or `a-` (to the end). */
export const RANGE_PATTERN = /^(\d{1,16})-(\d{0,16})$/;

const UNIT_SECONDS: Record<string, number> = { d: 86_400, h: 3_600, m: 60, s: 1, "": 1 };

/**
 * Seconds of a TTL flag.
 *
 * @example parseTtl("30d") // 2592000
 */
export function parseTtl(text: string): number {
  const match = TTL_PATTERN.exec(text);
  if (match === null)
    throw new ConfigError(`invalid --ttl ${JSON.stringify(text)}: use 30d, 12h, 90m, 3600s or seconds`);
  const seconds = Number(match[1]) * (UNIT_SECONDS[match[2] ?? ""] ?? 1);
  if (!Number.isSafeInteger(seconds)) throw new ConfigError(`invalid --ttl ${text}: too long`);
  return seconds;
}

/**
 * The byte range of a range flag: `a-b` is bytes a to b inclusive, `a-` from a to the end.
 *
 * @example parseRange("10-19") // { offset: 10, length: 10 }
 */
export function parseRange(text: string): ByteRange {
  const match = RANGE_PATTERN.exec(text);
  if (match === null) throw new ConfigError(`invalid --range ${JSON.stringify(text)}: use a-b or a-`);
  const offset = Number(match[1]);
  if (match[2] === "") return { offset, length: Number.MAX_SAFE_INTEGER - offset };
  const last = Number(match[2]);
  if (last < offset) throw new ConfigError(`invalid --range ${text}: the end comes before the start`);
  return { offset, length: last - offset + 1 };
}

/** Short options and the long ones they stand for. */
const SHORT_OPTIONS: Record<string, string> = { "-o": "--output", "-h": "--help" };

/**
 * Splits argv into the positional arguments (the command first) and the options, which
 * loadConfig parses. `booleans` are the options that take no value, so the word after one is a
 * positional; every other `--name` takes the next word as its value. `-` alone is a positional
 * (stdin or stdout); after `--` everything is.
 *
 * @example splitArgs(["put", "-", "--ttl", "1d", "--json"], new Set(["json"]))
 * // { positionals: ["put", "-"], options: ["--ttl", "1d", "--json"] }
 */
export function splitArgs(
  argv: string[],
  booleans: ReadonlySet<string>,
): { positionals: string[]; options: string[] } {
  const positionals: string[] = [];
  const options: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = SHORT_OPTIONS[argv[i] as string] ?? (argv[i] as string);
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === "-" || !arg.startsWith("-")) {
      positionals.push(arg);
      continue;
    }
    options.push(arg);
    const name = arg.replace(/^--?/, "").replace(/^no-/, "");
    if (arg.includes("=") || booleans.has(name) || name === "help") continue;
    const value = argv[i + 1];
    if (value !== undefined) {
      options.push(value);
      i++;
    }
  }
  return { positionals, options };
}
