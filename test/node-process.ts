/**
 * Runs a node entry point (`neurons/miner.js`, `neurons/validator.js`) as a child process the way
 * an operator does, and reads its JSON log lines.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { expect } from "vitest";

const root = new URL("../", import.meta.url).pathname;

/** Every child started, so a test file's afterAll can kill what is left. */
export const children: ChildProcess[] = [];

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface Run {
  child: ChildProcess;
  stderr: () => string;
  /** Resolves with the first log record whose msg is `msg`. */
  waitFor: (msg: string, timeoutMs?: number) => Promise<Record<string, unknown>>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function runNode(script: string, args: string[]): Run {
  const child = spawn(process.execPath, [script, ...args], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let err = "";
  const waiters: Array<{ msg: string; resolve: (r: Record<string, unknown>) => void }> = [];
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (text: string) => {
    err += text;
    for (const line of text.split("\n")) {
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      for (const w of waiters.filter((x) => x.msg === record.msg)) w.resolve(record);
    }
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    stderr: () => err,
    exit,
    waitFor: (msg, timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no "${msg}" log line; stderr:\n${err}`)), timeoutMs);
        exit.then(() => setTimeout(() => reject(new Error(`${script} exited; stderr:\n${err}`)), 50));
        waiters.push({
          msg,
          resolve: (record) => {
            clearTimeout(timer);
            resolve(record);
          },
        });
      }),
  };
}

export async function expectStartupFailure(run: Run, pattern: RegExp): Promise<void> {
  const { code } = await run.exit;
  expect(code).toBe(1);
  const lines = run
    .stderr()
    .trim()
    .split("\n")
    .filter((l) => !l.startsWith("{"));
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
}
