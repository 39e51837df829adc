// Entry point: `node neurons/miner.js --netuid 1`. Loads the miner as one bundled file (built by
// `npm install` / `npm run build`: scripts/bundle-nodes.ts says why).
import "../dist/neurons/miner.bundle.js";
