/**
 * What a run leaves in its directory, and the summary it prints.
 *
 * | file | what | deterministic |
 * |---|---|---|
 * | scenario.json | the scenario as run | yes |
 * | metagraph.csv, metagraph.jsonl | one row per uid per tempo, read at the epoch block | yes |
 * | scores.csv | each validator's score and on-chain weight (u16) per miner per tempo | yes |
 * | challenges.csv | challenge outcomes per validator, miner and tempo | yes |
 * | files.csv | the storage workload per tempo: files, bytes, lost, at risk, gets, repair, emission | yes |
 * | summary.json | emission shares, detection tempos, validator agreement, storage | yes, but for its `storage.latency` (wall clock) |
 * | timings.json | wall times, peak memory | no (machine-dependent) |
 * | report.html | the charts (sim/html-report.ts) | yes, but for the storage block's latencies |
 *
 * Rows are appended tempo by tempo, so an interrupted run keeps every finished tempo.
 */
import { appendFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Scenario } from "./scenario.js";
import type { FileRow, ReadTiming } from "./storage-workload.js";

export interface MetagraphRow {
  tempo: number;
  block: number;
  uid: number;
  hotkey: string;
  role: "owner" | "validator" | "miner";
  behaviour: string;
  /** rao */
  stake: bigint;
  /** Fractions in [0, 1] (the chain's u16 / 65535). */
  incentive: number;
  /** rao, this epoch */
  emission: bigint;
  dividends: number;
  /**
   * Share of the stake-weighted weight on this uid that survived clipping to consensus (Yuma's
   * ranks / pre-ranks). Subtensor still computes it but stores it no longer (removed 2026-04-07),
   * so the simulator takes it from the dev chain's epoch hook; null when not known.
   */
  trust: number | null;
  consensus: number;
  validatorTrust: number;
}

/** What a score or challenge row is about: one validator's view of one miner in one tempo. */
export interface ValidatorMinerRow {
  tempo: number;
  validatorUid: number;
  minerUid: number;
  /** The miner's behaviour. */
  behaviour: string;
}

export interface ScoreRow extends ValidatorMinerRow {
  score: number;
  /** The validator's weight for the miner on chain after this tempo's epoch (u16, max-normalised). */
  weight?: number;
}

export interface ChallengeRow extends ValidatorMinerRow {
  pass: number;
  fail: number;
  timeout: number;
}

export interface TempoRecord {
  tempo: number;
  block: number;
  metagraph: MetagraphRow[];
  scores: ScoreRow[];
  challenges: ChallengeRow[];
  /** weights[validator][miner] (u16), in validator and miner index order. */
  weights: number[][];
  minerUids: number[];
  validatorUids: number[];
  /** The storage workload's row, when the scenario has one. */
  files?: FileRow;
}

export interface Detection {
  uid: number;
  behaviour: string;
  /** First tempo from which the incentive stayed below the threshold to the end; null if never. */
  tempo: number | null;
  finalIncentiveRatio: number;
}

export interface Summary {
  scenario: string;
  seed: number;
  tempos: number;
  aborted: boolean;
  /** Miner emission share per behaviour over the whole run, and in the last tempo. */
  emissionShare: Record<string, { total: number; last: number; miners: number; perMinerVsHonest: number }>;
  honestShareOfMinerEmission: { total: number; last: number };
  detectionThreshold: number;
  detections: Detection[];
  /** Per tempo: mean pairwise Pearson correlation of the validators' weight rows (null with < 2). */
  validatorAgreement: (number | null)[];
  /** Per tempo: miner emission share per behaviour. */
  emissionShareByTempo: Record<string, number>[];
  /** Each validator's share of the stake (first tempo) and of the validators' emission (run). */
  validators: { uid: number; behaviour: string; stakeShare: number; dividendShare: number }[];
  /** The storage workload, when the scenario has one. */
  storage?: StorageSummary;
}

