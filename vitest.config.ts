import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["./vitest.setup.ts"],
    // Integration tests start real SQLite files, child processes, libp2p hosts and a dev chain.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Forks isolate native modules (better-sqlite3) and child-process tests from each other.
    pool: "forks",
  },
});
