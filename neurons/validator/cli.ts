import { validatorOptions } from "../config.js";
import { runCli } from "../run-cli.js";

const usage = `Usage: node neurons/validator.js [options]

Stores data on the subnet's miners, challenges them at random, verifies their proofs, scores
them and sets weights on chain.`;

runCli(validatorOptions, usage, async (config) => {
  // The validator loop lands with issue #5.
  console.error(
    `The validator node is not implemented yet (issue #5). Configuration accepted:\n${JSON.stringify(config, null, 2)}`,
  );
  return 1;
}).then((code) => {
  process.exitCode = code;
});