export interface StorageSummary {
  /** At the end of the run. */
  files: number;
  userBytes: number;
  storedBytes: number;
  /** storedBytes / userBytes (null with nothing stored). */
  overhead: number | null;
  lost: number;
  atRisk: number;
  /** Over the run. */
  puts: number;
  putsFailed: number;
  gets: number;
  getsVerified: number;
  /** getsVerified / gets (null without gets). */
  availability: number | null;
  piecesRepaired: number;
  piecesMarkedLost: number;
  repairBytes: number;
  /**
   * Time to repair over the run, in tempos: the mean over every piece rebuilt (each tempo's mean
   * weighted by its pieces rebuilt) and the longest; null when none was rebuilt.
   */
  repairTemposMean: number | null;
  repairTemposMax: number | null;
  /** Miner emission over the run (rao, decimal string). */
  minerEmission: string;
  /** Wall clock (machine-dependent, so in summary.json only): gets' latency and time to first byte, ms. */
  latency: {
    p50: number | null;
    p99: number | null;
    firstByteP50: number | null;
    firstByteP99: number | null;
  };
}

/** A CSV column: its header and how a row's cell is written. */
type Column<R> = readonly [header: string, cell: (row: R) => string | number | bigint];

const f6 = (x: number) => x.toFixed(6);
const fraction = (x: number | null) => (x === null ? "" : f6(x));

/**
 * The metagraph files' columns. metagraph.jsonl has the same keys in the same order, with
 * unrounded fractions and rao as decimal strings.
 */
const METAGRAPH_FIELDS: readonly [header: string, field: keyof MetagraphRow, fraction?: "fraction"][] = [
  ["tempo", "tempo"],
  ["block", "block"],
  ["uid", "uid"],
  ["hotkey", "hotkey"],
  ["role", "role"],
  ["behaviour", "behaviour"],
  ["stake", "stake"],
  ["incentive", "incentive", "fraction"],
  ["emission", "emission"],
  ["dividends", "dividends", "fraction"],
  ["trust", "trust", "fraction"],
  ["consensus", "consensus", "fraction"],
  ["validator_trust", "validatorTrust", "fraction"],
];

const METAGRAPH_COLUMNS: readonly Column<MetagraphRow>[] = METAGRAPH_FIELDS.map(([header, field, kind]) => [
  header,
  (r) => (kind === "fraction" ? fraction(r[field] as number | null) : (r[field] as string | number | bigint)),
]);

const VALIDATOR_MINER_COLUMNS: readonly Column<ValidatorMinerRow>[] = [
  ["tempo", (r) => r.tempo],
  ["validator_uid", (r) => r.validatorUid],
  ["miner_uid", (r) => r.minerUid],
  ["behaviour", (r) => r.behaviour],
];

const SCORE_COLUMNS: readonly Column<ScoreRow>[] = [
  ...VALIDATOR_MINER_COLUMNS,
  ["score", (s) => f6(s.score)],
  ["weight", (s) => s.weight ?? 0],
];

const CHALLENGE_COLUMNS: readonly Column<ChallengeRow>[] = [
  ...VALIDATOR_MINER_COLUMNS,
  ["pass", (c) => c.pass],
  ["fail", (c) => c.fail],
  ["timeout", (c) => c.timeout],
];

const FILE_COLUMNS: readonly Column<FileRow>[] = [
  ["tempo", (r) => r.tempo],
  ["files", (r) => r.files],
  ["user_bytes", (r) => r.userBytes],
  ["stored_bytes", (r) => r.storedBytes],
  ["overhead", (r) => (r.userBytes === 0 ? "" : f6(r.storedBytes / r.userBytes))],
  ["lost", (r) => r.lost],
  ["at_risk", (r) => r.atRisk],
  ["puts", (r) => r.puts],
  ["puts_failed", (r) => r.putsFailed],
  ["gets", (r) => r.gets],
  ["gets_verified", (r) => r.getsVerified],
  ["availability", (r) => (r.gets === 0 ? "" : f6(r.getsVerified / r.gets))],
  ["pieces_repaired", (r) => r.piecesRepaired],
  ["pieces_marked_lost", (r) => r.piecesMarkedLost],
  ["repair_bytes", (r) => r.repairBytes],
  ["miner_emission", (r) => r.minerEmission],
  // After miner_emission so the columns before keep their positions.
  ["repair_tempos_mean", (r) => f6(r.repairTemposMean)],
  ["repair_tempos_max", (r) => r.repairTemposMax],
];

