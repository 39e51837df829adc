/**
 * The long-horizon durability model: an event-driven simulation of one gateway's stripes on a
 * subnet's miners, fast enough for 256 UIDs × a year of churn on one core (no disk, no network,
 * no incentive loop: only where pieces are and when they are lost and rebuilt).
 *
 * Events: a miner is deregistered (exponential lifetime from `churnPerWeek`) and its UID goes to a
 * new, empty miner; a miner's outage (log-normal length) makes its pieces unreachable and, past
 * `offlineGraceSeconds`, lost to the gateway; an operator's correlated failure takes all its miners
 * at once, for good or for an outage. The gateway's repair follows the README: a stripe whose
 * pieces not lost are ≤ k + r is queued; a repair pass starts on the minute; stripes with the
 * fewest pieces go first; rebuilding one reads k pieces, so it takes k · pieceBytes /
 * `repairBandwidth` seconds, and then writes every lost piece to miners that do not hold the
 * stripe (distinct operators first). A stripe with fewer than k pieces not lost is gone.
 *
 * Rare losses: a year of a healthy configuration sees no lost stripe (a 95% bound from zero
 * losses in F file-years is only 3.7 / F), so the run also estimates the loss it cannot see. For
 * every repair episode it simulates (queued with a pieces, rebuilt D seconds later) it adds the
 * probability that one more of those a pieces is lost within D (each at the per-piece loss rate
 * λ); it measures how long a stripe that did lose a further piece waited from then to its rebuild
 * (W, pooled over levels: the most endangered go first, so deeper levels wait less); and a stripe
 * is lost if, after that first further loss, each of the a − k further losses still needed comes
 * within W: expected losses = Σ over episodes P(first) · Π_{j=k}^{a−1} (1 − e^{−jλW}). This
 * conditional estimate sees the simulated repair delays (the backlog a departed miner leaves,
 * bursts from an operator failure, repairs blocked by unreachable pieces); it assumes further losses
 * of one stripe independent, and it is noisy where W rests on few escalations. Where losses are
 * frequent enough to count it agrees with them within a factor of 2 (test/durability-model.test.ts).
 * The Markov chain of stripe-loss.ts, fed with the run's mean repair time, is the pessimistic
 * cross-check: it gives every level the mean wait and exponential (long-tailed) repair times.
 */
import { createPrng, type Prng } from "../fast/prng.js";
import { type DurabilityConfig, parseDurabilityConfig, repairThresholdOf, stripesOf } from "./config.js";
import {
  binomialTail,
  markovStripeLossPerYear,
  pieceLossRate,
  poissonRateInterval,
  WEEK_SECONDS,
  YEAR_SECONDS,
} from "./stripe-loss.js";

/** What one run measured and estimated. Byte counts are exact; rates are per simulated year. */
export interface DurabilityResult {
  miners: number;
  operators: number;
  files: number;
  stripes: number;
  userBytes: number;
  /** Bytes on miners at the start: stripes × (k + m) × pieceBytes. */
  storedBytes: number;
  /** (k + m) / k. */
  overhead: number;
  days: number;
  /** Rate at which one miner's pieces are lost to the gateway, per year. */
  pieceLossPerYear: number;
  departures: number;
  outages: number;
  operatorFailures: number;
  piecesLost: number;
  stripesLost: number;
  filesLost: number;
  /**
   * At the end of the run, counting pieces on departed miners the gateway has not noticed yet as
   * gone (the full simulator's `lost` and `at_risk`): files with a stripe under k pieces, and the
   * others with a stripe at exactly k.
   */
  filesLostAtEnd: number;
  filesAtRiskAtEnd: number;
  /** Day of the first lost stripe, or null. */
  firstLossDay: number | null;
  /** Repair episodes completed, the pieces they rebuilt, and the bytes read and written. */
  repairs: number;
  piecesRepaired: number;
  repairReadBytes: number;
  repairWriteBytes: number;
  repairBytes: number;
  /** Repair bytes (read + written) per year as a multiple of the stored bytes. */
  repairPerStoredPerYear: number;
  /** From queued to rebuilt, seconds: mean and max over episodes. */
  meanRepairSeconds: number;
  maxRepairSeconds: number;
  /** Most stripes queued for repair at once, and most with exactly k pieces left (one more loss and they are gone). */
  peakQueued: number;
  peakAtRisk: number;
  /** Conditional Monte-Carlo: expected lost stripes given the simulated repair episodes. */
  expectedStripeLosses: number;
  /** Yearly loss probability of one stripe: from the losses seen when there are ≥ 10, else the conditional estimate (repair on) or the binomial (repair off, over the run). */
  stripeLossPerYear: number;
  /** Yearly loss probability of a file of the configured mix (mean over files). */
  fileLossPerYear: number;
  /** Files lost per file-year as seen, with a 95% interval (Poisson). */
  observedFileLossPerYear: number;
  observedFileLossHigh: number;
  /** Cross-check: the stripe Markov chain with the run's mean repair time, per stripe and per file. */
  markovStripeLossPerYear: number;
  markovFileLossPerYear: number;
}

