import { type Config, ConfigError, loadConfig, type OptionSpec } from "./config.js";

/**
 * Shared front door of the node CLIs: parse and validate flags, print help, and turn a bad
 * flag into one clear line and exit code 2 instead of a stack trace.
 */
export async function runCli(
  specs: OptionSpec[],
  usage: string,
  start: (config: Config) => Promise<number>,
  argv: string[] = process.argv.slice(2),
): Promise<number> {
  try {
    const { config, help, helpText } = await loadConfig(specs, argv, process.env, usage);
    if (help) {
      console.log(helpText);
      return 0;
    }
    return await start(config);
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
export function runNodeCli(
  specs: OptionSpec[],
  usage: string,
  start: (config: Config) => Promise<number>,
): void {
  runCli(specs, usage, start).then(
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
