// Entry point: `node neurons/validator.js`. Loads the compiled validator (built by `npm install`).
import "../dist/polyfills.js";
import "../dist/neurons/validator/cli.js";