function csvHeader<R>(columns: readonly Column<R>[]): string {
  return `${columns.map(([header]) => header).join(",")}\n`;
}

function csvLines<R>(columns: readonly Column<R>[], rows: readonly R[]): string {
  return rows.map((row) => `${columns.map(([, cell]) => cell(row)).join(",")}\n`).join("");
}

function metagraphJson(r: MetagraphRow): string {
  const entries = METAGRAPH_FIELDS.map(([header, field]) => {
    const value = r[field];
    return [header, typeof value === "bigint" ? value.toString() : value];
  });
  return JSON.stringify(Object.fromEntries(entries));
}

/** Appends each tempo's rows to the run's CSV and JSONL files. */
export interface RunWriter {
  appendTempo(record: TempoRecord): void;
}

/** Creates the files (with headers) and returns the writer. An unknown `trust` is left empty. */
export function createRunWriter(outDir: string, scenario: Scenario): RunWriter {
  writeFileSync(join(outDir, "scenario.json"), `${JSON.stringify(scenario, null, 2)}\n`);
  writeFileSync(join(outDir, "metagraph.csv"), csvHeader(METAGRAPH_COLUMNS));
  writeFileSync(join(outDir, "metagraph.jsonl"), "");
  writeFileSync(join(outDir, "scores.csv"), csvHeader(SCORE_COLUMNS));
  writeFileSync(join(outDir, "challenges.csv"), csvHeader(CHALLENGE_COLUMNS));
  if (scenario.storage.enabled) writeFileSync(join(outDir, "files.csv"), csvHeader(FILE_COLUMNS));
  return {
    appendTempo(record) {
      appendFileSync(join(outDir, "metagraph.csv"), csvLines(METAGRAPH_COLUMNS, record.metagraph));
      appendFileSync(
        join(outDir, "metagraph.jsonl"),
        record.metagraph.map((r) => `${metagraphJson(r)}\n`).join(""),
      );
      appendFileSync(join(outDir, "scores.csv"), csvLines(SCORE_COLUMNS, record.scores));
      appendFileSync(join(outDir, "challenges.csv"), csvLines(CHALLENGE_COLUMNS, record.challenges));
      if (record.files) appendFileSync(join(outDir, "files.csv"), csvLines(FILE_COLUMNS, [record.files]));
    },
  };
}

function share(part: bigint, whole: bigint): number {
  return whole === 0n ? 0 : Number((part * 1_000_000_000n) / whole) / 1e9;
}

/** Pearson correlation; null when either side is constant. */
export function pearson(a: readonly number[], b: readonly number[]): number | null {
  const n = Math.min(a.length, b.length);
  if (n < 2) return null;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i] as number;
    mb += b[i] as number;
  }
  ma /= n;
  mb /= n;
  let cov = 0;
  let va = 0;
  let vb = 0;
  for (let i = 0; i < n; i++) {
    const da = (a[i] as number) - ma;
    const db = (b[i] as number) - mb;
    cov += da * db;
    va += da * da;
    vb += db * db;
  }
  if (va === 0 || vb === 0) return null;
  return cov / Math.sqrt(va * vb);
}

/**
 * Mean pairwise correlation of the validators' weight rows; rows with no weight are left out.
 * Two flat rows (every miner weighted alike) agree fully (1); a flat row against a varied one
 * counts as 0, since correlation is undefined there. Null with fewer than two rows.
 */
