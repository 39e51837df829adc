/**
 * The control channel between the simulator and a runner (sim/node-runner.ts) that hosts nodes in
 * another OS process (`--mode process`, one node each) or another thread of this process
 * (`--mode inprocess`, many nodes each): Node's IPC channel or a worker's message port, both with
 * structured-clone serialization. Every request but `close` names the node it is for; requests
 * for one node run in order, requests for different nodes concurrently. The runner checks every
 * request against {@link nodeRequestSchema} and answers a bad one with an error reply.
 */
import { z } from "zod";
import type { ChallengeCounts } from "../neurons/validator/validator-db.js";
import { ADVERSARY_NAMES } from "./adversaries.js";
import type { MinerSpec, ValidatorSpec } from "./nodes.js";
import type { GatewayTick } from "./sim-gateway.js";

const adversarySettings = z.strictObject({
  seed: z.number(),
  lazyKeep: z.number(),
  corruptRate: z.number(),
  slowDelayMs: z.number(),
  offlineFromTempo: z.number(),
  churnPeriod: z.number(),
  sybilGroup: z.number(),
  dropAfterChallenges: z.number(),
  readDelayMs: z.number(),
});

const minerSpec = z.strictObject({
  index: z.number().int().gte(0),
  hotkeyUri: z.string().min(1),
  behaviour: z.enum(["honest", ...ADVERSARY_NAMES]),
  adversary: adversarySettings,
  netuid: z.number().int().gte(0),
  dbRoot: z.string().min(1),
  chunkSize: z.number().int().positive(),
  diskBytes: z.number().gte(0),
});

const validatorSpec = z.strictObject({
  index: z.number().int().gte(0),
  hotkeyUri: z.string().min(1),
  netuid: z.number().int().gte(0),
  dir: z.string().min(1),
  seed: z.number().int().gte(0),
  chunkSize: z.number().int().positive(),
  chunksPerChallenge: z.number().int().positive(),
  leavesPerChunk: z.number().int().positive(),
  challengeTimeoutMs: z.number().int().positive(),
  fillPerRound: z.number().int().gte(0),
  policy: z.strictObject({ name: z.string(), params: z.record(z.string(), z.unknown()).optional() }),
  gateway: z
    .strictObject({
      dataShards: z.number().int().positive(),
      parityShards: z.number().int().gte(0),
      repairBandwidth: z.number().positive(),
      offlineGraceMs: z.number().gte(0),
      repairThreshold: z.number().int().gte(0).max(64).optional(),
      repair: z.boolean(),
      scoreRetrievals: z.boolean(),
    })
    .optional(),
});

const nodeName = z.string().regex(/^(miner|validator)\d+$/);
const start = { id: z.number(), node: nodeName, endpoint: z.string(), logDir: z.string().min(1) };

export const nodeRequestSchema = z.discriminatedUnion("op", [
  z.strictObject({ ...start, op: z.literal("start-miner"), spec: minerSpec }),
  z.strictObject({ ...start, op: z.literal("start-validator"), spec: validatorSpec }),
  z.strictObject({ id: z.number(), node: nodeName, op: z.literal("retarget"), address: z.string() }),
  z.strictObject({ id: z.number(), node: nodeName, op: z.literal("round"), setWeights: z.boolean() }),
  z.strictObject({ id: z.number(), node: nodeName, op: z.literal("report"), hotkeys: z.array(z.string()) }),
  z.strictObject({
    id: z.number(),
    node: nodeName,
    op: z.literal("storage-tick"),
    advanceMs: z.number().gte(0),
  }),
  z.strictObject({ id: z.number(), node: nodeName, op: z.literal("restart-gateway") }),
  z.strictObject({ id: z.number(), node: nodeName, op: z.literal("stop") }),
  z.strictObject({ id: z.number(), op: z.literal("close") }),
]);

interface Start {
  id: number;
  node: string;
  endpoint: string;
  /** Where the node's JSON log goes: `<logDir>/<node>.log`. */
  logDir: string;
}

/** A request as the simulator sends it (the specs typed as the simulator builds them). */
export type NodeRequest =
  | (Start & { op: "start-miner"; spec: MinerSpec })
  | (Start & { op: "start-validator"; spec: ValidatorSpec })
  | { id: number; node: string; op: "retarget"; address: string }
  | { id: number; node: string; op: "round"; setWeights: boolean }
  | { id: number; node: string; op: "report"; hotkeys: string[] }
  | { id: number; node: string; op: "storage-tick"; advanceMs: number }
  | { id: number; node: string; op: "restart-gateway" }
  | { id: number; node: string; op: "stop" }
  /** Stops every node the runner hosts and its chain client; the runner then ends. */
  | { id: number; op: "close" };

/** What each request resolves to. */
export interface NodeResults {
  "start-miner": { announcedAddress: string };
  /** The gateway's URL when the spec asked for one (the runtime listens on port 0 and says where). */
  "start-validator": { gatewayUrl?: string };
  "storage-tick": GatewayTick;
  "restart-gateway": { gatewayUrl: string };
  retarget: Record<string, never>;
  round: Record<string, never>;
  report: { scores: number[]; counts: ChallengeCounts[] };
  stop: Record<string, never>;
  close: Record<string, never>;
}

export type NodeReply =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: { name: string; message: string } };
