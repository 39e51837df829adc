/**
 * A bandwidth bound for background reads (repair): a token bucket holding one second of bytes.
 * Each read is paid after it arrives; when the reads run ahead of the rate by more than the
 * bucket, the next one waits until they no longer do.
 */

export interface ByteThrottleInit {
  bytesPerSecond: number;
  now: () => number;
  /** Waits `ms` milliseconds (default setTimeout); tests pass a recorder. */
  sleep?: (ms: number) => Promise<void>;
}

/** Pays for `bytes` just read; resolves when the next read may start. */
export type ByteThrottle = (bytes: number) => Promise<void>;

/**
 * @example
 * const throttle = createByteThrottle({ bytesPerSecond: 16 << 20, now: Date.now });
 * await throttle(piece.length);
 */
export function createByteThrottle(init: ByteThrottleInit): ByteThrottle {
  const { bytesPerSecond, now } = init;
  const sleep = init.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  /** When the bytes paid so far are spent at the rate. */
  let spentAt = Number.NEGATIVE_INFINITY;
  return async (bytes) => {
    const at = now();
    spentAt = Math.max(spentAt, at) + (bytes / bytesPerSecond) * 1000;
    // One second of bytes may be in advance of the rate (the bucket); past it, wait.
    const wait = spentAt - at - 1000;
    if (wait > 0) await sleep(wait);
  };
}
