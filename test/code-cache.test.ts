import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import {
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CODE_CACHE_ENV, codeCacheDir, saveCodeCache } from "../neurons/code-cache.js";

const run = promisify(execFile);
const root = new URL("..", import.meta.url).pathname;
/**
 * The built loader (`npm test` builds first). Node's own compile cache (22.1+) is used where
 * present; these tests drive the vm.Script path that Node.js 20 takes.
 */
const loader = join(root, "dist", "neurons", "code-cache.js");

let dir: string;
let cacheDir: string;

/** A CommonJS "bundle" with enough functions for V8 to cache; it prints what it sees of CommonJS. */
function writeBundle(name: string, salt = ""): string {
  const functions = Array.from(
    { length: 50 },
    (_, i) => `function f${i}(x) { return x * ${i} + ${JSON.stringify(salt)}.length; }`,
  ).join("\n");
  const file = join(dir, `${name}.bundle.cjs`);
  writeFileSync(
    file,
    `"use strict";\n${functions}\nlet sum = 0;\nfor (let i = 0; i < 50; i++) sum += eval("f" + i)(i);\n` +
      `console.log(JSON.stringify({ sum, require: typeof require, dirname: __dirname }));\n`,
  );
  return file;
}

interface ChildRun {
  status: string;
  file: string | undefined;
  /** What the bundle printed: it ran. */
  program: { sum: number; require: string; dirname: string };
}

/**
 * Runs `bundle` through the built loader in a fresh Node.js process (one process's V8 keeps an
 * in-memory cache of what it compiled, so only a new process shows what the disk cache does),
 * then the node's "up" step when `save`.
 */
async function runBundle(
  bundle: string,
  options: { dir?: string | null; maxBytes?: number; save?: boolean } = {},
): Promise<ChildRun> {
  const { save = true, ...rest } = options;
  const script = join(dir, "start.mjs");
  writeFileSync(
    script,
    `import { runCachedBundle, saveCodeCache } from ${JSON.stringify(loader)};\n` +
      "const [bundle, options, save] = JSON.parse(process.argv[2]);\n" +
      "const run = runCachedBundle(bundle, { nodeCompileCache: false, ...options });\n" +
      "if (save) saveCodeCache();\n" +
      "console.log(JSON.stringify({ status: run.status, file: run.file }));\n",
  );
  const { stdout } = await run(process.execPath, [script, JSON.stringify([bundle, rest, save])]);
  const [program, result] = stdout.trim().split("\n");
  return { ...JSON.parse(result as string), program: JSON.parse(program as string) };
}

