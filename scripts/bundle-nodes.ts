/**
 * `npm run build`'s last step: each program that starts a node process (`neurons/miner.js`,
 * `neurons/validator.js`, and the simulator's node runner) as one ES module file,
 * `dist/neurons/<node>.bundle.js` and `dist/sim/node-runner.bundle.js`, holding the compiled code
 * and every package it imports but the native ones.
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

/** Each bundle, under dist/: the file it writes and the compiled module it starts. */
const bundles = [
  { out: "neurons/miner.bundle.js", main: "neurons/miner/cli.js" },
  { out: "neurons/validator.bundle.js", main: "neurons/validator/cli.js" },
  { out: "sim/node-runner.bundle.js", main: "sim/node-runner.js" },
] as const;

/**
 * Packages with a native addon: loaded from node_modules at run time, as before. The Merkle addon
 * is loaded with a runtime `require` (protocol/merkle-native.ts) that the bundler does not follow;
 * it is listed so that no later change of that load can pull the package into a bundle.
 */
const native = /^(better-sqlite3|bindings|storage-subnet-merkle-native)(\/|$)/;

async function bundleProgram(bundle: (typeof bundles)[number]): Promise<void> {
  const entry = `\0entry:${bundle.out}`;
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
            ? `import ${JSON.stringify(join(dist, "polyfills.js"))};\nimport ${JSON.stringify(join(dist, bundle.main))};\n`
            : null,
      },
    ],
    output: { file: join(dist, bundle.out), format: "esm", codeSplitting: false },
  });
}

await Promise.all(bundles.map(bundleProgram));
