import { format } from "node:util";

/**
 * Structured logs: one JSON object per line (`{"time":…,"level":"info","msg":"…",…fields}`),
 * written to stderr by default so stdout stays free for a program's output. A logger is a value
 * handed to whoever needs it; `child` adds fields (a component name, a peer id) to every line.
 */

export type LogLevel = "error" | "warn" | "info" | "debug" | "trace";

const LEVEL_RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3, trace: 4 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  readonly level: LogLevel;
  error(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  trace(msg: string, fields?: LogFields): void;
  /** True when messages of `level` are written (skip building expensive fields otherwise). */
  enabled(level: LogLevel): boolean;
  /** A logger writing the same way with `fields` added to every line. */
  child(fields: LogFields): Logger;
}

export interface LoggerInit {
  /** Most verbose level written. Default "info". */
  level?: LogLevel;
  /** Where each line goes (without its newline). Default: process.stderr. */
  write?: (line: string) => void;
  /** Fields on every line. */
  fields?: LogFields;
  /** Clock, for tests. */
  now?: () => Date;
}

/**
 * @example
 * const log = createLogger({ level: config["logging.debug"] ? "debug" : "info" });
 * log.info("listening", { multiaddr: "/ip4/…" });
 */
export function createLogger(init: LoggerInit = {}): Logger {
  const level = init.level ?? "info";
  const write = init.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const now = init.now ?? (() => new Date());
  const base = init.fields ?? {};
  const max = LEVEL_RANK[level];
  const emit = (at: LogLevel, msg: string, fields?: LogFields): void => {
    if (LEVEL_RANK[at] > max) return;
    const record = { time: now().toISOString(), level: at, msg, ...base, ...fields };
    let line: string;
    try {
      line = JSON.stringify(record, jsonSafe);
    } catch {
      line = JSON.stringify({ time: record.time, level: at, msg, note: "fields were not serializable" });
    }
    write(line);
  };
  return {
    level,
    error: (msg, fields) => emit("error", msg, fields),
    warn: (msg, fields) => emit("warn", msg, fields),
    info: (msg, fields) => emit("info", msg, fields),
    debug: (msg, fields) => emit("debug", msg, fields),
    trace: (msg, fields) => emit("trace", msg, fields),
    enabled: (at) => LEVEL_RANK[at] <= max,
    child: (fields) => createLogger({ level, write, now, fields: { ...base, ...fields } }),
  };
}

/** A logger that drops everything (tests, benchmarks). */
export function silentLogger(): Logger {
  return createLogger({ level: "error", write: () => undefined });
}

/** The level the `--logging.debug` / `--logging.trace` flags select. */
export function levelFromFlags(flags: { debug?: boolean; trace?: boolean }): LogLevel {
  if (flags.trace) return "trace";
  if (flags.debug) return "debug";
  return "info";
}

/** Errors as name/message/cause, bigints as strings, bytes as hex: every log line stays valid JSON. */
function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString("hex");
  if (value instanceof Error) {
    const out: Record<string, unknown> = { name: value.name, message: value.message };
    if (value.cause !== undefined) out.cause = value.cause;
    return out;
  }
  return value;
}

const CONSOLE_LEVELS = { error: "error", warn: "warn", info: "info", log: "info", debug: "debug" } as const;

/** The prefix @polkadot/util's `logger` puts before every message: a local time and `ORIGIN:`. */
const POLKADOT_DATE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/;
const POLKADOT_ORIGIN = /^\s*([A-Z0-9/_-]+):$/;

/**
 * Sends everything written through `console` to `log` as JSON lines, until the returned function
 * restores the console. For node processes only (their logs must be one JSON object a line):
 * @polkadot/api and @polkadot/rpc-provider write through @polkadot/util's `logger`, which has no
 * hook but `console` (`DEBUG` only switches its debug lines on), and print lines such as
 * `2026-01-01 12:00:00 API-WS: disconnected from ws://…` whenever the chain drops. Their date and
 * origin become the `origin` field; other console output gets `origin: "console"`.
 *
 * @example
 * const restore = routeConsoleToLog(log);
 * // … the node runs; console.warn("x") is now {"level":"warn","msg":"x","origin":"console",…}
 * restore();
 */
export function routeConsoleToLog(log: Logger): () => void {
  const saved = new Map<keyof typeof CONSOLE_LEVELS, (...args: unknown[]) => void>();
  for (const [method, level] of Object.entries(CONSOLE_LEVELS) as [keyof typeof CONSOLE_LEVELS, LogLevel][]) {
    saved.set(method, console[method]);
    console[method] = (...args: unknown[]) => {
      const [first, second, ...rest] = args;
      const origin = typeof second === "string" ? POLKADOT_ORIGIN.exec(second)?.[1] : undefined;
      if (typeof first === "string" && POLKADOT_DATE.test(first) && origin !== undefined) {
        log[level](format(...rest), { origin: origin.toLowerCase() });
      } else {
        log[level](format(...args), { origin: "console" });
      }
    };
  }
  return () => {
    for (const [method, original] of saved) console[method] = original;
  };
}