const NONE = -1;
const EV_DEPART = 0;
const EV_OUTAGE = 1;
const EV_GRACE = 2;
const EV_BACK = 3;
const EV_OPERATOR = 4;
const EV_TICK = 5;
const EV_REPAIRED = 6;
const EV_NOTICE = 7;

interface Event {
  time: number;
  seq: number;
  kind: number;
  /** Miner slot, operator or stripe. */
  target: number;
  /** The miner's generation (a replaced miner's events are stale), or the outage's start time. */
  tag: number;
}

/** A binary min-heap of events by time, ties by insertion order (so a seed replays exactly). */
class EventQueue {
  private heap: Event[] = [];
  private seq = 0;
  get size(): number {
    return this.heap.length;
  }
  push(time: number, kind: number, target: number, tag = 0): void {
    const heap = this.heap;
    const ev: Event = { time, seq: this.seq++, kind, target, tag };
    let i = heap.length;
    heap.push(ev);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent] as Event;
      if (p.time < time || (p.time === time && p.seq < ev.seq)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = ev;
  }
  pop(): Event | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    let i = 0;
    const n = heap.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      const lc = heap[l] as Event;
      if (r < n) {
        const rc = heap[r] as Event;
        if (rc.time < lc.time || (rc.time === lc.time && rc.seq < lc.seq)) c = r;
      }
      const child = heap[c] as Event;
      if (last.time < child.time || (last.time === child.time && last.seq < child.seq)) break;
      heap[i] = child;
      i = c;
    }
    heap[i] = last;
    return top;
  }
}

function exponential(prng: Prng, rate: number): number {
  return rate > 0 ? -Math.log(1 - prng.next()) / rate : Number.POSITIVE_INFINITY;
}

/** Yearly loss of a file of `stripes` stripes when each is lost with probability p a year. */
function fileLoss(p: number, stripes: number): number {
  return p >= 1 ? 1 : -Math.expm1(stripes * Math.log1p(-p));
}

/**
 * Runs the model for `config.days` and returns what it measured.
 *
 * @example runDurability({ k: 10, m: 4, churnPerWeek: 0.02, days: 365 }).fileLossPerYear
 */
