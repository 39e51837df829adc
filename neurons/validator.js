// Entry point: `node neurons/validator.js`. Loads the validator as one bundled file (built by
// `npm install` / `npm run build`: scripts/bundle-nodes.ts says why).
import "../dist/neurons/validator.bundle.js";
