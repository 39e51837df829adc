import "../polyfills.js";
import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { parseArgs } from "node:util";
import {
  type DurabilitySweep,
  loadDurabilitySweep,
  runDurabilitySweep,
  summariseDurabilitySweep,
} from "../sim/durability/sweep.js";

const usage = `Usage: npm run durability -- <sweep.json> [--out dir] [--target 1e-6]

Runs every point of a durability sweep (sim/durability/: the long-horizon model of piece loss and
repair) in this thread and writes <out>/results.csv (one row per point and seed, appended as points
finish) and <out>/report.html, then prints a Markdown table of the points, cheapest first, marking
the cheapest whose yearly file loss is under --target.
--out dir      output directory (default runs/durability/<sweep file name>)
--target p     yearly file-loss target for the table (default 1e-6)`;

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      out: { type: "string" },
      target: { type: "string", default: "1e-6" },
      help: { type: "boolean", short: "h" },
    },
  });
  const [file] = positionals;
  if (values.help || file === undefined || positionals.length > 1) {
    console.log(usage);
    return values.help ? 0 : 2;
  }
  const target = Number(values.target);
  if (!(target > 0 && target < 1)) {
    console.error(`--target must be a probability in (0, 1), got ${values.target}`);
    return 2;
  }
  let sweep: DurabilitySweep;
  try {
    sweep = loadDurabilitySweep(file);
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    return 2;
  }
  const outDir = values.out ?? join("runs", "durability", basename(file).replace(/\.(json|ya?ml)$/i, ""));
  const controller = new AbortController();
  process.once("SIGINT", () => {
    console.error("\ninterrupted: writing the report of the points run so far");
    controller.abort();
  });
  const started = performance.now();
  const summary = await runDurabilitySweep(sweep, {
    outDir,
    signal: controller.signal,
    onPoint: (done, total) => {
      const line = `${sweep.name}: ${done}/${total} points, ${((performance.now() - started) / 1000).toFixed(0)} s`;
      if (process.stderr.isTTY) process.stderr.write(`\r${line}   `);
      else if (done === total || done % 10 === 0) console.error(line);
    },
  });
  if (process.stderr.isTTY) process.stderr.write("\n");
  console.log(summariseDurabilitySweep(sweep, readFileSync(summary.csvPath, "utf8"), target));
  console.log(
    `\n${summary.ran} points run, ${summary.skipped} skipped (impossible: e.g. repair threshold ≥ m), of ${summary.points}; slowest ${summary.slowestSeconds.toFixed(1)} s`,
  );
  console.log(`results: ${summary.csvPath}`);
  console.log(`report:  ${summary.htmlPath}`);
  return controller.signal.aborted ? 130 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? `${err.name}: ${err.message}` : err);
    process.exit(1);
  },
);