export function runDurability(input: DurabilityConfig | Record<string, unknown>): DurabilityResult {
  const config = parseDurabilityConfig(input);
  const prng = createPrng(config.seed);
  const { k, m, pieceBytes } = config;
  const n = k + m;
  const M = config.uids - config.validators;
  const operators = Math.ceil(M / config.operatorSize);
  const operatorOf = (slot: number) => Math.floor(slot / config.operatorSize);
  const horizon = config.days * 86_400;
  const threshold = k + repairThresholdOf(config);
  const lambda = pieceLossRate(config);
  const grace = config.offlineGraceSeconds;
  const repairSeconds = (k * pieceBytes) / config.repairBandwidth;

  // Files and stripes.
  let files = 0;
  let stripes = 0;
  for (const g of config.files) {
    files += g.count;
    stripes += g.count * stripesOf(config, g.bytes);
  }
  const fileOf = new Int32Array(stripes);
  {
    let s = 0;
    let f = 0;
    for (const g of config.files) {
      for (let i = 0; i < g.count; i++, f++)
        for (let j = stripesOf(config, g.bytes); j > 0; j--) fileOf[s++] = f;
    }
  }
  const fileLost = new Uint8Array(files);

  // Miners: a slot per UID; a deregistered miner's slot goes to a new one (generation + 1).
  const generation = new Int32Array(M);
  const online = new Uint8Array(M).fill(1);
  const offlineSince = new Float64Array(M);
  const offlineUntil = new Float64Array(M);
  const minerPieces: number[][] = Array.from({ length: M }, () => []);

  // Pieces: piece p = stripe · n + index; its miner (NONE once lost) and its place in that miner's list.
  const pieceMiner = new Int32Array(stripes * n).fill(NONE);
  const piecePos = new Int32Array(stripes * n);
  const alive = new Uint8Array(stripes);
  const dead = new Uint8Array(stripes);
  const queued = new Uint8Array(stripes);
  const inService = new Uint8Array(stripes);
  const queuedAt = new Float64Array(stripes);
  const queuedAlive = new Uint8Array(stripes);
  /** When a queued stripe last lost another piece (NaN: not since it was queued). */
  const escalatedAt = new Float64Array(stripes).fill(Number.NaN);

  const assign = (piece: number, slot: number) => {
    pieceMiner[piece] = slot;
    const list = minerPieces[slot] as number[];
    piecePos[piece] = list.length;
    list.push(piece);
  };

  /** A miner for one of stripe s's pieces: online, not holding the stripe, distinct operator first. */
  const usedOperator = new Int32Array(operators).fill(-1);
  const usedMiner = new Int32Array(M).fill(-1);
  let markStamp = 0;
  const chooseMiner = (stripe: number): number => {
    const stamp = markStamp++;
    const base = stripe * n;
    for (let i = 0; i < n; i++) {
      const slot = pieceMiner[base + i] as number;
      if (slot === NONE) continue;
      usedMiner[slot] = stamp;
      usedOperator[operatorOf(slot)] = stamp;
    }
    for (let relax = 0; relax < 3; relax++) {
      for (let attempt = 0; attempt < 64; attempt++) {
        const slot = Math.floor(prng.next() * M);
        if (usedMiner[slot] === stamp) continue;
        if (relax < 2 && usedOperator[operatorOf(slot)] === stamp) continue;
        if (relax < 1 && online[slot] === 0) continue;
        return slot;
      }
    }
    for (let slot = 0; slot < M; slot++) if (usedMiner[slot] !== stamp) return slot;
    return NONE;
  };

  for (let s = 0; s < stripes; s++) {
    for (let i = 0; i < n; i++) assign(s * n + i, chooseMiner(s));
    alive[s] = n;
  }

  // Repair queue: one FIFO per count of pieces left (fewest first); stale entries are skipped.
  const buckets: number[][] = Array.from({ length: n + 1 }, () => []);
  const heads = new Int32Array(n + 1);
  let queuedCount = 0;
  let peakQueued = 0;
  let atRisk = 0;
  let peakAtRisk = 0;
  let blocked: number[] = [];
  let busy = false;
  let tickPending = false;

  const events = new EventQueue();
  let now = 0;

  // Tallies.
  let departures = 0;
  let outages = 0;
  let operatorFailures = 0;
  let piecesLost = 0;
  let stripesLost = 0;
  let filesLost = 0;
  let firstLoss: number | null = null;
  let repairs = 0;
  let piecesRepaired = 0;
  let repairSum = 0;
  let repairMax = 0;
  // Rare-loss estimator (see the file comment): per entry level a, Σ P(another loss within the
  // episode); per level j, the time from a further loss to the rebuild.
  const firstStage = new Float64Array(n + 1);
  const escalationWait = new Float64Array(n + 1);
  const escalations = new Float64Array(n + 1);
  const closeEpisode = (s: number, end: number) => {
    const entry = queuedAlive[s] as number;
    firstStage[entry] =
      (firstStage[entry] as number) - Math.expm1(-entry * lambda * (end - (queuedAt[s] as number)));
    const escalated = escalatedAt[s] as number;
    if (!Number.isNaN(escalated)) {
      // A lost stripe's last escalation was to k pieces (it passed through k on its way down).
      const level = dead[s] ? k : (alive[s] as number);
      escalationWait[level] = (escalationWait[level] as number) + (end - escalated);
      escalations[level] = (escalations[level] as number) + 1;
      escalatedAt[s] = Number.NaN;
    }
  };

  const scheduleTick = () => {
    if (tickPending || !config.repair) return;
    tickPending = true;
    const interval = config.repairIntervalSeconds;
    events.push(Math.floor(now / interval) * interval + interval, EV_TICK, 0);
  };

  const enqueue = (s: number) => {
    (buckets[alive[s] as number] as number[]).push(s);
  };

  const losePiece = (piece: number) => {
    pieceMiner[piece] = NONE;
    piecesLost++;
    const s = Math.floor(piece / n);
    if (dead[s]) return;
    const before = alive[s] as number;
    const after = before - 1;
    alive[s] = after;
    if (before === k) atRisk--;
    if (after === k) {
      atRisk++;
      if (atRisk > peakAtRisk) peakAtRisk = atRisk;
    }
    if (after < k) {
      dead[s] = 1;
      stripesLost++;
      if (firstLoss === null) firstLoss = now;
      if (queued[s]) {
        closeEpisode(s, now);
        queued[s] = 0;
        queuedCount--;
      }
      const f = fileOf[s] as number;
      if (!fileLost[f]) {
        fileLost[f] = 1;
        filesLost++;
      }
      return;
    }
    if (!config.repair || after > threshold) return;
    if (queued[s]) escalatedAt[s] = now;
    else {
      queued[s] = 1;
      queuedAt[s] = now;
      queuedAlive[s] = after;
      queuedCount++;
      if (queuedCount > peakQueued) peakQueued = queuedCount;
    }
    if (!inService[s]) enqueue(s);
    scheduleTick();
  };

  /** Every piece on the miner is lost to the gateway (deregistered, or offline past the grace). */
  const loseMinerPieces = (slot: number) => {
    const list = minerPieces[slot] as number[];
    minerPieces[slot] = [];
    for (const piece of list) if (pieceMiner[piece] === slot) losePiece(piece);
  };

  const scheduleMinerLife = (slot: number) => {
    const gen = generation[slot] as number;
    const churnRate = -Math.log1p(-config.churnPerWeek) / WEEK_SECONDS;
    events.push(now + exponential(prng, churnRate), EV_DEPART, slot, gen);
    events.push(now + exponential(prng, config.outagesPerWeek / WEEK_SECONDS), EV_OUTAGE, slot, gen);
  };

  // Pieces of departed miners the gateway has not noticed yet (departureNoticeSeconds), by notice.
  const unnoticed = new Map<number, { slot: number; pieces: number[] }>();
  let noticeId = 0;
  const depart = (slot: number) => {
    departures++;
    if (config.departureNoticeSeconds === 0) loseMinerPieces(slot);
    else {
      unnoticed.set(noticeId, { slot, pieces: minerPieces[slot] as number[] });
      minerPieces[slot] = [];
      events.push(now + config.departureNoticeSeconds, EV_NOTICE, noticeId++);
    }
    generation[slot] = (generation[slot] as number) + 1;
    online[slot] = 1;
    scheduleMinerLife(slot);
  };

  /** The miner is unreachable until `until`; past the grace its pieces count as lost. */
  const goOffline = (slot: number, until: number) => {
    if (online[slot]) {
      online[slot] = 0;
      offlineSince[slot] = now;
      offlineUntil[slot] = until;
    } else if (until > (offlineUntil[slot] as number)) offlineUntil[slot] = until;
    const since = offlineSince[slot] as number;
    const gen = generation[slot] as number;
    if ((offlineUntil[slot] as number) - since > grace)
      events.push(Math.max(now, since + grace), EV_GRACE, slot, since);
    events.push(until, EV_BACK, slot, gen);
  };

  /** Takes the most endangered queued stripe that can be rebuilt now, or −1. */
  const nextRepair = (): number => {
    for (let a = k; a <= threshold; a++) {
      const bucket = buckets[a] as number[];
      while ((heads[a] as number) < bucket.length) {
        const s = bucket[heads[a] as number] as number;
        heads[a] = (heads[a] as number) + 1;
        if (!queued[s] || dead[s] || inService[s] || alive[s] !== a) continue;
        let reachable = 0;
        const base = s * n;
        for (let i = 0; i < n; i++) {
          const slot = pieceMiner[base + i] as number;
          if (slot !== NONE && online[slot]) reachable++;
        }
        if (reachable < k) {
          blocked.push(s);
          continue;
        }
        return s;
      }
      bucket.length = 0;
      heads[a] = 0;
    }
    return NONE;
  };

  const startRepairs = () => {
    if (busy) return;
    const s = nextRepair();
    if (s === NONE) {
      if (blocked.length > 0) {
        for (const b of blocked) enqueue(b);
        blocked = [];
        scheduleTick();
      }
      return;
    }
    busy = true;
    inService[s] = 1;
    events.push(now + repairSeconds, EV_REPAIRED, s);
  };

  let repairReadBytes = 0;
  let repairWriteBytes = 0;
  const finishRepair = (s: number) => {
    busy = false;
    inService[s] = 0;
    if (dead[s]) return;
    closeEpisode(s, now);
    const base = s * n;
    let rebuilt = 0;
    for (let i = 0; i < n; i++) {
      if (pieceMiner[base + i] !== NONE) continue;
      const slot = chooseMiner(s);
      if (slot === NONE) continue;
      assign(base + i, slot);
      rebuilt++;
    }
    if (alive[s] === k) atRisk--;
    alive[s] = (alive[s] as number) + rebuilt;
    repairReadBytes += k * pieceBytes;
    repairWriteBytes += rebuilt * pieceBytes;
    piecesRepaired += rebuilt;
    repairs++;
    const duration = now - (queuedAt[s] as number);
    repairSum += duration;
    if (duration > repairMax) repairMax = duration;
    queued[s] = 0;
    queuedCount--;
  };

  for (let slot = 0; slot < M; slot++) scheduleMinerLife(slot);
  for (let op = 0; op < operators; op++) {
    events.push(exponential(prng, config.operatorFailuresPerYear / YEAR_SECONDS), EV_OPERATOR, op);
  }

  for (;;) {
    const ev = events.pop();
    if (ev === undefined || ev.time > horizon) break;
    now = ev.time;
    const slot = ev.target;
    switch (ev.kind) {
      case EV_DEPART:
        if (generation[slot] === ev.tag) depart(slot);
        break;
      case EV_OUTAGE: {
        if (generation[slot] !== ev.tag) break;
        const length = prng.logNormal(config.outageMedianSeconds, config.outageSigma);
        if (online[slot]) {
          outages++;
          goOffline(slot, now + length);
        }
        events.push(
          now + length + exponential(prng, config.outagesPerWeek / WEEK_SECONDS),
          EV_OUTAGE,
          slot,
          ev.tag,
        );
        break;
      }
      case EV_GRACE:
        if (!online[slot] && offlineSince[slot] === ev.tag) loseMinerPieces(slot);
        break;
      case EV_BACK:
        if (generation[slot] === ev.tag && !online[slot] && now >= (offlineUntil[slot] as number))
          online[slot] = 1;
        break;
      case EV_OPERATOR: {
        operatorFailures++;
        const first = slot * config.operatorSize;
        const last = Math.min(M, first + config.operatorSize);
        if (prng.next() < config.operatorPermanentShare) {
          for (let s = first; s < last; s++) depart(s);
        } else {
          const until = now + prng.logNormal(config.operatorOutageMedianSeconds, config.operatorOutageSigma);
          for (let s = first; s < last; s++) goOffline(s, until);
        }
        events.push(
          now + exponential(prng, config.operatorFailuresPerYear / YEAR_SECONDS),
          EV_OPERATOR,
          slot,
        );
        break;
      }
      case EV_TICK:
        tickPending = false;
        startRepairs();
        break;
      case EV_REPAIRED:
        finishRepair(ev.target);
        startRepairs();
        break;
      case EV_NOTICE: {
        const gone = unnoticed.get(ev.target);
        unnoticed.delete(ev.target);
        if (gone) for (const piece of gone.pieces) if (pieceMiner[piece] === gone.slot) losePiece(piece);
        break;
      }
    }
  }
  // At the end, as the full simulator measures it: a stripe's pieces on departed miners are gone
  // whether or not the gateway has noticed yet.
  const goneNow = new Uint8Array(stripes);
  for (const { slot, pieces } of unnoticed.values())
    for (const piece of pieces)
      if (pieceMiner[piece] === slot) {
        const s = Math.floor(piece / n);
        goneNow[s] = (goneNow[s] as number) + 1;
      }
  const fileGone = new Uint8Array(files);
  const fileAtRisk = new Uint8Array(files);
  for (let s = 0; s < stripes; s++) {
    const left = (alive[s] as number) - (goneNow[s] as number);
    if (dead[s] || left < k) fileGone[fileOf[s] as number] = 1;
    else if (left === k) fileAtRisk[fileOf[s] as number] = 1;
  }
  let filesLostAtEnd = 0;
  let filesAtRiskAtEnd = 0;
  for (let f = 0; f < files; f++) {
    if (fileGone[f]) filesLostAtEnd++;
    else if (fileAtRisk[f]) filesAtRiskAtEnd++;
  }
  now = horizon;
  // Episodes still open at the end count with the time they have been waiting.
  for (let s = 0; s < stripes; s++) if (queued[s] && !dead[s]) closeEpisode(s, now);

  const years = horizon / YEAR_SECONDS;
  const storedBytes = stripes * n * pieceBytes;
  const meanRepairSeconds = repairs > 0 ? repairSum / repairs : 0;
  // The wait after a further loss, pooled over every level: deeper levels are served sooner (most
  // endangered first) but are seen too rarely for a per-level mean, so the pool is the cautious
  // side of it. With no escalation seen at all, the mean repair time stands in.
  let pooledWait = 0;
  let pooledCount = 0;
  for (let j = 0; j <= n; j++) {
    pooledWait += escalationWait[j] as number;
    pooledCount += escalations[j] as number;
  }
  const wait =
    pooledCount > 0
      ? pooledWait / pooledCount
      : repairs > 0
        ? meanRepairSeconds
        : repairSeconds + config.repairIntervalSeconds;
  let expectedLosses = 0;
  for (let a = k; a < n; a++) {
    let rest = 1;
    for (let j = k; j < a; j++) rest *= -Math.expm1(-j * lambda * wait);
    expectedLosses += (firstStage[a] as number) * rest;
  }
  const perFile = (p: number) => {
    let sum = 0;
    for (const g of config.files) sum += g.count * fileLoss(p, stripesOf(config, g.bytes));
    return files > 0 ? sum / files : 0;
  };
  let stripeLossPerYear: number;
  if (stripesLost >= 10) stripeLossPerYear = -Math.expm1(Math.log1p(-stripesLost / stripes) / years);
  else if (config.repair) stripeLossPerYear = Math.min(1, expectedLosses / (stripes * years));
  else {
    // Without repair the loss is not stationary: the binomial over the run, as a yearly figure.
    const overRun = binomialTail(n, -Math.expm1(-lambda * horizon), m + 1);
    stripeLossPerYear = -Math.expm1(Math.log1p(-Math.min(overRun, 1 - 1e-16)) / years);
  }
  const markovStripe = markovStripeLossPerYear(config, meanRepairSeconds);
  const observed = poissonRateInterval(filesLost, files * years);
  return {
    miners: M,
    operators,
    files,
    stripes,
    userBytes: config.files.reduce((sum, g) => sum + g.count * g.bytes, 0),
    storedBytes,
    overhead: n / k,
    days: config.days,
    pieceLossPerYear: lambda * YEAR_SECONDS,
    departures,
    outages,
    operatorFailures,
    piecesLost,
    stripesLost,
    filesLost,
    filesLostAtEnd,
    filesAtRiskAtEnd,
    firstLossDay: firstLoss === null ? null : firstLoss / 86_400,
    repairs,
    piecesRepaired,
    repairReadBytes,
    repairWriteBytes,
    repairBytes: repairReadBytes + repairWriteBytes,
    repairPerStoredPerYear: (repairReadBytes + repairWriteBytes) / storedBytes / years,
    meanRepairSeconds,
    maxRepairSeconds: repairMax,
    peakQueued,
    peakAtRisk,
    expectedStripeLosses: expectedLosses,
    stripeLossPerYear,
    fileLossPerYear: perFile(stripeLossPerYear),
    observedFileLossPerYear: filesLost / (files * years),
    observedFileLossHigh: observed.high,
    markovStripeLossPerYear: markovStripe,
    markovFileLossPerYear: perFile(markovStripe),
  };
}
