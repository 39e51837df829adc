/**
 * `node dist/chain/devchain/cli.js --port 9944 [--block-time 250 | --manual | --instant] [--db file]`
 * Starts the subtensor-compatible dev chain (the Substrate base pallets plus SubtensorModule,
 * Commitments and AdminUtils) and prints its endpoint; Ctrl-C stops it.
 */
import "../../polyfills.js";
import { parseArgs } from "node:util";
import { z } from "zod";
import { createDevChain } from "./chain.js";
import { subtensorPallets } from "./pallets/subtensor/pallets.js";
import { DEFAULT_RPC_LIMITS } from "./rpc-server.js";

const MiB = 1024 * 1024;

/** One schema for the flags, with their defaults. */
export const DevChainCliSchema = z.object({
  port: z.coerce.number().int().min(0).max(65535).default(9944),
  host: z.string().default("127.0.0.1"),
  blockTime: z.coerce.number().int().min(1).default(250),
  manual: z.boolean().default(false),
  instant: z.boolean().default(false),
  db: z.string().optional(),
  /** Alpha emitted to each subnet per block, in rao (subtensor starts at 10^9 = 1 alpha). */
  blockEmission: z.coerce.bigint().min(0n).default(1_000_000_000n),
  // RPC limits, named and sized as a Substrate node's flags (sizes in MiB).
  rpcMaxRequestSize: z.coerce
    .number()
    .int()
    .min(1)
    .default(DEFAULT_RPC_LIMITS.maxRequestBytes / MiB),
  rpcMaxResponseSize: z.coerce
    .number()
    .int()
    .min(1)
    .default(DEFAULT_RPC_LIMITS.maxResponseBytes / MiB),
  rpcMaxConnections: z.coerce.number().int().min(1).default(DEFAULT_RPC_LIMITS.maxConnections),
  rpcMaxSubscriptionsPerConnection: z.coerce
    .number()
    .int()
    .min(1)
    .default(DEFAULT_RPC_LIMITS.maxSubscriptionsPerConnection),
  rpcMaxBatchRequestLen: z.coerce.number().int().min(1).default(DEFAULT_RPC_LIMITS.maxBatchLength),
  rpcMessageBufferCapacityPerConnection: z.coerce
    .number()
    .int()
    .min(1)
    .default(DEFAULT_RPC_LIMITS.maxInFlightPerConnection),
});

const RPC_FLAGS = {
  "rpc-max-request-size": "rpcMaxRequestSize",
  "rpc-max-response-size": "rpcMaxResponseSize",
  "rpc-max-connections": "rpcMaxConnections",
  "rpc-max-subscriptions-per-connection": "rpcMaxSubscriptionsPerConnection",
  "rpc-max-batch-request-len": "rpcMaxBatchRequestLen",
  "rpc-message-buffer-capacity-per-connection": "rpcMessageBufferCapacityPerConnection",
} as const;

export type DevChainCliOptions = z.infer<typeof DevChainCliSchema>;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: "string" },
      host: { type: "string" },
      "block-time": { type: "string" },
      manual: { type: "boolean" },
      instant: { type: "boolean" },
      db: { type: "string" },
      "block-emission": { type: "string" },
      ...Object.fromEntries(Object.keys(RPC_FLAGS).map((flag) => [flag, { type: "string" as const }])),
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(
      [
        "usage: devchain [--port 9944] [--host 127.0.0.1] [--block-time 250 | --manual | --instant] [--db file] [--block-emission rao]",
        "  RPC limits (Substrate's flags): --rpc-max-request-size 15 --rpc-max-response-size 15 (MiB)",
        "  --rpc-max-connections 100 --rpc-max-subscriptions-per-connection 1024",
        "  --rpc-max-batch-request-len 1000 --rpc-message-buffer-capacity-per-connection 64",
      ].join("\n"),
    );
    return;
  }
  const opts = DevChainCliSchema.parse({
    port: values.port,
    host: values.host,
    blockTime: values["block-time"],
    manual: values.manual,
    instant: values.instant,
    db: values.db,
    blockEmission: values["block-emission"],
    ...Object.fromEntries(
      Object.entries(RPC_FLAGS).map(([flag, key]) => [key, (values as Record<string, unknown>)[flag]]),
    ),
  });
  if (opts.manual && opts.instant) throw new Error("--manual and --instant are exclusive");
  const chain = createDevChain({
    port: opts.port,
    host: opts.host,
    mode: opts.manual ? "manual" : opts.instant ? "instant" : "interval",
    blockTimeMs: opts.blockTime,
    pallets: subtensorPallets({ blockEmission: opts.blockEmission }),
    ...(opts.db ? { db: opts.db } : {}),
    rpcLimits: {
      maxRequestBytes: opts.rpcMaxRequestSize * MiB,
      maxResponseBytes: opts.rpcMaxResponseSize * MiB,
      maxConnections: opts.rpcMaxConnections,
      maxSubscriptionsPerConnection: opts.rpcMaxSubscriptionsPerConnection,
      maxBatchLength: opts.rpcMaxBatchRequestLen,
      maxInFlightPerConnection: opts.rpcMessageBufferCapacityPerConnection,
    },
  });
  await chain.start();
  console.log(`devchain listening on ${chain.endpoint} (${chain.mode}, head #${chain.head.header.number})`);
  const shutdown = () => {
    void chain.stop().then(() => process.exit(0));
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
}

main().catch((e: unknown) => {
  if (e instanceof z.ZodError) {
    const issue = e.issues[0];
    const flag = String(issue?.path[0] ?? "?").replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    console.error(`error: --${flag}: ${issue?.message ?? "invalid value"}`);
    process.exit(2);
  }
  console.error(e instanceof Error ? `error: ${e.message}` : e);
  process.exit(e instanceof TypeError ? 2 : 1);
});
