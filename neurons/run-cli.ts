import type { z } from "zod";
import { ConfigError, loadConfig, type NodeSchema } from "./config.js";

/**
 * Shared front door of the node CLIs: parse and validate flags, print help, and turn a bad
 * flag into one clear line and exit code 2 instead of a stack trace.
 */
export async function runCli<S extends NodeSchema>(
  schema: S,
  usage: string,
  start: (config: z.output<S>) => Promise<number>,
  argv: string[] = process.argv.slice(2),
): Promise<number> {
  try {
    const loaded = await loadConfig(schema, argv, process.env, usage);
    if (loaded.help) {
      console.log(loaded.helpText);
      return 0;
    }
    return await start(loaded.config);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`error: ${err.message}\nRun with --help to see every option.`);
      return 2;
    }
    throw err;
  }
}

/**
 * Runs a node's CLI as the process's main: sets the exit code from {@link runCli} and makes sure
 * a handle some library left open cannot keep a finished node alive.
 */
export function runNodeCli<S extends NodeSchema>(
  schema: S,
  usage: string,
  start: (config: z.output<S>) => Promise<number>,
): void {
  runCli(schema, usage, start).then(
    (code) => {
      process.exitCode = code;
      setTimeout(() => process.exit(code), 3_000).unref();
    },
    (error: unknown) => {
      console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
