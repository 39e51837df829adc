/** The repair bandwidth bound: one second of bytes at once, then the rate. */
import { describe, expect, it } from "vitest";
import { createByteThrottle } from "../neurons/validator/storage/byte-throttle.js";

describe("createByteThrottle", () => {
  it("lets a second of bytes through at once, then holds reads to the rate", async () => {
    let clock = 0;
    const waits: number[] = [];
    const throttle = createByteThrottle({
      bytesPerSecond: 1000,
      now: () => clock,
      sleep: async (ms) => {
        waits.push(ms);
        clock += ms;
      },
    });
    await throttle(1000); // the bucket
    expect(waits).toEqual([]);
    for (let i = 0; i < 5; i++) await throttle(1000);
    // Five more seconds of bytes read back to back: each waits a second.
    expect(waits).toEqual([1000, 1000, 1000, 1000, 1000]);
    expect(clock).toBe(5000);
    // An idle spell refills the bucket (to one second, no more).
    clock += 10_000;
    waits.length = 0;
    await throttle(1000);
    await throttle(500);
    expect(waits).toEqual([500]);
  });
});