export function validatorAgreement(weights: readonly (readonly number[])[]): number | null {
  const rows = weights.filter((row) => row.some((w) => w !== 0));
  const flat = (row: readonly number[]) => row.every((w) => w === row[0]);
  const values: number[] = [];
  for (let i = 0; i < rows.length; i++)
    for (let j = i + 1; j < rows.length; j++) {
      const a = rows[i] as number[];
      const b = rows[j] as number[];
      if (flat(a) || flat(b)) values.push(flat(a) && flat(b) ? 1 : 0);
      else values.push(pearson(a, b) ?? 0);
    }
  return values.length === 0 ? null : values.reduce((x, y) => x + y, 0) / values.length;
}

/** The `q` quantile (0..1) of `values` by nearest rank; null when empty. */
export function quantile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

/** The storage block of the summary from the run's file rows and its gets' timings. */
export function summarizeStorage(
  records: readonly TempoRecord[],
  reads: readonly ReadTiming[],
): StorageSummary | undefined {
  const rows = records.flatMap((r) => (r.files ? [r.files] : []));
  const last = rows[rows.length - 1];
  if (!last) return undefined;
  const sum = (f: (r: FileRow) => number) => rows.reduce((a, r) => a + f(r), 0);
  const gets = sum((r) => r.gets);
  const getsVerified = sum((r) => r.getsVerified);
  const repaired = sum((r) => r.piecesRepaired);
  const firstBytes = reads.flatMap((r) => (r.firstByteMs === null ? [] : [r.firstByteMs]));
  const latencies = reads.filter((r) => r.ok).map((r) => r.latencyMs);
  const round = (x: number | null) => (x === null ? null : Math.round(x * 10) / 10);
  return {
    files: last.files,
    userBytes: last.userBytes,
    storedBytes: last.storedBytes,
    overhead: last.userBytes === 0 ? null : last.storedBytes / last.userBytes,
    lost: last.lost,
    atRisk: last.atRisk,
    puts: sum((r) => r.puts),
    putsFailed: sum((r) => r.putsFailed),
    gets,
    getsVerified,
    availability: gets === 0 ? null : getsVerified / gets,
    piecesRepaired: sum((r) => r.piecesRepaired),
    piecesMarkedLost: sum((r) => r.piecesMarkedLost),
    repairBytes: sum((r) => r.repairBytes),
    repairTemposMean: repaired === 0 ? null : sum((r) => r.repairTemposMean * r.piecesRepaired) / repaired,
    repairTemposMax: repaired === 0 ? null : Math.max(...rows.map((r) => r.repairTemposMax)),
    minerEmission: rows.reduce((a, r) => a + r.minerEmission, 0n).toString(),
    latency: {
      p50: round(quantile(latencies, 0.5)),
      p99: round(quantile(latencies, 0.99)),
      firstByteP50: round(quantile(firstBytes, 0.5)),
      firstByteP99: round(quantile(firstBytes, 0.99)),
    },
  };
}

/**
 * Emission shares, detection tempos and agreement from a run's records, and the storage block
 * when the run had a workload (`reads`: its gets' wall-clock timings).
 */
