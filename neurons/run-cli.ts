/**
 * The one lifecycle of the node CLIs (miner and validator): parse and validate the flags, start
 * the node's parts in order, run until SIGINT/SIGTERM, stop them in reverse order. Each part has
 * libp2p's `Startable` shape (`start()` / `stop()`).
 *
 * Exit codes: 0 after a clean shutdown; 1 when start-up failed (one line saying what to do) or a
 * part failed to stop; 2 for a bad flag (one line, no stack trace).
 */
import type { z } from "zod";
import { saveCodeCache } from "./code-cache.js";
import { type CommonConfig, ConfigError, loadConfig, type NodeSchema } from "./config.js";
import { type Logger, routeConsoleToLog } from "./logger.js";
import { type MetricsRegistry, type MetricsServer, serveMetrics } from "./metrics.js";
import { nodeLogger, StartupError } from "./startup.js";

/** A part of a node with a start/stop lifecycle, as libp2p's `Startable`. */
export interface Startable {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Something running that must be stopped (or closed) when the node stops. */
export interface Stoppable {
  stop(): Promise<void> | void;
}

/** What a node's start-up code gets: its config and logger, and where to register what it starts. */
export interface NodeRun<C> {
  readonly config: C;
  readonly log: Logger;
  /**
   * Starts `part` and stops it when the node stops, in reverse order of starting. A part whose
   * start throws is stopped too (stop must be safe on a half-started part, as in libp2p).
   */
  start<T extends Startable>(part: T): Promise<T>;
  /** Stops `part`, already running (a chain connection, an open database), when the node stops. */
  stopAtExit(part: Stoppable): void;
}

/** A node's command line: its name (the `node` field of its logs), options and start-up. */
export interface NodeCli<S extends NodeSchema> {
  name: string;
  schema: S;
  usage: string;
  /** Starts the node's parts through `node`; throws {@link StartupError} with the line to show. */
  setUp(node: NodeRun<z.output<S>>): Promise<void>;
}

/**
 * Parses and validates the flags, prints help, and turns a bad flag into one clear line and exit
 * code 2 instead of a stack trace; otherwise runs `start` with the config.
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
 * Runs a node from its config: `setUp` starts its parts, then the node runs until SIGINT or
 * SIGTERM and stops every part in reverse order. Resolves to the process's exit code.
 */
export async function runNode<C extends CommonConfig>(
  name: string,
  config: C,
  setUp: (node: NodeRun<C>) => Promise<void>,
): Promise<number> {
  const log = nodeLogger(config, name);
  // The chain client library writes plain text through console (see routeConsoleToLog); in a
  // running node every line on stderr is JSON.
  const restoreConsole = routeConsoleToLog(log);
  const stopping = shutdownSignal(log);
  const parts: Stoppable[] = [];
  const stopAll = async (onError: (error: unknown) => void) => {
    for (const part of parts.splice(0).reverse()) {
      try {
        await part.stop();
      } catch (error) {
        onError(error);
      }
    }
  };
  try {
    await setUp({
      config,
      log,
      async start(part) {
        parts.push(part);
        await part.start();
        return part;
      },
      stopAtExit(part) {
        parts.push(part);
      },
    });
  } catch (error) {
    // Start-up already failed: a part that also fails to stop adds nothing the operator can use.
    await stopAll(() => undefined);
    // The one line the operator reads is plain text.
    restoreConsole();
    const why = error instanceof Error ? error.message : String(error);
    console.error(error instanceof StartupError ? `error: ${why}` : `error: start-up failed: ${why}`);
    return 1;
  }
  // Up: the code cache now holds every function start-up compiled (the first start writes it).
  saveCodeCache();

  const signal = await stopping;
  log.info("shutting down", { signal });
  let code = 0;
  await stopAll((error) => {
    log.error("a part failed to stop", { error });
    code = 1;
  });
  log.info("stopped");
  return code;
}

/**
 * Runs a node's CLI as the process's main: {@link runCli}, then {@link runNode}. Sets the exit
 * code and makes sure a handle some library left open cannot keep a finished node alive.
 *
 * @example runNodeCli({ name: "validator", schema: validatorConfigSchema, usage, setUp: startValidator });
 */
export function runNodeCli<S extends NodeSchema>(
  cli: NodeCli<S> & { schema: z.ZodType<CommonConfig> },
): void {
  runCli(cli.schema, cli.usage, (config) => runNode(cli.name, config, cli.setUp)).then(
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

/** Resolves on the first SIGINT or SIGTERM; a second one exits at once. */
function shutdownSignal(log: Logger): Promise<string> {
  return new Promise((resolve) => {
    let received = false;
    const onSignal = (signal: string) => {
      if (received) {
        log.warn("second signal; exiting without a clean shutdown", { signal });
        process.exit(1);
      }
      received = true;
      resolve(signal);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
}

/** Serves `metrics` at /metrics on `--prometheus.port` when it is set; the server stops with the node. */
export async function serveNodeMetrics(node: NodeRun<CommonConfig>, metrics: MetricsRegistry): Promise<void> {
  const port = node.config["prometheus.port"];
  if (port === undefined) return;
  let server: MetricsServer;
  try {
    server = await serveMetrics(metrics, { port });
  } catch (error) {
    throw new StartupError(`cannot serve metrics on port ${port}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  node.stopAtExit(server);
  node.log.info("metrics at /metrics", { port: server.port });
}
