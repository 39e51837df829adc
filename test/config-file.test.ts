import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigFileError, readConfigFile } from "../sim/config-file.js";
import { loadSweep } from "../sim/experiment.js";
import { parseScenario } from "../sim/scenario.js";

const dir = mkdtempSync(join(tmpdir(), "config-file-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe("scenario and sweep files", () => {
  it("reads YAML and JSON to the same scenario", () => {
    const yaml = write("s.yaml", "name: lazy-yaml\nminers: 6\ntempos: 3\nadversaries:\n  lazy: 2\n");
    const json = write(
      "s.json",
      JSON.stringify({ name: "lazy-yaml", miners: 6, tempos: 3, adversaries: { lazy: 2 } }),
    );
    expect(parseScenario(readConfigFile(yaml))).toEqual(parseScenario(readConfigFile(json)));
  });

  it("names the file and the problem for unreadable or malformed files", () => {
    expect(() => readConfigFile(join(dir, "missing.yaml"))).toThrow(ConfigFileError);
    expect(() => readConfigFile(write("bad.json", "{ miners: "))).toThrow(/bad\.json is not valid JSON/);
    expect(() => readConfigFile(write("bad.yml", "miners: [1, 2\n"))).toThrow(/bad\.yml is not valid YAML/);
  });

  it("loads a YAML sweep file", () => {
    const sweep = loadSweep(
      write(
        "sweep.yaml",
        [
          "name: yaml-sweep",
          "base:",
          "  tempos: 5",
          "  miners:",
          "    - { behaviour: honest, count: 4 }",
          "  validators:",
          "    - { behaviour: honest, count: 2, stake: 1000 }",
          "parameters:",
          "  policy.params.alpha: [0.02, 0.05]",
          "seeds: [1]",
          "metrics: [honestShare]",
        ].join("\n"),
      ),
    );
    expect(sweep.parameters[0]?.values).toEqual([0.02, 0.05]);
  });
});
