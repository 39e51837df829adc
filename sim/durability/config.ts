/**
 * The durability model's configuration: one zod schema with the defaults, so a sweep file, a test
 * and the CLI describe a run the same way. Defaults mirror the gateway's (README "Redundancy,
 * placement and repair": k = 10, m = 4, 1 MiB pieces, `--api.repair_bandwidth` 16 MiB/s,
 * `--api.offline_grace` 600 s, a repair pass every minute) on a 256-UID subnet.
 */
import { z } from "zod";
import { SimError } from "../errors.js";

const MiB = 1 << 20;

const fileGroupSchema = z.strictObject({
  /** Files in the group. */
  count: z.number().int().gte(0),
  /**
   * Bytes per file; it takes ⌈bytes / (k · pieceBytes)⌉ stripes, so a sweep over k stores the same
   * user data. A short last stripe is counted as a full one (k + m pieces).
   */
  bytes: z.number().int().gte(1),
});

export const durabilityConfigSchema = z.strictObject({
  seed: z.number().int().gte(0).lte(0xffffffff).default(1),
  /** Simulated time, days. */
  days: z.number().gt(0).default(365),
  /** Subnet size; miners = uids − validators. */
  uids: z.number().int().gte(2).default(256),
  validators: z.number().int().gte(0).default(16),
  /** Miners per operator (one coldkey/host): a correlated failure takes all of them at once. */
  operatorSize: z.number().int().gte(1).default(4),
  /** Data pieces per stripe (k) and parity pieces (m): any k of the k + m rebuild the stripe. */
  k: z.number().int().gte(1).default(10),
  m: z.number().int().gte(0).default(4),
  pieceBytes: z.number().int().gte(1).default(MiB),
  /** The gateway's files: many small ones and a few large ones (default ~0.7 TiB of user data). */
  files: z
    .array(fileGroupSchema)
    .min(1)
    .default([
      { count: 50_000, bytes: 4 * MiB },
      { count: 500, bytes: 1024 * MiB },
    ]),
  /** Whether the gateway repairs at all (off: the closed-form binomial case). */
  repair: z.boolean().default(true),
  /**
   * r: a stripe is queued for repair once its pieces not lost are ≤ k + r. Unset: m − 1, the
   * gateway's policy (repair any lost piece). Lower r is lazy repair: fewer, larger repairs.
   */
  repairThreshold: z.number().int().gte(0).optional(),
  /** Bytes per second repair may read from miners (`--api.repair_bandwidth`). */
  repairBandwidth: z
    .number()
    .gt(0)
    .default(16 * MiB),
  /** The gateway starts a repair pass this often (seconds). */
  repairIntervalSeconds: z.number().gt(0).default(60),
  /** A miner unreachable this long has its pieces counted lost (`--api.offline_grace`). */
  offlineGraceSeconds: z.number().gte(0).default(600),
  /**
   * How long after a miner leaves for good the gateway counts its pieces lost (0: at once). The
   * full simulator's gateway notices a departure only when the replacement's registration prunes
   * the uid, a tempo later; the calibration (calibration.ts) sets this to match it.
   */
  departureNoticeSeconds: z.number().gte(0).default(0),
  /** Share of miners deregistered per week (replaced by new, empty ones); exponential lifetimes. */
  churnPerWeek: z.number().gte(0).lt(1).default(0.02),
  /** Temporary outages per miner per week; log-normal durations (median, log-space sigma). */
  outagesPerWeek: z.number().gte(0).default(0.2),
  outageMedianSeconds: z.number().gt(0).default(120),
  outageSigma: z.number().gte(0).default(1),
  /** Correlated failures per operator per year: all its miners at once. */
  operatorFailuresPerYear: z.number().gte(0).default(1),
  /** Share of operator failures that are permanent (every miner of the operator deregistered). */
  operatorPermanentShare: z.number().gte(0).lte(1).default(0.25),
  /** The others are outages of all the operator's miners, log-normal duration. */
  operatorOutageMedianSeconds: z.number().gt(0).default(1800),
  operatorOutageSigma: z.number().gte(0).default(1),
});

export type DurabilityConfigInput = z.input<typeof durabilityConfigSchema>;
export type DurabilityConfig = z.output<typeof durabilityConfigSchema>;

/** Stripes a file of `bytes` takes. */
export function stripesOf(config: DurabilityConfig, bytes: number): number {
  return Math.ceil(bytes / (config.k * config.pieceBytes));
}

/** A durability configuration is malformed or impossible (e.g. fewer miners than k). */
export class DurabilityConfigError extends SimError {
  override name = "DurabilityConfigError";
}

/**
 * Validates a configuration and fills the defaults. Throws {@link DurabilityConfigError}.
 *
 * @example parseDurabilityConfig({ k: 10, m: 4, churnPerWeek: 0.02 }).repairBandwidth // 16 MiB/s
 */
export function parseDurabilityConfig(input: unknown): DurabilityConfig {
  const parsed = durabilityConfigSchema.safeParse(input);
  if (!parsed.success) {
    throw new DurabilityConfigError(`invalid durability config: ${z.prettifyError(parsed.error)}`, {
      cause: parsed.error,
    });
  }
  const config = parsed.data;
  const miners = config.uids - config.validators;
  if (miners < config.k + config.m) {
    throw new DurabilityConfigError(
      `${miners} miners cannot hold a stripe's ${config.k + config.m} pieces on distinct miners`,
    );
  }
  if (config.repairThreshold !== undefined && config.repairThreshold > config.m - 1 && config.m > 0) {
    throw new DurabilityConfigError(
      `repairThreshold ${config.repairThreshold} must be at most m − 1 = ${config.m - 1} (repair once a piece is lost)`,
    );
  }
  return config;
}

/** The repair threshold r in effect: the configured one, or m − 1 (repair any lost piece). */
export function repairThresholdOf(config: DurabilityConfig): number {
  return config.repairThreshold ?? Math.max(0, config.m - 1);
}
