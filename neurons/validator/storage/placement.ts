/**
 * Where a stripe's pieces go: distinct miners, spread first over distinct coldkeys (one operator
 * holds one coldkey, and an operator that leaves takes all its miners with it), then over
 * distinct IPs (one host, one network outage), then over any miner not yet holding a piece of
 * the stripe, and only then doubled up on miners already chosen (reduced redundancy).
 *
 * Among miners the caller ranks equal (as much room, as good a record), the order is a hash of
 * the stripe and the miner ({@link breakTies}), not the miner id: miners that registered
 * together hold consecutive uids, and by id they would take whole stripes between them.
 */
import { createHash } from "node:crypto";

/** A miner that may take a piece, in the caller's order of preference (most room first). */
export interface PlacementCandidate {
  id: number;
  coldkey: string | null;
  ip: string | null;
}

export interface PlacementOptions {
  /** Miners already holding pieces of the stripe: their coldkeys and IPs count as used. */
  holders?: readonly PlacementCandidate[];
  /**
   * Fewest distinct miners acceptable (a stripe's data shards); fewer gives undefined. Past the
   * distinct candidates, the choice doubles up on the ones chosen.
   */
  minimumDistinct?: number;
}

/**
 * Chooses `count` miners for pieces of one stripe, or undefined when fewer than
 * `minimumDistinct` distinct candidates exist.
 *
 * @example
 * choosePlacement(candidates, 6, { minimumDistinct: 4 }) // six miners, distinct coldkeys first
 */
export function choosePlacement(
  candidates: readonly PlacementCandidate[],
  count: number,
  options: PlacementOptions = {},
): PlacementCandidate[] | undefined {
  const holders = options.holders ?? [];
  const held = new Set(holders.map((h) => h.id));
  const pool = candidates.filter((c) => !held.has(c.id));
  if (pool.length < (options.minimumDistinct ?? 0)) return undefined;
  if (count === 0) return [];
  if (pool.length === 0) return undefined;
  const coldkeys = new Set(holders.flatMap((h) => (h.coldkey === null ? [] : [h.coldkey])));
  const ips = new Set(holders.flatMap((h) => (h.ip === null ? [] : [h.ip])));
  const chosen: PlacementCandidate[] = [];
  const taken = new Set<number>();
  const take = (c: PlacementCandidate) => {
    chosen.push(c);
    taken.add(c.id);
    if (c.coldkey !== null) coldkeys.add(c.coldkey);
    if (c.ip !== null) ips.add(c.ip);
  };
  const newColdkey = (c: PlacementCandidate) => c.coldkey === null || !coldkeys.has(c.coldkey);
  const newIp = (c: PlacementCandidate) => c.ip === null || !ips.has(c.ip);
  const passes: ((c: PlacementCandidate) => boolean)[] = [
    (c) => newColdkey(c) && newIp(c),
    newColdkey,
    newIp,
    () => true,
  ];
  for (const fits of passes) {
    for (const c of pool) {
      if (chosen.length === count) return chosen;
      if (!taken.has(c.id) && fits(c)) take(c);
    }
  }
  // Fewer distinct miners than pieces: double up, in the order chosen.
  const distinct = chosen.length;
  for (let i = 0; chosen.length < count; i++) chosen.push(chosen[i % distinct] as PlacementCandidate);
  return chosen;
}

/** A miner's place among equals for one stripe: the first 48 bits of SHA-256(stripeKey, id). */
function tieRank(stripeKey: string, id: number): number {
  return createHash("sha256").update(`${stripeKey}\u0000${id}`).digest().readUIntBE(0, 6);
}

/**
 * Reorders each run of neighbours in `sorted` that `sameRank` calls equal by a hash of
 * `stripeKey` (one per stripe, e.g. file and stripe index) and the miner id; the order between
 * ranks stays. Deterministic for a given key, and different from stripe to stripe.
 *
 * @example choosePlacement(breakTies(byRoom, (a, b) => a.room === b.room, `${fileId}/${stripe}`), 6)
 */
export function breakTies<C extends PlacementCandidate>(
  sorted: readonly C[],
  sameRank: (a: C, b: C) => boolean,
  stripeKey: string,
): C[] {
  const out: C[] = [];
  let run: C[] = [];
  const flush = () => {
    const ranked = run.map((c) => ({ c, rank: tieRank(stripeKey, c.id) }));
    ranked.sort((a, b) => a.rank - b.rank || a.c.id - b.c.id);
    for (const { c } of ranked) out.push(c);
    run = [];
  };
  for (const c of sorted) {
    const last = run[run.length - 1];
    if (last !== undefined && !sameRank(last, c)) flush();
    run.push(c);
  }
  flush();
  return out;
}
