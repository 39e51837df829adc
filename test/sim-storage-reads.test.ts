/**
 * Reads in the simulator's storage workload on the real parts: a miner that answers every
 * challenge but refuses user retrievals earns less than an honest miner, because the gateway
 * scores each piece it fetches for a read like a challenge; users still get every file back
 * (the refused pieces are rebuilt from the others). Unscored (storage.scoreRetrievals false), the
 * refuser is paid like an honest miner; the worked experiment at scale is
 * sim/experiments/retrieval-serving.json (README, "Worked experiment: does paying for serving stop
 * refuse-reads"). Two runs with the same seed write a byte-identical files.csv.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createEnvelope, type Envelope } from "../protocol/messages.js";
import { challengedOnlyMiner, readRefuser } from "../sim/adversaries.js";
import { createRunWriter, summarize } from "../sim/report.js";
import { parseScenario } from "../sim/scenario.js";
import { runSimulation, type SimResult } from "../sim/simulator.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** One miner of six answers every challenge and refuses user reads; the gateway scores reads unless told not to. */
function refuseReadsScenario(scoreRetrievals = true) {
  return parseScenario({
    name: scoreRetrievals ? "refuse-reads" : "refuse-reads-unscored",
    miners: 6,
    validatorStakes: [1000],
    tempos: 4,
    adversaries: { "refuse-reads": 1 },
    storage: {
      enabled: true,
      clients: 1,
      uploadsPerTempo: 4,
      readsPerTempo: 16,
      popularitySkew: 0,
      largeShare: 0,
      dataShards: 1,
      parityShards: 2,
      scoreRetrievals,
    },
  });
}

const scenario = refuseReadsScenario();

async function run(runScenario = scenario): Promise<{ dir: string; result: SimResult }> {
  const dir = mkdtempSync(join(tmpdir(), "sim-storage-reads-"));
  dirs.push(dir);
  const result = await runSimulation({
    scenario: runScenario,
    outDir: dir,
    writer: createRunWriter(dir, runScenario),
  });
  return { dir, result };
}

/** The refuser's emission per miner over an honest miner's, and the run's availability. */
async function refuserVsHonest(scoreRetrievals: boolean): Promise<{ ratio: number; availability: number }> {
  const runScenario = refuseReadsScenario(scoreRetrievals);
  const { result } = await run(runScenario);
  const summary = summarize(runScenario, result.tempos, false, result.reads);
  return {
    ratio: summary.emissionShare["refuse-reads"]?.perMinerVsHonest ?? Number.NaN,
    availability: summary.storage?.availability ?? Number.NaN,
  };
}

describe("the read adversaries' handlers", () => {
  const honest = (req: Envelope) => createEnvelope({ type: "pong" } as never, { requestId: req.requestId });
  const noStores = {} as never;

  it("refuse-reads answers every retrieve with an error and passes anything else on", async () => {
    const refuser = readRefuser();
    const retrieve = createEnvelope({ type: "retrieve", storeId: "s", chunkIndex: 1 }, { requestId: 7 });
    const reply = await refuser.handle(retrieve, honest as never, noStores);
    expect(reply.body.type).toBe("error");
    expect(reply.requestId).toBe(7);
    const other = createEnvelope({ type: "evictions", storeId: "s", sinceSeq: 0 }, { requestId: 8 });
    expect((await refuser.handle(other, honest as never, noStores)).body.type).toBe("pong");
  });

  it("challenged-only drops a chunk never challenged within the given number of challenges", async () => {
    const deleted: number[] = [];
    const stores = { store: () => ({ delete: (i: number) => deleted.push(i) }) } as never;
    const ack = (req: Envelope) =>
      createEnvelope(
        {
          type: "store-ack",
          storeId: "s",
          chunkIndex: (req.body as { chunkIndex: number }).chunkIndex,
          root: new Uint8Array(32),
        },
        { requestId: req.requestId },
      );
    const miner = challengedOnlyMiner({ afterChallenges: 2 });
    for (const chunkIndex of [0, 1])
      await miner.handle(
        createEnvelope(
          { type: "store", storeId: "s", chunkIndex, data: new Uint8Array(4) },
          { requestId: chunkIndex },
        ),
        ack as never,
        stores,
      );
    const challenge = (chunkIndex: number) =>
      createEnvelope(
        {
          type: "challenge",
          challenge: {
            storeId: "s",
            chunks: [{ chunkIndex, leafIndices: [0] }],
            nonce: new Uint8Array(32),
            deadline: 0,
          },
        },
        { requestId: 9 },
      );
    await miner.handle(challenge(0), honest as never, stores);
    expect(deleted).toEqual([]);
    await miner.handle(challenge(0), honest as never, stores);
    expect(deleted).toEqual([1]);
  });
});

describe("a miner that refuses reads", () => {
  const runs: { dir: string; result: SimResult }[] = [];

  it("earns less than an honest miner, and users still get every file back", async () => {
    runs.push(await run());
    const { result } = runs[0]!;
    const summary = summarize(scenario, result.tempos, false, result.reads);
    expect(summary.storage?.availability).toBe(1);
    expect(summary.emissionShare["refuse-reads"]?.miners).toBe(1);
    expect(summary.emissionShare["refuse-reads"]?.perMinerVsHonest).toBeLessThan(0.9);
  }, 60_000);

  it("writes a byte-identical files.csv for the same seed", async () => {
    runs.push(await run());
    const [a, b] = runs;
    const left = readFileSync(join(a!.dir, "files.csv"));
    expect(left.toString().trim().split("\n")).toHaveLength(5);
    expect(left.equals(readFileSync(join(b!.dir, "files.csv")))).toBe(true);
  }, 60_000);
});

describe("scoring retrieval serving", () => {
  it("is what makes a miner that refuses reads earn less than an honest one", async () => {
    const unscored = await refuserVsHonest(false);
    const scored = await refuserVsHonest(true);
    // Each piece fetched still has two others to be rebuilt from: users get every file either way.
    expect(unscored.availability).toBe(1);
    expect(scored.availability).toBe(1);
    expect(unscored.ratio).toBeGreaterThan(0.9);
    expect(scored.ratio).toBeLessThan(unscored.ratio - 0.1);
  }, 90_000);
});