export function summarize(
  scenario: Scenario,
  records: readonly TempoRecord[],
  aborted: boolean,
  reads: readonly ReadTiming[] = [],
): Summary {
  const totals = new Map<string, bigint>();
  const counts = new Map<string, number>();
  let all = 0n;
  const byTempo: Record<string, number>[] = [];
  for (const rec of records) {
    const per = new Map<string, bigint>();
    let tempoAll = 0n;
    for (const r of rec.metagraph) {
      if (r.role !== "miner") continue;
      per.set(r.behaviour, (per.get(r.behaviour) ?? 0n) + r.emission);
      tempoAll += r.emission;
      totals.set(r.behaviour, (totals.get(r.behaviour) ?? 0n) + r.emission);
      if (rec === records[0]) counts.set(r.behaviour, (counts.get(r.behaviour) ?? 0) + 1);
    }
    all += tempoAll;
    byTempo.push(Object.fromEntries([...per].map(([b, e]) => [b, share(e, tempoAll)])));
  }
  const last = byTempo[byTempo.length - 1] ?? {};
  const honestPerMiner = (totals.get("honest") ?? 0n) / BigInt(Math.max(1, counts.get("honest") ?? 1));
  const emissionShare: Summary["emissionShare"] = {};
  for (const [b, e] of [...totals].sort(([a], [c]) => a.localeCompare(c))) {
    const miners = counts.get(b) ?? 0;
    emissionShare[b] = {
      total: share(e, all),
      last: last[b] ?? 0,
      miners,
      perMinerVsHonest: share(e / BigInt(Math.max(1, miners)), honestPerMiner),
    };
  }

  const detections: Detection[] = [];
  const lastRecord = records[records.length - 1];
  if (lastRecord) {
    const adversaries = lastRecord.metagraph.filter((r) => r.role === "miner" && r.behaviour !== "honest");
    for (const adv of adversaries) {
      let detectedAt: number | null = null;
      let ratio = 0;
      for (const rec of records) {
        const honest = rec.metagraph.filter((r) => r.role === "miner" && r.behaviour === "honest");
        const mean = honest.reduce((a, r) => a + r.incentive, 0) / Math.max(1, honest.length);
        const mine = rec.metagraph.find((r) => r.uid === adv.uid)?.incentive ?? 0;
        ratio = mean === 0 ? (mine === 0 ? 0 : Number.POSITIVE_INFINITY) : mine / mean;
        const below = mean > 0 && ratio < scenario.detectionThreshold;
        if (below && detectedAt === null) detectedAt = rec.tempo;
        if (!below) detectedAt = null;
      }
      detections.push({
        uid: adv.uid,
        behaviour: adv.behaviour,
        tempo: detectedAt,
        finalIncentiveRatio: ratio,
      });
    }
  }
  const validatorEmission = new Map<number, bigint>();
  let validatorTotal = 0n;
  for (const rec of records)
    for (const r of rec.metagraph)
      if (r.role === "validator") {
        validatorEmission.set(r.uid, (validatorEmission.get(r.uid) ?? 0n) + r.emission);
        validatorTotal += r.emission;
      }
  const firstValidators = records[0]?.metagraph.filter((r) => r.role === "validator") ?? [];
  const stakeTotal = firstValidators.reduce((a, r) => a + r.stake, 0n);
  const validators = firstValidators.map((r) => ({
    uid: r.uid,
    behaviour: r.behaviour,
    stakeShare: share(r.stake, stakeTotal),
    dividendShare: share(validatorEmission.get(r.uid) ?? 0n, validatorTotal),
  }));
  const storage = summarizeStorage(records, reads);
  return {
    validators,
    scenario: scenario.name,
    seed: scenario.seed,
    tempos: records.length,
    aborted,
    emissionShare,
    honestShareOfMinerEmission: { total: emissionShare.honest?.total ?? 0, last: last.honest ?? 0 },
    detectionThreshold: scenario.detectionThreshold,
    detections,
    validatorAgreement: records.map((r) => validatorAgreement(r.weights)),
    emissionShareByTempo: byTempo,
    ...(storage ? { storage } : {}),
  };
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** The terminal summary: emission share by behaviour, detection per adversary, honest share. */
export function formatSummary(summary: Summary): string {
  const lines: string[] = [];
  lines.push(
    `scenario ${summary.scenario}, seed ${summary.seed}, ${summary.tempos} tempos${summary.aborted ? " (interrupted)" : ""}`,
  );
  lines.push("");
  lines.push("behaviour    miners  emission share (run)  (last tempo)  per miner vs honest");
  for (const [b, s] of Object.entries(summary.emissionShare)) {
    lines.push(
      `${b.padEnd(12)} ${String(s.miners).padStart(6)}  ${pct(s.total).padStart(20)}  ${pct(s.last).padStart(12)}  ${pct(s.perMinerVsHonest).padStart(19)}`,
    );
  }
  lines.push("");
  lines.push(
    `detection: tempo from which an adversary's incentive stays below ${pct(summary.detectionThreshold)} of the honest mean`,
  );
  if (summary.detections.length === 0) lines.push("  (no adversaries)");
  for (const d of summary.detections) {
    lines.push(
      `  uid ${String(d.uid).padStart(3)} ${d.behaviour.padEnd(11)} ${d.tempo === null ? "not detected" : `tempo ${d.tempo}`}  (final incentive ${pct(d.finalIncentiveRatio)} of honest mean)`,
    );
  }
  if (summary.validators.some((v) => v.behaviour !== "honest")) {
    lines.push("");
    lines.push("validator  behaviour        stake share  dividend share");
    for (const v of summary.validators)
      lines.push(
        `uid ${String(v.uid).padStart(5)}  ${v.behaviour.padEnd(15)}  ${pct(v.stakeShare).padStart(11)}  ${pct(v.dividendShare).padStart(14)}`,
      );
  }
  lines.push("");
  lines.push(
    `honest miners' share of miner emission: ${pct(summary.honestShareOfMinerEmission.total)} over the run, ${pct(summary.honestShareOfMinerEmission.last)} in the last tempo`,
  );
  const agreement = summary.validatorAgreement.filter((x): x is number => x !== null);
  if (agreement.length > 0)
    lines.push(
      `validator agreement (weight correlation), last tempo: ${agreement[agreement.length - 1]?.toFixed(3)}`,
    );
  if (summary.storage) lines.push("", ...formatStorage(summary.storage));
  return lines.join("\n");
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const ms = (x: number | null) => (x === null ? "–" : `${x.toFixed(0)} ms`);

/** The run's time to repair, "mean X / max Y tempos" ("–" when nothing was rebuilt). */
export function repairTempos(s: Pick<StorageSummary, "repairTemposMean" | "repairTemposMax">): string {
  // typeof, not === null: a summary.json written before these fields has neither.
  if (typeof s.repairTemposMean !== "number" || typeof s.repairTemposMax !== "number") return "–";
  return `mean ${s.repairTemposMean.toFixed(2)} / max ${s.repairTemposMax} tempos`;
}

/** The summary's storage block. */
export function formatStorage(s: StorageSummary): string[] {
  const tao = Number(BigInt(s.minerEmission) / 1_000_000n) / 1000;
  return [
    "storage: files put through the gateway, kept and read back",
    `  files ${s.files} (${mib(s.userBytes)}; ${mib(s.storedBytes)} on miners, overhead ${s.overhead === null ? "–" : `${s.overhead.toFixed(2)}×`})  lost ${s.lost}  at risk ${s.atRisk}`,
    `  puts ${s.puts} (${s.putsFailed} failed)  gets ${s.gets}, availability ${s.availability === null ? "–" : pct(s.availability)}`,
    `  retrieval p50 ${ms(s.latency.p50)}  p99 ${ms(s.latency.p99)}  first byte p50 ${ms(s.latency.firstByteP50)}  p99 ${ms(s.latency.firstByteP99)}`,
    `  repair: ${s.piecesRepaired} pieces rebuilt (${s.piecesMarkedLost} marked lost), ${mib(s.repairBytes)} moved, time to repair ${repairTempos(s)};  miner emission ${tao.toFixed(3)} TAO`,
  ];
}

/** Writes summary.json and timings.json. */
export function writeSummary(outDir: string, summary: Summary, timings: unknown): void {
  writeFileSync(join(outDir, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
  writeFileSync(join(outDir, "timings.json"), `${JSON.stringify(timings, null, 2)}\n`);
}
