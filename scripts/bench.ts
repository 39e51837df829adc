import "../polyfills.js";
import { parseArgs } from "node:util";
import { benchGroups, namedOnlyGroups } from "../bench/groups.js";
import type { BenchResult } from "../bench/harness.js";

const usage = `Usage: npm run bench [-- [group ...] [--json]]

Groups: ${Object.keys(benchGroups).join(", ")}.
When none is named, all run but ${[...namedOnlyGroups].join(", ")} (minutes each: name it to run it).
--json   print one JSON line per figure: {"name","value","unit","baseline","ratio"}`;

function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  if (abs >= 1000) return n.toFixed(0);
  if (abs >= 10) return n.toFixed(1);
  if (abs >= 0.1) return n.toFixed(2);
  return n.toPrecision(3);
}

function printHuman(r: BenchResult): void {
  const base = r.baseline === null ? "" : `  baseline ${formatNumber(r.baseline)} ${r.unit}`;
  const ratio = r.ratio === null ? "" : `  ratio ${r.ratio.toFixed(3)}`;
  const note = r.note ? `  (${r.note})` : "";
  console.log(
    `${r.name.padEnd(34)} ${formatNumber(r.value).padStart(10)} ${r.unit.padEnd(8)}${base}${ratio}${note}`,
  );
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { json: { type: "boolean", default: false }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) {
    console.log(usage);
    return 0;
  }
  const names =
    positionals.length > 0 ? positionals : Object.keys(benchGroups).filter((n) => !namedOnlyGroups.has(n));
  const unknown = names.filter((n) => !(n in benchGroups));
  if (unknown.length > 0) {
    console.error(`Unknown benchmark group: ${unknown.join(", ")}\n\n${usage}`);
    return 2;
  }
  const controller = new AbortController();
  process.once("SIGINT", () => controller.abort());
  for (const name of names) {
    const load = benchGroups[name];
    if (!load) continue;
    const group = await load();
    if (!values.json) console.log(`\n# ${group.name}: ${group.description}`);
    await group.run((r) => {
      if (values.json) {
        const { name: n, value, unit, baseline, ratio } = r;
        console.log(JSON.stringify({ name: n, value, unit, baseline, ratio }));
      } else {
        printHuman(r);
      }
    }, controller.signal);
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
