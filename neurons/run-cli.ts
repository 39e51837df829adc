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
