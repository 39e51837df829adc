// Entry point: `node neurons/client.js put FILE`. Loads the compiled client (built by `npm install`).
import "../dist/polyfills.js";
import "../dist/neurons/client/cli.js";
