/**
 * `npm run build`'s last step: each node entry point (`neurons/miner.js`, `neurons/validator.js`)
 * as one ES module file, `dist/neurons/<node>.bundle.js`, holding the compiled node and every
 * package it imports but the native ones.
 *
 * Why: a node imports about 2,000 module files (864 of them @polkadot's, 223 rxjs'), and Node.js
 * 20 resolves, reads and compiles each on every start with no cache for ES modules; that was about
 * 0.8 s of the ~1.5 s of CPU a node spent from spawn to serving. One file loads in a fraction of
 * that. The bundle is the same code (no minifying), so stack traces still name the functions.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "rolldown";

/** dist/, where tsc put the compiled sources this script bundles (it runs as dist/scripts/). */
const dist = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Each bundle: its name under dist/neurons/ and the compiled CLI it starts. */
const nodes = [
  { name: "miner", cli: "neurons/miner/cli.js" },
  { name: "validator", cli: "neurons/validator/cli.js" },
] as const;

/** Packages with a native addon: loaded from node_modules at run time, as before. */
const native = /^(better-sqlite3|bindings)(\/|$)/;

async function bundleNode(node: (typeof nodes)[number]): Promise<void> {
  const entry = `\0entry:${node.name}`;
  await build({
    input: entry,
    platform: "node",
    external: native,
    logLevel: "warn",
    plugins: [
      {
        name: "node-entry",
        resolveId: (id) => (id === entry ? id : null),
        // The polyfills run first, as in the unbundled entry point.
        load: (id) =>
          id === entry
            ? `import ${JSON.stringify(join(dist, "polyfills.js"))};\nimport ${JSON.stringify(join(dist, node.cli))};\n`
            : null,
      },
    ],
    output: { file: join(dist, "neurons", `${node.name}.bundle.js`), format: "esm", codeSplitting: false },
  });
}

await Promise.all(nodes.map(bundleNode));
