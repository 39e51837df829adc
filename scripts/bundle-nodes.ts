/**
 * `npm run build`'s last step: each program that starts a node process (`neurons/miner.js`,
 * `neurons/validator.js`, and the simulator's node runner) as one CommonJS file,
 * `dist/neurons/<node>.bundle.cjs` and `dist/sim/node-runner.bundle.cjs`, holding the compiled
 * code and every package it imports but the native ones; beside each, `<name>.bundle.js`, the
 * small ES module that runs it through V8's code cache (neurons/code-cache.ts).
 *
 * Why: a node imports about 2,000 module files (864 of them @polkadot's, 223 rxjs'), and Node.js
 * 20 resolves, reads and compiles each on every start with no cache for ES modules; that was about
 * 0.8 s of the ~1.5 s of CPU a node spent from spawn to serving. One file loads in a fraction of
 * that. The bundle is the same code (no minifying), so stack traces still name the functions.
 *
 * Why CommonJS: Node.js 20 can hand V8 a code cache only for a script (`vm.Script`), not for an
 * ES module; with the cache, a start skips compiling the bundle (~0.1 s of CPU). The output is
 * strict mode, as the ES modules it comes from; `import.meta.url` becomes the bundle's own URL.
 */
import { writeFile } from "node:fs/promises";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "rolldown";

/** dist/, where tsc put the compiled sources this script bundles (it runs as dist/scripts/). */
const dist = join(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * Each bundle, under dist/: the program's file (what `node` runs: `<out>.js`, beside the code in
 * `<out>.cjs`) and the compiled module it starts.
 */
const bundles = [
  { out: "neurons/miner.bundle", main: "neurons/miner/cli.js" },
  { out: "neurons/validator.bundle", main: "neurons/validator/cli.js" },
  { out: "sim/node-runner.bundle", main: "sim/node-runner.js" },
] as const;

/** The loader each program's `.js` file imports. */
const loader = "neurons/code-cache.js";

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
    // `import.meta` in a package (@polkadot's packageInfo) becomes `{}`, with its `.url` the bundle's.
    onLog: (level, log, handler) => {
      if (log.code !== "EMPTY_IMPORT_META") handler(level, log);
    },
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
    // yargs' `extends` of a package name is the one use of `import.meta` beyond `.url`; the node
    // CLIs never ask for it, and rolldown makes it `{}` (a failed lookup yargs already handles).
    transform: { define: { "import.meta.resolve": "undefined" } },
    // ASCII only (other characters in code as \u escapes, and no comments, where most of them
    // were): V8 keeps a source with one character past ASCII as a two-byte string for the life of
    // the process, twice the bytes, in every node process. The compiled sources in dist/ keep
    // their comments.
    output: {
      file: join(dist, `${bundle.out}.cjs`),
      format: "cjs",
      strict: true,
      codeSplitting: false,
      charset: "ascii",
      comments: false,
    },
  });
  const from = dirname(join(dist, bundle.out));
  const loaderPath = relative(from, join(dist, loader));
  const program = [
    "// Written by scripts/bundle-nodes.ts: runs the bundled program with V8's code cache.",
    `import { runCachedBundle } from ${JSON.stringify(loaderPath.startsWith(".") ? loaderPath : `./${loaderPath}`)};`,
    `runCachedBundle(new URL(${JSON.stringify(`./${basename(bundle.out)}.cjs`)}, import.meta.url));`,
    "",
  ].join("\n");
  await writeFile(join(dist, `${bundle.out}.js`), program);
}

await Promise.all(bundles.map(bundleProgram));
