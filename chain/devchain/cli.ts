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
});

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
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(
      "usage: devchain [--port 9944] [--host 127.0.0.1] [--block-time 250 | --manual | --instant] [--db file] [--block-emission rao]",
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
  });
  if (opts.manual && opts.instant) throw new Error("--manual and --instant are exclusive");
  const chain = createDevChain({
    port: opts.port,
    host: opts.host,
    mode: opts.manual ? "manual" : opts.instant ? "instant" : "interval",
    blockTimeMs: opts.blockTime,
    pallets: subtensorPallets({ blockEmission: opts.blockEmission }),
    ...(opts.db ? { db: opts.db } : {}),
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
    console.error(`error: --${String(issue?.path[0] ?? "?")}: ${issue?.message ?? "invalid value"}`);
    process.exit(2);
  }
  console.error(e instanceof Error ? `error: ${e.message}` : e);
  process.exit(e instanceof TypeError ? 2 : 1);
});
