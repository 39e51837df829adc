/**
 * Per-validator cost budgets: the miner bills each authenticated request by what it costs (bytes
 * read from the store or hashed, see {@link requestCost}) against its sender's hotkey, in a token
 * bucket of its own. A request its bucket cannot pay waits in that hotkey's queue (first in, first
 * out) until the bucket refills, so one validator's flood queues behind its own budget while the
 * others' requests go straight through; past {@link CostBudgetLimits.maxQueued} waiting requests,
 * or {@link CostBudgetLimits.maxWaitMs} of waiting, it is refused (RateLimited).
 *
 * Keyed by hotkey, not peer id: a validator that spreads its requests over many peer ids still
 * pays from one bucket. Only permitted validators (a few dozen at most) get past authentication,
 * so the map of buckets stays small; an idle, full bucket is dropped anyway.
 */

/** The limits of {@link createCostBudgets}. */
export interface CostBudgetLimits {
  /** Cost (bytes read or hashed) one validator may spend per second, sustained. */
  bytesPerSecond: number;
  /** Bucket size: the cost one validator may spend at once. A costlier request waits for a full bucket. */
  burstBytes: number;
  /** Requests one validator may have waiting for its budget; the next is refused. */
  maxQueued: number;
  /** Longest a request waits for its budget before it is refused. */
  maxWaitMs: number;
}

/**
 * Sized for honest validators, against the validator's defaults: a round (every 12 s) fills at
 * most 16 chunks of 1 MiB (billed 32 MiB: hashed and written) and challenges 1 chunk (1–2 MiB; the
 * most `--neuron.chunks_per_challenge` allows, 64 chunks with no tree cached, is 128 MiB). The burst
 * holds the largest such round; the sustained rate is about ten times a default round's average. A
 * hostile validator spending all of it keeps the miner busy about 3–5 % of the time (a 1 MiB chunk
 * row read takes ~0.5–1 ms here), so it cannot starve the others (test/validator-starvation.test.ts).
 */
export const DEFAULT_COST_BUDGET: CostBudgetLimits = {
  bytesPerSecond: 32 << 20,
  burstBytes: 160 << 20,
  maxQueued: 32,
  maxWaitMs: 10_000,
};

export type Admission = { ok: true } | { ok: false; reason: string };

export interface CostBudgets {
  /**
   * Resolves once `hotkey`'s bucket has paid `cost` (queued behind the hotkey's earlier requests),
   * or with a refusal when its queue is full or the wait exceeds `maxWaitMs`.
   */
  acquire(hotkey: string, cost: number): Promise<Admission>;
  /** Requests waiting, over all hotkeys. */
  readonly queued: number;
  /** Refuses every waiting request and stops the timers. */
  close(): void;
}

interface Waiter {
  cost: number;
  resolve: (admission: Admission) => void;
  deadline: number;
}

interface Bucket {
  tokens: number;
  refilledAt: number;
  queue: Waiter[];
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * @example
 * const budgets = createCostBudgets(DEFAULT_COST_BUDGET);
 * const admission = await budgets.acquire(validatorHotkey, requestCost(request, …));
 * if (!admission.ok) return errorReply(request, ErrorCode.RateLimited, admission.reason);
 */
export function createCostBudgets(
  limits: CostBudgetLimits = DEFAULT_COST_BUDGET,
  now: () => number = () => performance.now(),
): CostBudgets {
  const buckets = new Map<string, Bucket>();
  let queued = 0;

  const refill = (bucket: Bucket, at: number): void => {
    bucket.tokens = Math.min(
      limits.burstBytes,
      bucket.tokens + ((at - bucket.refilledAt) / 1000) * limits.bytesPerSecond,
    );
    bucket.refilledAt = at;
  };

  const bucketOf = (hotkey: string): Bucket => {
    let bucket = buckets.get(hotkey);
    if (bucket === undefined) {
      if (buckets.size >= 1_000) prune(now());
      bucket = { tokens: limits.burstBytes, refilledAt: now(), queue: [], timer: undefined };
      buckets.set(hotkey, bucket);
    }
    return bucket;
  };

  const prune = (at: number): void => {
    for (const [hotkey, bucket] of buckets) {
      if (bucket.queue.length > 0) continue;
      refill(bucket, at);
      if (bucket.tokens >= limits.burstBytes) buckets.delete(hotkey);
    }
  };

  /** Admits waiters at the head of the queue that the bucket can pay; schedules the next look. */
  const drain = (bucket: Bucket): void => {
    bucket.timer = undefined;
    const at = now();
    refill(bucket, at);
    for (;;) {
      const head = bucket.queue[0];
      if (head === undefined) return;
      if (head.deadline <= at) {
        bucket.queue.shift();
        queued--;
        head.resolve({ ok: false, reason: "over its cost budget: waited too long" });
        continue;
      }
      if (bucket.tokens < head.cost) break;
      bucket.queue.shift();
      queued--;
      bucket.tokens -= head.cost;
      head.resolve({ ok: true });
    }
    const head = bucket.queue[0] as Waiter;
    const untilPaid = ((head.cost - bucket.tokens) / limits.bytesPerSecond) * 1000;
    const wait = Math.max(1, Math.min(untilPaid, head.deadline - at));
    bucket.timer = setTimeout(() => drain(bucket), wait);
    bucket.timer.unref?.();
  };

  return {
    get queued() {
      return queued;
    },
    acquire(hotkey, cost) {
      const bucket = bucketOf(hotkey);
      const charge = Math.min(Math.max(0, cost), limits.burstBytes);
      const at = now();
      refill(bucket, at);
      if (bucket.queue.length === 0 && bucket.tokens >= charge) {
        bucket.tokens -= charge;
        return Promise.resolve({ ok: true });
      }
      if (bucket.queue.length >= limits.maxQueued) {
        return Promise.resolve({ ok: false, reason: "over its cost budget: too many requests waiting" });
      }
      return new Promise<Admission>((resolve) => {
        bucket.queue.push({ cost: charge, resolve, deadline: at + limits.maxWaitMs });
        queued++;
        if (bucket.timer === undefined) drain(bucket);
      });
    },
    close() {
      for (const bucket of buckets.values()) {
        if (bucket.timer !== undefined) clearTimeout(bucket.timer);
        for (const waiter of bucket.queue) waiter.resolve({ ok: false, reason: "the miner is stopping" });
        bucket.queue.length = 0;
      }
      queued = 0;
      buckets.clear();
    },
  };
}
