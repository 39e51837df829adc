/**
 * Benchmark group "devchain": time to a listening chain (in process, and as a fresh `devchain`
 * process), an empty block, and a signed transfer inside a block. Goals (from the dev chain
 * brief): ready < 1 s, empty block < 5 ms.
 *
 * Baselines, measured in the same run: a bare HTTP server listening on an ephemeral port (start),
 * a `node -e` process that starts a bare HTTP server and prints a line (process start),
 * blake2-256 over 1 KiB (empty block: raw hashing), one sr25519 verification with the WASM build
 * the chain itself uses (per transfer: the signature check every transaction needs).
 */
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";
import { Keyring } from "@polkadot/keyring";
import { blake2AsU8a, cryptoWaitReady } from "@polkadot/util-crypto";
import { sr25519Verify, waitReady } from "@polkadot/wasm-crypto";
import { createDevChain } from "../chain/devchain/chain.js";
import { signExtrinsic } from "../chain/devchain/extrinsic.js";
import { type BenchGroup, measured, percentile, timeIt } from "./harness.js";

const TRANSFERS = 200;
/** A process that has not printed its ready line by then is broken, not slow. */
const PROCESS_READY_TIMEOUT_MS = 20_000;

/** The built CLI, beside this module in dist/ (dist/bench → dist/chain/devchain/cli.js). */
const DEVCHAIN_CLI = fileURLToPath(new URL("../chain/devchain/cli.js", import.meta.url));

/** The baseline process: what any Node process that serves HTTP pays before it can print "listening". */
const BARE_SERVER_SCRIPT =
  "require('node:http').createServer().listen(0,'127.0.0.1',function(){console.log('listening on '+this.address().port)})";

/**
 * Spawns `node …args`, returns the milliseconds from spawn until a stdout line contains `ready`,
 * then stops the process and waits for it to exit.
 */
async function timeProcessReady(args: string[], ready: string, signal: AbortSignal): Promise<number> {
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  try {
    return await new Promise<number>((resolve, reject) => {
      const timeout = AbortSignal.any([signal, AbortSignal.timeout(PROCESS_READY_TIMEOUT_MS)]);
      const fail = (why: string) =>
        reject(new Error(`${args.join(" ")}: ${why}${stderr ? `\n${stderr}` : ""}`));
      timeout.addEventListener("abort", () => fail("no ready line in time"), { once: true });
      let out = "";
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes(ready)) resolve(performance.now() - t0);
      });
      child.once("exit", (code) => fail(`exited with ${code} before it was ready`));
      child.once("error", (e) => fail(e.message));
    });
  } finally {
    child.kill("SIGTERM");
    await exited;
  }
}

async function listenOnce(): Promise<number> {
  const start = performance.now();
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const ms = performance.now() - start;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return ms;
}

export const devchainBench: BenchGroup = {
  name: "devchain",
  description: "embedded dev chain: start, empty block, signed transfer",
  async run(report, signal) {
    await cryptoWaitReady();
    await waitReady();
    const starts: number[] = [];
    const listens: number[] = [];
    for (let i = 0; i < 3 && !signal.aborted; i++) {
      listens.push(await listenOnce());
      const t0 = performance.now();
      const chain = createDevChain({ port: 0, mode: "manual", log: () => {} });
      await chain.start();
      starts.push(performance.now() - t0);
      await chain.stop();
    }
    report(
      measured(
        "devchain.start",
        percentile(starts, 50),
        "ms",
        percentile(listens, 50),
        "baseline: bare HTTP listen; goal < 1000 ms",
      ),
    );

    const processReady: number[] = [];
    const bareProcess: number[] = [];
    for (let i = 0; i < 3 && !signal.aborted; i++) {
      bareProcess.push(await timeProcessReady(["-e", BARE_SERVER_SCRIPT], "listening", signal));
      processReady.push(
        await timeProcessReady([DEVCHAIN_CLI, "--port", "0", "--manual"], "listening", signal),
      );
    }
    report(
      measured(
        "devchain.processReady",
        percentile(processReady, 50),
        "ms",
        percentile(bareProcess, 50),
        "spawn until 'devchain listening'; baseline: node -e bare HTTP server; goal < 1000 ms",
      ),
    );

    const chain = createDevChain({ port: 0, mode: "manual", log: () => {} });
    await chain.start();
    try {
      const data = new Uint8Array(1024).fill(7);
      const hashMs = timeIt(() => blake2AsU8a(data, 256), 200);
      const blockMs = timeIt(() => chain.newBlock(), 1000);
      report(
        measured("devchain.emptyBlock", blockMs, "ms", hashMs, "baseline: blake2-256 of 1 KiB; goal < 5 ms"),
      );

      const keyring = new Keyring({ type: "sr25519" });
      const alice = keyring.addFromUri("//Alice");
      const bob = keyring.addFromUri("//Bob");
      const call = {
        pallet: "Balances",
        call: "transfer_keep_alive",
        args: { dest: { tag: "Id", value: bob.publicKey }, value: 1_000_000n },
      };
      const signed: Uint8Array[] = [];
      for (let nonce = 0; nonce < TRANSFERS; nonce++)
        signed.push(signExtrinsic(chain.runtime, call, alice, { nonce, genesisHash: chain.genesis.hash }));
      const message = new Uint8Array(100).fill(1);
      const sig = alice.sign(message);
      if (!sr25519Verify(sig, message, alice.publicKey))
        throw new Error("baseline signature does not verify");
      const verifyUs = timeIt(() => sr25519Verify(sig, message, alice.publicKey), 200) * 1000;
      const t0 = performance.now();
      for (const x of signed) chain.submit(x);
      const [block] = chain.newBlock();
      const perTxUs = ((performance.now() - t0) * 1000) / TRANSFERS;
      if (block?.extrinsics.length !== TRANSFERS + 1)
        throw new Error("bench block did not include every transfer");
      report(
        measured(
          "devchain.transfer",
          perTxUs,
          "µs",
          verifyUs,
          "submit + include per transfer; baseline: one sr25519 verify (@polkadot/wasm-crypto)",
        ),
      );
    } finally {
      await chain.stop();
    }
  },
};
