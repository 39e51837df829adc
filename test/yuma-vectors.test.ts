/**
 * Conformance: every vector file in the repo's chain/yuma/vectors/ and, when present, in the shared
 * folder ../shared/vectors/yuma/ (relative to the repo root) must pass. New files are picked up
 * without code changes.
 */
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { checkVectorFile, formatVectorResult, listVectorFiles } from "../chain/yuma/vectors.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const inRepo = resolve(repoRoot, "chain/yuma/vectors");
const shared = resolve(repoRoot, "../shared/vectors/yuma");

const folders: Array<[string, string]> = [["in-repo", inRepo]];
if (existsSync(shared)) folders.push(["shared", shared]);

describe("Yuma conformance vectors", () => {
  it("ships vector files in the repo", () => {
    expect(listVectorFiles(inRepo).length).toBeGreaterThan(0);
  });

  for (const [label, folder] of folders) {
    describe(label, () => {
      for (const file of listVectorFiles(folder)) {
        it(file.slice(folder.length + 1), () => {
          const result = checkVectorFile(file);
          expect(result.checks.length, formatVectorResult(result)).toBeGreaterThan(0);
          expect(result.pass, formatVectorResult(result)).toBe(true);
        });
      }
    });
  }
});
