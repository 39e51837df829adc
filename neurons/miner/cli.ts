import { minerOptions } from "../config.js";
import { runCli } from "../run-cli.js";

const usage = `Usage: node neurons/miner.js [options]

Serves a share of this machine's disk to the subnet's validators: stores their chunks in one
SQLite store per validator and answers their challenges with Merkle proofs.`;

runCli(minerOptions, usage, async (config) => {
  // The serving loop (libp2p, registration, partitioning) lands with issue #4.
  console.error(
    `The miner node is not implemented yet (issue #4). Configuration accepted:\n${JSON.stringify(config, null, 2)}`,
  );
  return 1;
}).then((code) => {
  process.exitCode = code;
});
