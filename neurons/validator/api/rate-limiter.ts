/**
 * Token buckets keyed by who pays (a hotkey, an IP): each refills at `rate` tokens per second up
 * to `burst`. A bucket refilled to full is forgotten, so memory follows the clients active in the
 * last `burst / rate` seconds; past `maxKeys` live buckets a new key is refused rather than the
 * map grown.
 */

export interface RateLimiterInit {
  rate: number;
  burst: number;
  maxKeys: number;
  /** Clock in ms; default performance.now. */
  now?: () => number;
}

/** Taken, or refused with the seconds until a token is there. */
export type RateDecision = { ok: true } | { ok: false; retryAfterSeconds: number };

export interface RateLimiter {
  /** Takes one token from `key`'s bucket. */
  take(key: string): RateDecision;
  /** Whether `key`'s bucket has a token, without taking it. */
  has(key: string): boolean;
  /** Buckets remembered now. */
  readonly size: number;
}

interface Bucket {
  tokens: number;
  refilledAt: number;
}

/**
 * @example
 * const limiter = createRateLimiter({ rate: 50, burst: 100, maxKeys: 100_000 });
 * if (!limiter.take(hotkey).ok) reply429();
 */
export function createRateLimiter(init: RateLimiterInit): RateLimiter {
  const now = init.now ?? (() => performance.now());
  const buckets = new Map<string, Bucket>();
  // A full map is swept at most once a second, so a flood of new keys costs one sweep, not one each.
  let sweptAt = Number.NEGATIVE_INFINITY;
  const refill = (bucket: Bucket, at: number): void => {
    bucket.tokens = Math.min(init.burst, bucket.tokens + ((at - bucket.refilledAt) / 1000) * init.rate);
    bucket.refilledAt = at;
  };
  const sweep = (at: number): void => {
    for (const [key, bucket] of buckets) {
      refill(bucket, at);
      if (bucket.tokens >= init.burst) buckets.delete(key);
    }
  };
  const retryAfter = (bucket: Bucket): number => Math.max(1, Math.ceil((1 - bucket.tokens) / init.rate));
  return {
    get size() {
      return buckets.size;
    },
    has(key) {
      const bucket = buckets.get(key);
      if (bucket === undefined) return true;
      refill(bucket, now());
      return bucket.tokens >= 1;
    },
    take(key) {
      const at = now();
      let bucket = buckets.get(key);
      if (bucket === undefined) {
        if (buckets.size >= init.maxKeys && at - sweptAt >= 1000) {
          sweep(at);
          sweptAt = at;
        }
        if (buckets.size >= init.maxKeys) return { ok: false, retryAfterSeconds: 1 };
        bucket = { tokens: init.burst, refilledAt: at };
        buckets.set(key, bucket);
      }
      refill(bucket, at);
      if (bucket.tokens < 1) return { ok: false, retryAfterSeconds: retryAfter(bucket) };
      bucket.tokens -= 1;
      return { ok: true };
    },
  };
}
