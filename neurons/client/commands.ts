/**
 * What the client CLI's commands do once their arguments are parsed (cli.ts): load the hotkey,
 * find the gateway, run the command, print its result (text or --json) and turn a failure into
 * one line and exit code 1 (130 when interrupted).
 */
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { mkdtemp, rename, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { loadHotkey, WalletError } from "../../chain/wallet.js";
import { commonConfigSchema, defaultsOf } from "../config.js";
import {
  type ByteRange,
  createStorageClient,
  type FileInfo,
  type FileStatus,
  type StorageClient,
} from "./api.js";
import type { Output } from "./cli.js";
import type { ClientConfig } from "./config.js";
import { chainGateways } from "./discovery.js";
import { ClientError, GatewayError } from "./errors.js";
import { createProgressReporter, formatBytes, type ProgressReporter } from "./progress.js";
import { fileSource } from "./source.js";
import { userSecretOf } from "./user-secret.js";

/** A parsed command line. */
export interface CommandRequest {
  command: string;
  /** The command's one argument (a file or CID), or "" for ls and info. */
  arg: string;
  config: ClientConfig;
  ttlSeconds: number | undefined;
  range: ByteRange | undefined;
}

/** Runs one command; resolves to the exit code. */
export async function runCommand(request: CommandRequest, output: Output): Promise<number> {
  const { command, arg, config, ttlSeconds, range } = request;
  const fail = (code: number, message: string): number => {
    output.stderr.write(`error: ${message.split("\n")[0]}\n`);
    return code;
  };
  const abort = new AbortController();
  const onSignal = () => abort.abort(new ClientError("interrupted"));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  let stopChain: (() => Promise<void>) | undefined;
  const progress = config.json
    ? undefined
    : createProgressReporter({
        write: (text) => output.stderr.write(text),
        tty: output.stderr.isTTY === true,
      });
  try {
    const key = await loadHotkey({
      name: config["wallet.name"],
      hotkey: config["wallet.hotkey"],
      path: config["wallet.path"],
    });
    let gateway: Parameters<typeof createStorageClient>[0]["gateway"];
    if (config.gateway !== undefined) gateway = config.gateway;
    else {
      // connectChain reads only the subtensor.* options; the nodes' others keep their defaults.
      const { connectChain } = await import("../startup.js");
      const chain = await connectChain({ ...defaultsOf(commonConfigSchema), ...config });
      stopChain = () => chain.stop();
      gateway = chainGateways(chain, config.netuid, { signal: abort.signal });
    }
    const client = createStorageClient({
      gateway,
      hotkey: key.keypair,
      userSecret: userSecretOf(key.keypair, key.secretSeed),
      timeoutMs: config.timeout * 1000,
    });
    const context: Context = {
      client,
      config,
      output,
      signal: abort.signal,
      progress,
      ttlSeconds,
      range,
    };
    await run(command, arg, context);
    return 0;
  } catch (error) {
    progress?.finish();
    if (abort.signal.aborted) return fail(130, "interrupted");
    if (error instanceof GatewayError && error.status === 404 && arg !== "") {
      return fail(
        1,
        `unknown CID ${arg}: no file of this hotkey, nor a public one, has it (${error.message})`,
      );
    }
    if (
      error instanceof ClientError ||
      error instanceof WalletError ||
      (error as Error).name === "StartupError"
    ) {
      return fail(1, (error as Error).message);
    }
    return fail(1, error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await stopChain?.().catch(() => undefined);
  }
}

interface Context {
  client: StorageClient;
  config: ClientConfig;
  output: Output;
  signal: AbortSignal;
  progress: ProgressReporter | undefined;
  ttlSeconds: number | undefined;
  range: ByteRange | undefined;
}

async function run(command: string, arg: string, context: Context): Promise<void> {
  const { client, config, output, signal, progress } = context;
  const print = (value: unknown, text: string) =>
    output.stdout.write(config.json ? `${JSON.stringify(value)}\n` : text === "" ? "" : `${text}\n`);
  const onProgress = progress?.update;
  switch (command) {
    case "put": {
      const info = await withSource(arg, signal, (path) =>
        client.put(fileSource(path), {
          public: config.public,
          ...(context.ttlSeconds !== undefined ? { ttlSeconds: context.ttlSeconds } : {}),
          ...(onProgress !== undefined ? { onProgress } : {}),
          signal,
        }),
      );
      progress?.finish();
      print(info, info.cid);
      return;
    }
    case "get": {
      const bytes = client.get(arg, {
        ...(context.range !== undefined ? { range: context.range } : {}),
        ...(onProgress !== undefined ? { onProgress } : {}),
        signal,
      });
      const target = config.output ?? "-";
      const written =
        target === "-" ? await writeStdout(bytes, output.stdout) : await writeFile(bytes, target, signal);
      progress?.finish();
      print({ cid: arg, bytes: written, output: target }, "");
      return;
    }
    case "ls": {
      const files = await client.list({ signal });
      print({ files }, formatList(files));
      return;
    }
    case "status": {
      const status = await client.status(arg, { signal });
      print(status, formatStatus(status));
      return;
    }
    case "rm": {
      const removed = await client.remove(arg, { signal });
      print(removed, `removed ${removed.cid}`);
      return;
    }
    case "info": {
      const info = await client.info({ signal });
      print(
        info,
        [
          `gateway     ${info.url}`,
          `hotkey      ${info.hotkey}`,
          `netuid      ${info.netuid}`,
          `version     ${info.version}`,
          `pieces      ${info.dataShards} data + ${info.parityShards} parity per stripe`,
          `max file    ${formatBytes(info.maxFileSize)}`,
        ].join("\n"),
      );
      return;
    }
  }
}

/**
 * Runs `use` on a file path: the file named, or for "-" stdin spooled to a temporary file (a
 * put reads its bytes twice), deleted afterwards whatever happens.
 */
async function withSource<T>(
  arg: string,
  signal: AbortSignal,
  use: (path: string) => Promise<T>,
): Promise<T> {
  if (arg !== "-") {
    let isFile: boolean;
    try {
      isFile = (await stat(arg)).isFile();
    } catch (cause) {
      throw new ClientError(`cannot read ${arg}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`);
    }
    if (!isFile) throw new ClientError(`${arg} is not a file`);
    return use(arg);
  }
  const dir = await mkdtemp(join(tmpdir(), "storage-client-"));
  try {
    const spooled = join(dir, "stdin");
    await pipeline(process.stdin, createWriteStream(spooled, { mode: 0o600 }), { signal });
    return await use(spooled);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function writeStdout(bytes: AsyncIterable<Uint8Array>, stdout: Writable): Promise<number> {
  let written = 0;
  for await (const chunk of bytes) {
    written += chunk.length;
    if (!stdout.write(chunk)) await once(stdout, "drain");
  }
  return written;
}

/** Writes to a temporary file beside `path` and renames it into place only when all is verified. */
async function writeFile(
  bytes: AsyncIterable<Uint8Array>,
  path: string,
  signal: AbortSignal,
): Promise<number> {
  const partial = join(dirname(path), `.${basename(path)}.partial-${process.pid}`);
  let written = 0;
  const counted = (async function* () {
    for await (const chunk of bytes) {
      written += chunk.length;
      yield chunk;
    }
  })();
  try {
    await pipeline(Readable.from(counted), createWriteStream(partial), { signal });
    await rename(partial, path);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  return written;
}

function formatList(files: FileInfo[]): string {
  if (files.length === 0) return "no files";
  const rows = [
    ["CID", "SIZE", "ACCESS", "CREATED", "EXPIRES"],
    ...files.map((f) => [
      f.cid,
      formatBytes(f.size),
      f.public ? "public" : "private",
      new Date(f.createdAt).toISOString(),
      f.expiresAt === null ? "-" : new Date(f.expiresAt).toISOString(),
    ]),
  ];
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? [];
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

function formatStatus(status: FileStatus): string {
  const lines = [
    `cid         ${status.cid}`,
    `size        ${formatBytes(status.size)} (${status.size} bytes, ${status.public ? "public" : "private"})`,
    `expires     ${status.expiresAt === null ? "never" : new Date(status.expiresAt).toISOString()}`,
    `stripes     ${status.stripes} (up to ${status.dataShards} data + ${status.parityShards} parity pieces each)`,
    `pieces      ${status.pieces.total} total, ${status.pieces.lost} lost, ${status.pieces.pendingRepair} waiting for repair, ${status.pieces.repaired} repaired`,
    `redundancy  ${status.redundancy}`,
    `health      ${status.health}: ${status.health} more miner${status.health === 1 ? "" : "s"} may be lost`,
  ];
  for (const stripe of status.stripesDetail ?? []) {
    const parity = stripe.pieces.filter((p) => p.shard >= stripe.dataShards).length;
    lines.push(
      `stripe ${stripe.index}    ${stripe.dataShards} data + ${parity} parity, margin ${stripe.margin}`,
    );
    for (const piece of stripe.pieces) {
      const uid = piece.uid === null ? "unregistered" : `uid ${piece.uid}`;
      lines.push(
        `  shard ${String(piece.shard).padStart(2)}  ${piece.state.padEnd(4)}  ${piece.miner} (${uid})`,
      );
    }
  }
  return lines.join("\n");
}
