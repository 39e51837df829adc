/**
 * `node neurons/client.js <command>`: the user's side of the subnet's storage. Files go through a
 * validator's gateway (`--gateway URL`, or the best one found on chain), encrypted for the hotkey
 * unless `--public`, and come back verified block by block against their CID.
 *
 * Exit codes: 0 done; 1 the operation failed (one line: unknown CID, network error, …); 2 a bad
 * command, argument or flag (one line); 130 interrupted.
 */
import type { Writable } from "node:stream";
import { ConfigError, defaultsOf, loadConfig } from "../config.js";
import { type ClientConfig, clientConfigSchema } from "./config.js";
import { parseRange, parseTtl, splitArgs } from "./flags.js";

const usage = `Usage: node neurons/client.js <command> [options]

Commands:
  put <file|->     Store a file (- reads stdin); prints its CID
  get <cid>        Read a file back, every block verified (-o FILE, --range a-b)
  ls               List your files
  status <cid>     Where a file's pieces are, and how many more miners may be lost
  rm <cid>         Remove one of your files
  info             The gateway's hotkey and limits

Files are encrypted for your hotkey (--wallet.*) unless --public; only that hotkey can read them.
The gateway is --gateway URL, or the validator with the most stake that publishes one on chain.`;

/** Positional arguments each command takes. */
const COMMANDS: Record<string, number> = { put: 1, get: 1, ls: 0, status: 1, rm: 1, info: 0 };

/** Where the CLI writes: the process's streams, or a test's. */
export interface Output {
  stdout: Writable;
  stderr: Writable & { isTTY?: boolean };
}

/** Runs the CLI; resolves to the exit code. */
export async function runClientCli(argv: string[], output: Output = process): Promise<number> {
  const fail = (code: number, message: string): number => {
    output.stderr.write(`error: ${firstLine(message)}\n`);
    return code;
  };
  const booleans = new Set(
    Object.entries(defaultsOf(clientConfigSchema))
      .filter(([, value]) => typeof value === "boolean")
      .map(([key]) => key),
  );
  let config: ClientConfig;
  let command: string;
  let args: string[];
  let ttlSeconds: number | undefined;
  let range: ReturnType<typeof parseRange> | undefined;
  try {
    const { positionals, options } = splitArgs(argv, booleans);
    const loaded = await loadConfig(clientConfigSchema, options, process.env, usage);
    if (loaded.help) {
      output.stdout.write(`${loaded.helpText}\n`);
      return 0;
    }
    config = loaded.config;
    [command = "", ...args] = positionals;
    const arity = COMMANDS[command];
    if (arity === undefined) {
      throw new ConfigError(
        command === ""
          ? "no command; use put, get, ls, status, rm or info"
          : `unknown command ${JSON.stringify(command)}; use put, get, ls, status, rm or info`,
      );
    }
    if (args.length !== arity) {
      throw new ConfigError(
        `${command} takes ${arity === 0 ? "no argument" : "one argument"}, got ${args.length}${args.length > 0 ? `: ${args.join(" ")}` : ""}`,
      );
    }
    ttlSeconds = config.ttl === undefined ? undefined : parseTtl(config.ttl);
    range = config.range === undefined ? undefined : parseRange(config.range);
    if (command === "get" && config.json && (config.output ?? "-") === "-") {
      throw new ConfigError("get --json prints a summary on stdout, so it needs -o FILE for the bytes");
    }
  } catch (error) {
    if (error instanceof ConfigError) return fail(2, `${error.message} (--help for usage)`);
    throw error;
  }

  // Loaded only now: the chain and crypto libraries take a second to load, and a bad flag needs none.
  const { runCommand } = await import("./commands.js");
  return runCommand({ command, arg: args[0] ?? "", config, ttlSeconds, range }, output);
}

/** The first line of a message: the CLI prints one line per failure. */
function firstLine(text: string): string {
  return text.split("\n")[0] ?? text;
}

runClientCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // A socket a library keeps alive must not hold a finished command open.
    setTimeout(() => process.exit(code), 3_000).unref();
  },
  (error: unknown) => {
    process.stderr.write(`error: ${firstLine(error instanceof Error ? error.message : String(error))}\n`);
    process.exit(1);
  },
);
