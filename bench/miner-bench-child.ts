/**
 * The miner bench's server process: `node dist/bench/miner-bench-child.js <dbRoot>`, forked by
 * bench/miner.bench.ts with an IPC channel. Starts the servers of bench/miner-bench-servers.ts,
 * sends `{ type: "ready", targets }`, then answers `{ type: "cold" }` with
 * `{ type: "restarted", miner }` and `{ type: "stop" }` by stopping and exiting. Exits when the
 * parent goes away.
 */
import "../polyfills.js";
import { type BenchServers, startBenchServers } from "./miner-bench-servers.js";

/** What the parent sends. */
export type ChildCommand = { type: "cold" } | { type: "stop" };
/** What the child sends back. */
export type ChildReport =
  | { type: "ready"; targets: { miner: string; raw: string } }
  | { type: "restarted"; miner: string }
  | { type: "failed"; message: string };

function tell(report: ChildReport): void {
  process.send?.(report);
}

async function serve(dbRoot: string): Promise<void> {
  const servers: BenchServers = await startBenchServers(dbRoot);
  process.on("disconnect", () => {
    void servers.stop().finally(() => process.exit(0));
  });
  process.on("message", (command: ChildCommand) => {
    const done =
      command.type === "cold"
        ? servers.restartCold().then((miner) => tell({ type: "restarted", miner }))
        : servers.stop().then(() => process.exit(0));
    done.catch((error: unknown) => tell({ type: "failed", message: String(error) }));
  });
  tell({ type: "ready", targets: servers.targets });
}

const dbRoot = process.argv[2];
if (!dbRoot || !process.send) {
  console.error("usage: forked by bench/miner.bench.ts with <dbRoot>");
  process.exit(2);
}
serve(dbRoot).catch((error: unknown) => {
  tell({ type: "failed", message: String(error) });
  process.exit(1);
});
