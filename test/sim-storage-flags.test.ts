/**
 * The simulator's storage flags refuse bad values before anything starts: exit code 2 and one
 * line naming the flag (`node dist/sim/cli.js`, as `npm run sim` runs it).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = new URL("../", import.meta.url).pathname;

function sim(args: string[]): { status: number | null; lines: string[] } {
  const run = spawnSync(process.execPath, [join(root, "dist/sim/cli.js"), ...args], {
    cwd: root,
    encoding: "utf8",
    timeout: 30_000,
  });
  return { status: run.status, lines: run.stderr.trim().split("\n") };
}

describe("the simulator's storage flags", () => {
  it.each([
    [["--score-retrievals", "maybe"], /--score-retrievals: expected on or off/],
    [["--storage", "yes"], /--storage: expected on or off/],
    [["--repair", ""], /--repair: expected on or off/],
    [["--churn", "abc"], /--churn: expected a number/],
    [["--churn", "1e9"], /--churn: expected a number/],
  ])("%j exits 2 with one line", (args, pattern) => {
    if (!existsSync(join(root, "dist/sim/cli.js"))) throw new Error("run `npm run build` first");
    const { status, lines } = sim(args as string[]);
    expect(status).toBe(2);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(pattern as RegExp);
  });
});
