/**
 * The fast mode's random numbers: mulberry32, a 32-bit generator small enough to inline and good
 * enough for Monte-Carlo outcomes (https://gist.github.com/tommyettinger/46a874533244883189143505d203312c).
 * Everything a run draws comes from one generator made from the run's seed, so a seed replays it.
 */

/** A source of uniform numbers in [0, 1) with a couple of derived distributions. */
export interface Prng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Standard normal (Box–Muller; one value per call, the pair's second half is dropped). */
  normal(): number;
  /** Log-normal with the given median and log-space sigma. */
  logNormal(median: number, sigma: number): number;
}

/**
 * Makes a generator from a 32-bit seed.
 *
 * @example createPrng(7).next() === createPrng(7).next() // true
 */
export function createPrng(seed: number): Prng {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = (): number => {
    const u = 1 - next();
    const v = next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  return {
    next,
    normal,
    logNormal: (median, sigma) => median * Math.exp(sigma * normal()),
  };
}