function cacheFiles(): string[] {
  try {
    return readdirSync(cacheDir).filter((n) => n.endsWith(".v8"));
  } catch {
    return [];
  }
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "code-cache-"));
  cacheDir = join(dir, "cache");
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("the node bundles' code cache", () => {
  it("misses on the first start, writes the cache once the node is up, and hits on the next", async () => {
    const bundle = writeBundle("miner");
    const early = await runBundle(bundle, { dir: cacheDir, save: false });
    expect(early.status).toBe("miss");
    expect(early.program).toEqual({ sum: 40425, require: "function", dirname: dir });
    expect(cacheFiles()).toEqual([]);
    const first = await runBundle(bundle, { dir: cacheDir });
    expect(first.status).toBe("miss");
    expect(cacheFiles()).toHaveLength(1);
    expect(first.file).toBe(join(cacheDir, cacheFiles()[0] as string));
    const second = await runBundle(bundle, { dir: cacheDir });
    expect(second.status).toBe("hit");
    expect(second.program.sum).toBe(40425);
    expect(cacheFiles()).toHaveLength(1);
  });

  it("leaves a cache another process of the same build wrote meanwhile", async () => {
    const bundle = writeBundle("miner");
    // A node that found no cache is up only after another start of the same build wrote one.
    const script = join(dir, "late.mjs");
    writeFileSync(
      script,
      `import { runCachedBundle } from ${JSON.stringify(loader)};\n` +
        `const run = runCachedBundle(${JSON.stringify(bundle)}, { nodeCompileCache: false, dir: ${JSON.stringify(cacheDir)} });\n` +
        "console.log(JSON.stringify({ status: run.status, file: run.file }));\n" +
        'process.stdin.once("data", () => { run.save(); process.exit(0); });\n',
    );
    const child = spawn(process.execPath, [script], { stdio: ["pipe", "pipe", "inherit"] });
    // Its second line (the first is the program's own): how it used the cache.
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    await lines.next();
    const { status, file } = JSON.parse((await lines.next()).value as string) as {
      status: string;
      file: string;
    };
    expect(status).toBe("miss");
    const other = await runBundle(bundle, { dir: cacheDir });
    expect(other.file).toBe(file);
    const written = readFileSync(file);
    child.stdin.write("up\n");
    await once(child, "exit");
    expect(readFileSync(file).equals(written)).toBe(true);
  });

  it("ignores a corrupt cache file, runs the program anyway, and replaces the file", async () => {
    const bundle = writeBundle("validator");
    await runBundle(bundle, { dir: cacheDir });
    const file = join(cacheDir, cacheFiles()[0] as string);
    const good = readFileSync(file);
    const flipped = Buffer.from(good);
    flipped[flipped.length - 10] = (flipped[flipped.length - 10] as number) ^ 0xff;
    for (const bad of [flipped, good.subarray(0, good.length - 100), good.subarray(0, 10), Buffer.alloc(0)]) {
      writeFileSync(file, bad);
      const again = await runBundle(bundle, { dir: cacheDir });
      expect(again.status).toBe("rejected");
      expect(again.program.sum).toBe(40425);
      expect(readFileSync(file).equals(bad)).toBe(false);
      expect((await runBundle(bundle, { dir: cacheDir })).status).toBe("hit");
    }
  });

  it("lets V8 refuse a well-formed cache of another program, and runs the program anyway", async () => {
    const bundle = writeBundle("miner");
    const other = writeBundle("other", "x".repeat(40));
    await runBundle(other, { dir: cacheDir });
    const foreign = readFileSync(join(cacheDir, cacheFiles()[0] as string));
    const mine = await runBundle(bundle, { dir: cacheDir });
    writeFileSync(mine.file as string, foreign);
    const again = await runBundle(bundle, { dir: cacheDir, save: false });
    expect(again.status).toBe("rejected");
    expect(again.program.sum).toBe(40425);
  });

  it("does not run a cache file that another user owns", async (ctx) => {
    ctx.skip(process.getuid?.() !== 0, "only root can hand a file to another user");
    const bundle = writeBundle("miner");
    const first = await runBundle(bundle, { dir: cacheDir });
    chownSync(first.file as string, 4242, 4242);
    const again = await runBundle(bundle, { dir: cacheDir, save: false });
    expect(again.status).toBe("rejected");
    expect(again.program.sum).toBe(40425);
  });

  it("does not read a cache file larger than maxBytes", async () => {
    const bundle = writeBundle("miner");
    await runBundle(bundle, { dir: cacheDir });
    const size = readFileSync(join(cacheDir, cacheFiles()[0] as string)).length;
    expect((await runBundle(bundle, { dir: cacheDir, maxBytes: size, save: false })).status).toBe("hit");
    const over = await runBundle(bundle, { dir: cacheDir, maxBytes: size - 1, save: false });
    expect(over.status).toBe("rejected");
    expect(over.program.sum).toBe(40425);
  });

  it("keys the cache by the bundle's content and prunes the files of older builds", async () => {
    const bundle = writeBundle("miner");
    await runBundle(bundle, { dir: cacheDir });
    const old = cacheFiles();
    writeBundle("miner", "a new build");
    expect((await runBundle(bundle, { dir: cacheDir })).status).toBe("miss");
    expect(cacheFiles()).toHaveLength(1);
    expect(cacheFiles()).not.toEqual(old);
    expect((await runBundle(bundle, { dir: cacheDir })).status).toBe("hit");
  });

  it("removes temporary files a killed writer left over a minute ago, not a live writer's", async () => {
    const bundle = writeBundle("miner");
    const first = await runBundle(bundle, { dir: cacheDir });
    const prefix = basename(first.file as string)
      .split("-")
      .slice(0, 2)
      .join("-");
    const abandoned = join(cacheDir, `${prefix}-old.v8.1.abcd.tmp`);
    const live = join(cacheDir, `${prefix}-new.v8.2.abcd.tmp`);
    writeFileSync(abandoned, "half a cache");
    writeFileSync(live, "half a cache");
    const twoMinutesAgo = new Date(Date.now() - 120_000);
    utimesSync(abandoned, twoMinutesAgo, twoMinutesAgo);
    writeBundle("miner", "a new build");
    await runBundle(bundle, { dir: cacheDir });
    expect(existsSync(abandoned)).toBe(false);
    expect(existsSync(live)).toBe(true);
  });

  it("runs without a cache when it is off or its directory cannot be written", async () => {
    const bundle = writeBundle("miner");
    const off = await runBundle(bundle, { dir: null });
    expect(off.status).toBe("off");
    expect(off.program.sum).toBe(40425);
    // A file where the directory should be: nothing can be written under it.
    writeFileSync(cacheDir, "not a directory");
    const blocked = await runBundle(bundle, { dir: join(cacheDir, "sub") });
    expect(blocked.status).toBe("miss");
    expect(blocked.program.sum).toBe(40425);
  });

  it("does nothing when saved outside a bundle the loader started", () => {
    expect(() => saveCodeCache()).not.toThrow();
  });

  it("finds its directory from the environment, XDG_CACHE_HOME or the home directory", () => {
    expect(codeCacheDir({ [CODE_CACHE_ENV]: "/x/cache" })).toBe("/x/cache");
    expect(codeCacheDir({ [CODE_CACHE_ENV]: "off" })).toBeNull();
    expect(codeCacheDir({ XDG_CACHE_HOME: "/xdg" })).toBe("/xdg/storage-subnet/code-cache");
    expect(codeCacheDir({})).toMatch(/\.cache\/storage-subnet\/code-cache$/);
  });

  it("starts the built node programs from their bundles, with the cache directory from the environment", async () => {
    const env = { ...process.env, [CODE_CACHE_ENV]: cacheDir };
    for (const program of ["neurons/miner.js", "neurons/validator.js"]) {
      const { stdout } = await run(process.execPath, [program, "--help"], { cwd: root, env });
      expect(stdout).toContain(`Usage: node ${program}`);
    }
    // --help ends before a node is up: nothing is written.
    expect(cacheFiles()).toEqual([]);
  });
});
