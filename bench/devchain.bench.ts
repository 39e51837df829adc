/**
 * Benchmark group "devchain": time to a listening chain, an empty block, and a signed transfer
 * inside a block. Goals (from the dev chain brief): ready < 1 s, empty block < 5 ms.
 *
 * Baselines, measured in the same run: a bare HTTP server listening on an ephemeral port (start),
 * blake2-256 over 1 KiB (empty block: raw hashing), one sr25519 verification (per transfer: the
 * signature check every transaction needs).
 */
import { createServer } from "node:http";
import { Keyring } from "@polkadot/keyring";
import { blake2AsU8a, cryptoWaitReady, sr25519Verify } from "@polkadot/util-crypto";
import { createDevChain } from "../chain/devchain/chain.js";
import { signExtrinsic } from "../chain/devchain/extrinsic.js";
import { type BenchGroup, measured, percentile, timeIt } from "./harness.js";

const TRANSFERS = 200;

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
      const verifyUs = timeIt(() => sr25519Verify(message, sig, alice.publicKey), 200) * 1000;
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
          "submit + include per transfer; baseline: one sr25519 verify",
        ),
      );
    } finally {
      await chain.stop();
    }
  },
};
