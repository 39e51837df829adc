import { hash, randomFillSync } from "node:crypto";
import { createErasureCoder } from "../protocol/erasure.js";
import { type BenchGroup, measured, timeIt } from "./harness.js";

const MIB = 1 << 20;
const DATA_SHARDS = 10;
const PARITY_SHARDS = 4;
const SHARD_BYTES = MIB;

/**
 * Reed-Solomon encode and reconstruct of one k = 10, m = 4 stripe of 1 MiB shards, in MiB of
 * data per second on one core, against SHA-256 over the same 10 MiB in the same run (every piece
 * a gateway stores is hashed anyway, so this says what erasure coding adds on top).
 */
export const erasureBench: BenchGroup = {
  name: "erasure",
  description: "Reed-Solomon (10, 4) encode/reconstruct over 1 MiB shards vs SHA-256 of the same bytes",
  async run(report, signal) {
    const coder = createErasureCoder({ dataShards: DATA_SHARDS, parityShards: PARITY_SHARDS });
    const data = Array.from({ length: DATA_SHARDS }, () => randomFillSync(new Uint8Array(SHARD_BYTES)));
    const stripeMib = (DATA_SHARDS * SHARD_BYTES) / MIB;

    const shaMs = timeIt(() => {
      for (const shard of data) hash("sha256", shard, "buffer");
    }, 600);
    const shaMibS = stripeMib / (shaMs / 1000);
    report(
      measured(
        "erasure.sha256.per_core",
        shaMibS,
        "MiB/s",
        null,
        "the baseline: SHA-256 of the 10 MiB of data, one core",
      ),
    );
    signal.throwIfAborted();

    const encodeMs = timeIt(() => coder.encode(data), 1500);
    report(
      measured(
        "erasure.encode.per_core",
        stripeMib / (encodeMs / 1000),
        "MiB/s",
        shaMibS,
        "4 parity shards of 10 × 1 MiB, one core; baseline: SHA-256 of the same 10 MiB",
      ),
    );
    signal.throwIfAborted();

    // The worst case: m data shards lost, each rebuilt from all the rest.
    const parity = coder.encode(data);
    const damaged: (Uint8Array | undefined)[] = [...data, ...parity];
    for (let i = 0; i < PARITY_SHARDS; i++) damaged[i] = undefined;
    const rebuilt = coder.reconstruct(damaged);
    for (let i = 0; i < PARITY_SHARDS; i++) {
      if (Buffer.compare(rebuilt.get(i) as Uint8Array, data[i] as Uint8Array) !== 0)
        throw new Error(`shard ${i} was not rebuilt exactly in the benchmark`);
    }
    const reconstructMs = timeIt(() => coder.reconstruct(damaged), 1500);
    report(
      measured(
        "erasure.reconstruct.per_core",
        stripeMib / (reconstructMs / 1000),
        "MiB/s",
        shaMibS,
        "4 data shards lost, rebuilt from 6 data + 4 parity, MiB of stripe data per s, one core; baseline: SHA-256",
      ),
    );
  },
};
