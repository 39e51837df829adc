import "../polyfills.js";
import { availableParallelism } from "node:os";
import { basename, join } from "node:path";
import { parseArgs } from "node:util";
import { loadSweep, MAX_FULL_POINTS, runSweep, type SweepProgress } from "../sim/experiment.js";

const usage = `Usage: npm run experiment -- <sweep.json> [--out dir] [--workers N] [--resume]

Runs every point of a sweep in fast mode (sim/fast/) and writes <out>/results.csv (one row per
point, appended as points finish) and <out>/report.html (one chart per metric).
A sweep over a storage knob (storage.*, k, m, scoreRetrievals, challengeRate; or "mode": "full")
runs each point with the full simulator instead, one at a time (at most ${MAX_FULL_POINTS} points), keeps
each run in <out>/points/<n>/, wall-clock figures (retrieval p50/p99) in <out>/timings.csv, and
plots durability and availability against cost in the report.
--out dir     output directory (default runs/experiments/<sweep file name>)
--workers N   worker threads (default ${availableParallelism()}, the available cores; 0 runs in this thread;
              full mode runs one point at a time whatever this says)
--resume      keep results.csv and run only the points missing from it`;

function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return "?";
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      out: { type: "string" },
      workers: { type: "string" },
      resume: { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  });
  const [file] = positionals;
  if (values.help || file === undefined || positionals.length > 1) {
    console.log(usage);
    return values.help ? 0 : 2;
  }
  const workers = values.workers === undefined ? availableParallelism() : Number(values.workers);
  if (!Number.isInteger(workers) || workers < 0) {
    console.error(`--workers must be a whole number ≥ 0, got ${values.workers}`);
    return 2;
  }
  let sweep: ReturnType<typeof loadSweep>;
  try {
    sweep = loadSweep(file);
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    return 2;
  }
  if (sweep.notice) console.error(`${sweep.name}: ${sweep.notice}`);
  const outDir = values.out ?? join("runs", "experiments", basename(file).replace(/\.json$/i, ""));
  const controller = new AbortController();
  process.once("SIGINT", () => {
    console.error("\ninterrupted: finishing the points under way; rerun with --resume to continue");
    controller.abort();
  });
  const tty = process.stderr.isTTY;
  const progress = (p: SweepProgress) => {
    const pct = ((100 * p.done) / p.total).toFixed(0);
    const line = `${sweep.name}: ${p.done}/${p.total} points (${pct}%)${p.skipped ? `, ${p.skipped} already done` : ""}, elapsed ${formatMs(p.elapsedMs)}, eta ${formatMs(p.etaMs)}`;
    if (tty) process.stderr.write(`\r${line}   `);
    else if (p.done === p.total || p.done % Math.max(1, Math.floor(p.total / 20)) === 0) console.error(line);
  };
  const summary = await runSweep(sweep, {
    outDir,
    workers,
    resume: values.resume,
    signal: controller.signal,
    onProgress: progress,
  });
  if (tty) process.stderr.write("\n");
  console.log(`${summary.ran} points run, ${summary.skipped} already done, of ${summary.points}`);
  console.log(`results: ${summary.csvPath}`);
  console.log(`report:  ${summary.htmlPath}`);
  return summary.aborted ? 130 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? `${err.name}: ${err.message}` : err);
    process.exit(1);
  },
);
