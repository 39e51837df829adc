// Entry point: `node neurons/miner.js --netuid 1`. Loads the compiled miner (built by `npm install`).
import "../dist/polyfills.js";
import "../dist/neurons/miner/cli.js";
