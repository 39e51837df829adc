// `npm run sim -- --miners 20`: the whole-network simulator lands with issue #6.
console.error(
  "The simulator is not implemented yet (issue #6). What exists today: the protocol (protocol/), the miner's chunk stores (neurons/miner/) and their tests and benchmarks — see README.",
);
process.exitCode = 1;
