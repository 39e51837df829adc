import "../polyfills.js";
import { parseArgs } from "node:util";
import { checkVectorFile, formatVectorResult, listVectorFiles } from "../chain/yuma/vectors.js";

const usage = `Usage: npm run yuma -- check <file-or-folder> [...] [--verbose]

check    replay Yuma conformance vectors through the epoch function; one line per file
         (PASS/FAIL, worst error, tolerance). Exit code 1 if any file fails.
--verbose  also print notes (fields the reference test does not assert, state mismatches)`;

function main(): number {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { verbose: { type: "boolean", default: false }, help: { type: "boolean", short: "h" } },
  });
  const [command, ...paths] = positionals;
  if (values.help || command !== "check" || paths.length === 0) {
    console.log(usage);
    return values.help ? 0 : 2;
  }
  let failed = 0;
  let total = 0;
  for (const path of paths) {
    let files: string[];
    try {
      files = listVectorFiles(path);
    } catch (err) {
      console.log(`FAIL ${path}  error: ${err instanceof Error ? err.message : String(err)}`);
      total++;
      failed++;
      continue;
    }
    for (const file of files) {
      const result = checkVectorFile(file);
      total++;
      if (!result.pass) failed++;
      console.log(formatVectorResult(result));
      if (values.verbose) for (const note of result.notes) console.log(`    note: ${note}`);
    }
  }
  console.log(`${total - failed}/${total} vector files pass`);
  return failed > 0 ? 1 : 0;
}

process.exitCode = main();
